/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Internal to tourguidesink (not registered): routes the RTP of the guide's
 * encoder ladder, one sink pad per quality level in use, to one src pad per
 * attendee, each following the level chosen for it (tourcast::LadderSwitch). */
#define TOUR_TYPE_LEVEL_ROUTER (tour_level_router_get_type())
G_DECLARE_FINAL_TYPE(TourLevelRouter, tour_level_router, TOUR, LEVEL_ROUTER, GstElement)

/* Called from the streaming thread, without the router's lock, when an
 * output started following another level. */
typedef void (*TourLevelSwitchedFunc)(TourLevelRouter *router, GstPad *output, int from, int to,
                                      gpointer user_data);

TourLevelRouter *tour_level_router_new(TourLevelSwitchedFunc on_switched, gpointer user_data);

/* A sink pad for the packets of one level's payloader. Returns a new
 * reference; release it with gst_element_release_request_pad(). */
GstPad *tour_level_router_add_level(TourLevelRouter *router, int level);

/* A src pad that carries `level` until told otherwise. New reference. */
GstPad *tour_level_router_add_output(TourLevelRouter *router, int level);

/* The output moves to `level` at the next packet boundary once that level's
 * encoder produces packets. */
void tour_level_router_request_level(TourLevelRouter *router, GstPad *output, int level);

/* Bit `1 << level` set for every level an output follows or is about to:
 * the encoders the ladder must keep running. */
guint tour_level_router_levels_in_use(TourLevelRouter *router);

/* Bit `1 << level` set for every level that has a sink pad. */
guint tour_level_router_levels_present(TourLevelRouter *router);

G_END_DECLS
