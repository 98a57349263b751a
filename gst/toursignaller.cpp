/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "toursignaller.h"

GType tour_role_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {TOUR_ROLE_GUIDE, "Guide: offers audio to every attendee", "guide"},
      {TOUR_ROLE_ATTENDEE, "Attendee: listens to the guide", "attendee"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    GType t = g_enum_register_static("TourRole", values);
    g_once_init_leave(&type, t);
  }
  return type;
}

// clang-format off
G_DEFINE_QUARK(tour-signaller-error-quark, tour_signaller_error)
// clang-format on

G_DEFINE_INTERFACE(TourSignaller, tour_signaller, G_TYPE_OBJECT)

enum {
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_PEER_STATUS,
  SIGNAL_PEER_OFFERED,
  SIGNAL_SESSION_DESCRIPTION,
  SIGNAL_HANDLE_ICE,
  SIGNAL_ERROR,
  SIGNAL_WARNING,
  SIGNAL_INFO,
  SIGNAL_ACTION_START,
  SIGNAL_ACTION_STOP,
  SIGNAL_ACTION_SEND_SDP,
  SIGNAL_ACTION_ADD_ICE,
  SIGNAL_ACTION_REPORT_STATUS,
  SIGNAL_ACTION_END_SESSION,
  SIGNAL_ACTION_REPORT_CHANNEL,
  SIGNAL_RECOVERY_REQUESTED,
  SIGNAL_ACTION_REQUEST_RECOVERY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static gboolean action_start(TourSignaller *self) {
  GError *error = nullptr;
  gboolean ok = tour_signaller_start(self, &error);
  if (!ok) {
    tour_signaller_emit_error(self, error ? error->message : "start failed");
    g_clear_error(&error);
  }
  return ok;
}

static void tour_signaller_default_init(TourSignallerInterface *iface) {
  GType type = G_TYPE_FROM_INTERFACE(iface);

  /**
   * TourSignaller:role:
   *
   * Whether this participant is the channel's guide or an attendee.
   */
  g_object_interface_install_property(
      iface,
      g_param_spec_enum(
          "role", "Role", "Whether this participant is the channel's guide or an attendee",
          TOUR_TYPE_ROLE, TOUR_ROLE_ATTENDEE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  /**
   * TourSignaller:participant-id:
   *
   * This participant's id in the channel; 1-64 letters, digits, '-', '_' or '.'.
   */
  g_object_interface_install_property(
      iface, g_param_spec_string("participant-id", "Participant id",
                                 "This participant's id in the channel (1-64 letters, digits, "
                                 "'-', '_' or '.'); NULL picks one at start",
                                 nullptr,
                                 (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                               GST_PARAM_MUTABLE_READY)));

  /**
   * TourSignaller::peer-joined:
   * @peer_id: the attendee that wants to listen
   * @join_id: changes when the same attendee id joins again (a restart)
   */
  signals[SIGNAL_PEER_JOINED] =
      g_signal_new("peer-joined", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
                   G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * TourSignaller::peer-left:
   * @peer_id: the participant that said goodbye or expired
   */
  /**
   * TourSignaller::peer-offered:
   * @peer_id: a participant that joins with an offer of its own (a browser over WHEP)
   * @session_id: the peer connection the offer opens
   * @sdp: the offer, as SDP text
   *
   * The guide answers it instead of offering.
   */
  signals[SIGNAL_PEER_OFFERED] =
      g_signal_new("peer-offered", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
                   G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_PEER_LEFT] = g_signal_new("peer-left", type, G_SIGNAL_RUN_LAST, 0, nullptr,
                                           nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * TourSignaller::peer-status:
   * @peer_id: the attendee
   * @status: `tourcast-peer-status` with `profile` (string, as the attendee
   *   stated it; absent when it stated none), `battery-saving` (boolean) and
   *   `requested-level` (a level name the attendee asks to be held at; absent
   *   when it leaves the choice to the guide)
   *
   * What an attendee says about itself, on joining and whenever it changes.
   */
  signals[SIGNAL_PEER_STATUS] =
      g_signal_new("peer-status", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
                   G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_STRUCTURE);
  /**
   * TourSignaller::session-description:
   * @peer_id: who sent it
   * @session_id: the peer connection it belongs to
   * @sdp: the remote offer or answer
   */
  signals[SIGNAL_SESSION_DESCRIPTION] = g_signal_new(
      "session-description", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE, 3,
      G_TYPE_STRING, G_TYPE_STRING, GST_TYPE_WEBRTC_SESSION_DESCRIPTION);
  /**
   * TourSignaller::handle-ice:
   * @peer_id: who sent it
   * @session_id: the peer connection it belongs to
   * @mline: the media line index
   * @candidate: the remote candidate, in sequence order
   */
  signals[SIGNAL_HANDLE_ICE] =
      g_signal_new("handle-ice", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE,
                   4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT, G_TYPE_STRING);
  /**
   * TourSignaller::error:
   * @message: what failed, in words a user can act on
   *
   * The signaller cannot go on (for example Redis unreachable after its retries).
   */
  signals[SIGNAL_ERROR] = g_signal_new("error", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
                                       nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * TourSignaller::warning:
   * @message: what went wrong; the signaller goes on
   */
  signals[SIGNAL_WARNING] = g_signal_new("warning", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
                                         nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * TourSignaller::info:
   * @what: the kind of event, e.g. "offer-stored"
   * @details: its fields
   */
  signals[SIGNAL_INFO] = g_signal_new("info", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
                                      G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_STRUCTURE);

  /**
   * TourSignaller::recovery-requested:
   * @peer_id: the attendee asking
   * @session_id: its peer connection
   * @level: "ice_restart" or "signaling_reset"
   *
   * On the guide: an attendee lost its media and asks for a cheap recovery.
   */
  signals[SIGNAL_RECOVERY_REQUESTED] =
      g_signal_new("recovery-requested", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
                   G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  signals[SIGNAL_ACTION_START] = g_signal_new_class_handler(
      "start", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION), G_CALLBACK(action_start),
      nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 0);
  signals[SIGNAL_ACTION_STOP] = g_signal_new_class_handler(
      "stop", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(tour_signaller_stop), nullptr, nullptr, nullptr, G_TYPE_NONE, 0);
  signals[SIGNAL_ACTION_SEND_SDP] = g_signal_new_class_handler(
      "send-sdp", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(tour_signaller_send_sdp), nullptr, nullptr, nullptr, G_TYPE_NONE, 3, G_TYPE_STRING,
      G_TYPE_STRING, GST_TYPE_WEBRTC_SESSION_DESCRIPTION);
  signals[SIGNAL_ACTION_ADD_ICE] = g_signal_new_class_handler(
      "add-ice", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(tour_signaller_add_ice), nullptr, nullptr, nullptr, G_TYPE_NONE, 4, G_TYPE_STRING,
      G_TYPE_STRING, G_TYPE_UINT, G_TYPE_STRING);
  signals[SIGNAL_ACTION_REPORT_STATUS] = g_signal_new_class_handler(
      "report-status", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(tour_signaller_report_status), nullptr, nullptr, nullptr, G_TYPE_NONE, 3,
      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[SIGNAL_ACTION_END_SESSION] = g_signal_new_class_handler(
      "end-session", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(tour_signaller_end_session), nullptr, nullptr, nullptr, G_TYPE_NONE, 2,
      G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_ACTION_REPORT_CHANNEL] = g_signal_new_class_handler(
      "report-channel", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(tour_signaller_report_channel), nullptr, nullptr, nullptr, G_TYPE_NONE, 1,
      G_TYPE_STRING);
  signals[SIGNAL_ACTION_REQUEST_RECOVERY] = g_signal_new_class_handler(
      "request-recovery", type, (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(tour_signaller_request_recovery), nullptr, nullptr, nullptr, G_TYPE_NONE, 3,
      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

gboolean tour_signaller_start(TourSignaller *self, GError **error) {
  g_return_val_if_fail(TOUR_IS_SIGNALLER(self), FALSE);
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  g_return_val_if_fail(iface->start != nullptr, FALSE);
  return iface->start(self, error);
}

void tour_signaller_stop(TourSignaller *self) {
  g_return_if_fail(TOUR_IS_SIGNALLER(self));
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  if (iface->stop)
    iface->stop(self);
}

void tour_signaller_send_sdp(TourSignaller *self, const gchar *peer_id, const gchar *session_id,
                             GstWebRTCSessionDescription *sdp) {
  g_return_if_fail(TOUR_IS_SIGNALLER(self));
  g_return_if_fail(peer_id != nullptr && session_id != nullptr && sdp != nullptr);
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  g_return_if_fail(iface->send_sdp != nullptr);
  iface->send_sdp(self, peer_id, session_id, sdp);
}

void tour_signaller_add_ice(TourSignaller *self, const gchar *peer_id, const gchar *session_id,
                            guint mline, const gchar *candidate) {
  g_return_if_fail(TOUR_IS_SIGNALLER(self));
  g_return_if_fail(peer_id != nullptr && session_id != nullptr && candidate != nullptr);
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  g_return_if_fail(iface->add_ice != nullptr);
  iface->add_ice(self, peer_id, session_id, mline, candidate);
}

void tour_signaller_report_status(TourSignaller *self, const gchar *peer_id, const gchar *state,
                                  gboolean ice_gathering_complete) {
  g_return_if_fail(TOUR_IS_SIGNALLER(self));
  g_return_if_fail(peer_id != nullptr && state != nullptr);
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  if (iface->report_status)
    iface->report_status(self, peer_id, state, ice_gathering_complete);
}

void tour_signaller_end_session(TourSignaller *self, const gchar *peer_id,
                                const gchar *session_id) {
  g_return_if_fail(TOUR_IS_SIGNALLER(self));
  g_return_if_fail(peer_id != nullptr);
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  if (iface->end_session)
    iface->end_session(self, peer_id, session_id ? session_id : "");
}

void tour_signaller_request_recovery(TourSignaller *self, const gchar *peer_id,
                                     const gchar *session_id, const gchar *level) {
  g_return_if_fail(TOUR_IS_SIGNALLER(self));
  g_return_if_fail(peer_id != nullptr && level != nullptr);
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  if (iface->request_recovery)
    iface->request_recovery(self, peer_id, session_id ? session_id : "", level);
}

void tour_signaller_emit_recovery_requested(TourSignaller *self, const gchar *peer_id,
                                            const gchar *session_id, const gchar *level) {
  g_signal_emit(self, signals[SIGNAL_RECOVERY_REQUESTED], 0, peer_id, session_id, level);
}

void tour_signaller_emit_peer_joined(TourSignaller *self, const gchar *peer_id,
                                     const gchar *join_id) {
  g_signal_emit(self, signals[SIGNAL_PEER_JOINED], 0, peer_id, join_id);
}

void tour_signaller_report_channel(TourSignaller *self, const gchar *json) {
  g_return_if_fail(TOUR_IS_SIGNALLER(self));
  g_return_if_fail(json != nullptr);
  TourSignallerInterface *iface = TOUR_SIGNALLER_GET_IFACE(self);
  if (iface->report_channel)
    iface->report_channel(self, json);
}

void tour_signaller_emit_peer_status(TourSignaller *self, const gchar *peer_id,
                                     const GstStructure *status) {
  g_signal_emit(self, signals[SIGNAL_PEER_STATUS], 0, peer_id, status);
}

void tour_signaller_emit_peer_offered(TourSignaller *self, const gchar *peer_id,
                                      const gchar *session_id, const gchar *sdp) {
  g_signal_emit(self, signals[SIGNAL_PEER_OFFERED], 0, peer_id, session_id, sdp);
}

void tour_signaller_emit_peer_left(TourSignaller *self, const gchar *peer_id) {
  g_signal_emit(self, signals[SIGNAL_PEER_LEFT], 0, peer_id);
}

void tour_signaller_emit_session_description(TourSignaller *self, const gchar *peer_id,
                                             const gchar *session_id,
                                             GstWebRTCSessionDescription *sdp) {
  g_signal_emit(self, signals[SIGNAL_SESSION_DESCRIPTION], 0, peer_id, session_id, sdp);
}

void tour_signaller_emit_handle_ice(TourSignaller *self, const gchar *peer_id,
                                    const gchar *session_id, guint mline, const gchar *candidate) {
  g_signal_emit(self, signals[SIGNAL_HANDLE_ICE], 0, peer_id, session_id, mline, candidate);
}

void tour_signaller_emit_error(TourSignaller *self, const gchar *message) {
  g_signal_emit(self, signals[SIGNAL_ERROR], 0, message);
}

void tour_signaller_emit_warning(TourSignaller *self, const gchar *message) {
  g_signal_emit(self, signals[SIGNAL_WARNING], 0, message);
}

void tour_signaller_emit_info(TourSignaller *self, const gchar *what, const GstStructure *details) {
  g_signal_emit(self, signals[SIGNAL_INFO], 0, what, details);
}
