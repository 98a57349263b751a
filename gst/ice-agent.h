/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

/* libnice probes UPnP by default: it multicasts SSDP on every interface, which is slow,
 * noisy, and of no use to tourcast. `ice` is webrtcbin's "ice-agent". Header-only, so the
 * tools and benchmarks (which do not link the plugin) share it. */
static inline void tour_ice_agent_disable_upnp(GObject *ice) {
  if (ice == NULL || !g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
    return;
  GObject *agent = NULL;
  g_object_get(ice, "agent", &agent, NULL);
  if (agent) {
    g_object_set(agent, "upnp", FALSE, NULL);
    g_object_unref(agent);
  }
}

/* A plain webrtcbin (the benchmarks' naive baseline) gathering on @address only, UPnP off.
 * FALSE if it has no ICE agent or libnice refused the address. */
static inline gboolean tour_webrtcbin_use_address(GObject *webrtc, const char *address) {
  GObject *ice = NULL;
  g_object_get(webrtc, "ice-agent", &ice, NULL); /* a full reference: never ref_sink it */
  if (ice == NULL)
    return FALSE;
  gboolean added = FALSE;
  g_signal_emit_by_name(ice, "add-local-ip-address", address, &added);
  tour_ice_agent_disable_upnp(ice);
  g_object_unref(ice);
  return added;
}
