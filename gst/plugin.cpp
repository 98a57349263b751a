/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>

#include "tourattendeesrc.h"
#include "tourguidesink.h"
#include "touropusadapter.h"
#include "tourqualitymonitor.h"
#include "tourrecoverybin.h"
#include "tourredissignaller.h"
#include "tourwebrtcbin.h"

GST_DEBUG_CATEGORY_EXTERN(tour_redis_debug);

static gboolean plugin_init(GstPlugin *plugin) {
  GST_DEBUG_CATEGORY_INIT(tour_redis_debug, "tourredissignaller", 0, "tourcast Redis signaller");
  gst_type_mark_as_plugin_api(TOUR_TYPE_SIGNALLER, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api(TOUR_TYPE_REDIS_SIGNALLER, (GstPluginAPIFlags)0);
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(tourwebrtcbin, plugin);
  ok |= GST_ELEMENT_REGISTER(tourguidesink, plugin);
  ok |= GST_ELEMENT_REGISTER(tourattendeesrc, plugin);
  ok |= GST_ELEMENT_REGISTER(tourqualitymonitor, plugin);
  ok |= GST_ELEMENT_REGISTER(touropusadapter, plugin);
  ok |= GST_ELEMENT_REGISTER(tourrecoverybin, plugin);
  return ok;
}

#define PACKAGE "tourcast"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, tourcast,
                  "Live one-to-many audio over WebRTC for tour guides and interpreters",
                  plugin_init, TOURCAST_VERSION, "LGPL", "tourcast", "https://tourcast.invalid")
