/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/ice.h>

G_BEGIN_DECLS

/* One libnice agent, with the one thread that runs its main context, for many
 * webrtcbins (the guide's peers it offers to). webrtcbin 1.22 makes a
 * GstWebRTCNice, so an agent and a thread, per peer; one GstWebRTCNice cannot
 * be given to several webrtcbins (one on-candidate callback, streams keyed by
 * webrtcbin's session ids, which are 0 in every bundled webrtcbin). So each
 * webrtcbin gets its own TourSharedIcePeer (a GstWebRTCICE: its "ice-agent"),
 * whose streams are streams of this agent and whose candidates are routed to
 * it by libnice stream id.
 *
 * The agent is ICE-controlling (the guide offers), so only offering peers may
 * use it. What libnice keeps per agent is shared by all of them: the local
 * addresses, UPnP (off), the check pacing timer Ta (one check per Ta for the
 * whole agent, so Ta is set lower than libnice's 20 ms: see shared-ice.cpp;
 * tourguidesink keeps a few peers per agent, ice-agent-peers) and the check
 * timeout derived from it, which stays libnice's for every peer (see
 * core/check_timeout.h, check_timeout_for_agent).
 * Each peer's transport receives through a TourSharedIceSrc on the agent's
 * thread instead of a nicesrc with a thread of its own (shared-ice-src.h). */
#define TOUR_TYPE_SHARED_ICE_AGENT (tour_shared_ice_agent_get_type())
G_DECLARE_FINAL_TYPE(TourSharedIceAgent, tour_shared_ice_agent, TOUR, SHARED_ICE_AGENT,
                     GstWebRTCICE)

/* The agent's thread is named @name (15 characters show in /proc). With
 * @aggressive_nomination every check of the agent carries USE-CANDIDATE
 * (RFC 5245 aggressive nomination), otherwise a pair is nominated by a
 * second check once a first succeeded (regular nomination, webrtcbin 1.22's
 * choice). libnice fixes the mode when the agent is made. */
TourSharedIceAgent *tour_shared_ice_agent_new(const gchar *name, gboolean aggressive_nomination);

/* Whether @agent's checks all carry USE-CANDIDATE (see tour_shared_ice_agent_new). */
gboolean tour_shared_ice_agent_nominates_aggressively(TourSharedIceAgent *agent);

/* Streams the agent has now (a departed peer's are removed): for tests. */
guint tour_shared_ice_agent_get_stream_count(TourSharedIceAgent *agent);

#define TOUR_TYPE_SHARED_ICE_PEER (tour_shared_ice_peer_get_type())
G_DECLARE_FINAL_TYPE(TourSharedIcePeer, tour_shared_ice_peer, TOUR, SHARED_ICE_PEER, GstWebRTCICE)

/* A new "ice-agent" for one webrtcbin, on @agent's agent and thread. Its
 * streams are removed from the agent when it is finalized (with the webrtcbin). */
GstWebRTCICE *tour_shared_ice_peer_new(TourSharedIceAgent *agent);

/* Called on the agent's thread when the first connectivity check from the
 * remote side of one of @peer's streams arrives (libnice's
 * initial-binding-request-received, routed to the peer whose stream it is).
 * Never called after the peer is finalized. */
typedef void (*TourSharedIceFirstCheckFunc)(GstWebRTCICE *peer, gpointer user_data);
void tour_shared_ice_peer_set_on_first_check(GstWebRTCICE *peer, TourSharedIceFirstCheckFunc func,
                                             gpointer user_data, GDestroyNotify notify);

G_END_DECLS
