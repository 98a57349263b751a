/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

G_BEGIN_DECLS

/**
 * TourRole:
 * @TOUR_ROLE_GUIDE: the one who speaks; sends an offer to every attendee
 * @TOUR_ROLE_ATTENDEE: a listener; answers the guide's offer
 */
typedef enum {
  TOUR_ROLE_GUIDE = 0,
  TOUR_ROLE_ATTENDEE = 1,
} TourRole;

#define TOUR_TYPE_ROLE (tour_role_get_type())
GType tour_role_get_type(void);

#define TOUR_TYPE_SIGNALLER (tour_signaller_get_type())
G_DECLARE_INTERFACE(TourSignaller, tour_signaller, TOUR, SIGNALLER, GObject)

/**
 * TourSignallerInterface:
 * @start: connect and announce this participant; %FALSE with @error when the
 *   configuration cannot work (bad names, bad URL). Failures found later
 *   (server unreachable) are reported through the #TourSignaller::error signal.
 * @stop: say goodbye and disconnect; returns once the goodbye was written or a
 *   bounded wait ran out.
 * @send_sdp: deliver a local offer or answer to @peer_id for @session_id.
 * @add_ice: deliver a local candidate to @peer_id for @session_id.
 * @report_status: record a peer connection's state (a ConnectionState name,
 *   such as "connected") and whether local gathering is complete.
 * @end_session: the session with @peer_id is over (peer gone or torn down).
 * @request_recovery: an attendee asks for recovery of its connection at
 *   @level ("ice_restart", "signaling_reset" or "full_reconnect"):
 *   the first two reach the guide as #TourSignaller::recovery-requested for
 *   @peer_id / @session_id; "full_reconnect" joins the channel again with a
 *   new join id, so the guide builds a new peer connection.
 *
 * Every vfunc is also an action signal of the same name, so applications and
 * bindings can drive a signaller without linking to tourcast. Implementations
 * emit #TourSignaller::peer-joined, #TourSignaller::peer-left,
 * #TourSignaller::session-description, #TourSignaller::handle-ice,
 * #TourSignaller::recovery-requested, #TourSignaller::error and
 * #TourSignaller::warning from their own thread.
 */
struct _TourSignallerInterface {
  GTypeInterface parent_iface;

  gboolean (*start)(TourSignaller *self, GError **error);
  void (*stop)(TourSignaller *self);
  void (*send_sdp)(TourSignaller *self, const gchar *peer_id, const gchar *session_id,
                   GstWebRTCSessionDescription *sdp);
  void (*add_ice)(TourSignaller *self, const gchar *peer_id, const gchar *session_id, guint mline,
                  const gchar *candidate);
  void (*report_status)(TourSignaller *self, const gchar *peer_id, const gchar *state,
                        gboolean ice_gathering_complete);
  void (*end_session)(TourSignaller *self, const gchar *peer_id, const gchar *session_id);
  /* Optional: publishes the guide's diagnostic report (JSON) of its channel. */
  void (*report_channel)(TourSignaller *self, const gchar *json);
  void (*request_recovery)(TourSignaller *self, const gchar *peer_id, const gchar *session_id,
                           const gchar *level);
};

gboolean tour_signaller_start(TourSignaller *self, GError **error);
void tour_signaller_stop(TourSignaller *self);
void tour_signaller_send_sdp(TourSignaller *self, const gchar *peer_id, const gchar *session_id,
                             GstWebRTCSessionDescription *sdp);
void tour_signaller_add_ice(TourSignaller *self, const gchar *peer_id, const gchar *session_id,
                            guint mline, const gchar *candidate);
void tour_signaller_report_status(TourSignaller *self, const gchar *peer_id, const gchar *state,
                                  gboolean ice_gathering_complete);
void tour_signaller_end_session(TourSignaller *self, const gchar *peer_id, const gchar *session_id);
void tour_signaller_report_channel(TourSignaller *self, const gchar *json);
void tour_signaller_request_recovery(TourSignaller *self, const gchar *peer_id,
                                     const gchar *session_id, const gchar *level);

/* For implementations: emit the interface's notifications. */
void tour_signaller_emit_peer_joined(TourSignaller *self, const gchar *peer_id,
                                     const gchar *join_id);
void tour_signaller_emit_peer_offered(TourSignaller *self, const gchar *peer_id,
                                      const gchar *session_id, const gchar *sdp);
void tour_signaller_emit_peer_left(TourSignaller *self, const gchar *peer_id);
void tour_signaller_emit_peer_status(TourSignaller *self, const gchar *peer_id,
                                     const GstStructure *status);
void tour_signaller_emit_session_description(TourSignaller *self, const gchar *peer_id,
                                             const gchar *session_id,
                                             GstWebRTCSessionDescription *sdp);
void tour_signaller_emit_handle_ice(TourSignaller *self, const gchar *peer_id,
                                    const gchar *session_id, guint mline, const gchar *candidate);
void tour_signaller_emit_recovery_requested(TourSignaller *self, const gchar *peer_id,
                                            const gchar *session_id, const gchar *level);
void tour_signaller_emit_error(TourSignaller *self, const gchar *message);
void tour_signaller_emit_warning(TourSignaller *self, const gchar *message);
void tour_signaller_emit_info(TourSignaller *self, const gchar *what, const GstStructure *details);

#define TOUR_SIGNALLER_ERROR (tour_signaller_error_quark())
GQuark tour_signaller_error_quark(void);
typedef enum {
  TOUR_SIGNALLER_ERROR_INVALID_SETTING,
} TourSignallerError;

G_END_DECLS
