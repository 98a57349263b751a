/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <agent.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/* The receive source of a peer on a shared ICE agent, in place of libnice's
 * nicesrc: no thread of its own. nicesrc is a GstPushSrc whose streaming
 * thread runs a main loop that nice_agent_attach_recv delivers to, one thread
 * per peer; this element attaches on the shared agent's main context instead
 * and pushes each datagram downstream from the agent's thread. The guide
 * receives only DTLS records and RTCP there, a few packets a second per peer;
 * a datagram is dropped, not waited for, when the queue downstream is full.
 *
 * webrtcbin 1.22's transportreceivebin adds and links the ICE transport's
 * `src` and sets it PLAYING, locked, at its NULL->READY; the element attaches
 * at READY->PAUSED and detaches at PAUSED->READY (and on dispose), after which
 * libnice never calls it again. */
#define TOUR_TYPE_SHARED_ICE_SRC (tour_shared_ice_src_get_type())
G_DECLARE_FINAL_TYPE(TourSharedIceSrc, tour_shared_ice_src, TOUR, SHARED_ICE_SRC, GstElement)

/* A floating element, as gst_element_factory_make gives: @context is the
 * shared agent's (the thread that runs it calls the element). */
GstElement *tour_shared_ice_src_new(NiceAgent *agent, guint stream_id, guint component_id,
                                    GMainContext *context);

G_END_DECLS
