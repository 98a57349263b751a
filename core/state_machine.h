// Connection lifecycle of one WebRTC peer (guide side or attendee side).
//
// The glue code feeds webrtcbin/signaling events in as transitions; the machine refuses
// moves that make no sense, owns the per-state timeouts and says what must be torn down
// on failure or close. It never reads a clock: every call takes the current time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tourcast {

enum class ConnectionState {
  kInitializing,
  kSignaling,
  kIceGathering,
  kIceExchange,
  kConnecting,
  kConnected,
  kReconnecting,
  kFailed,
  kClosed,
};
constexpr int kConnectionStateCount = 9;

// "initializing", "signaling", "ice_gathering", "ice_exchange", "connecting", "connected",
// "reconnecting", "failed", "closed".
const char *to_string(ConnectionState state);
bool connection_state_from_string(std::string_view text, ConnectionState *out);

enum class CleanupAction {
  kCancelTimeout,
  kDiscardIceBuffer,
  kClosePeerConnection,
  kLeaveSignaling
};
// "cancel_timeout", "discard_ice_buffer", "close_peer_connection", "leave_signaling".
const char *to_string(CleanupAction action);

struct StateTransition {
  ConnectionState from = ConnectionState::kInitializing;
  ConnectionState to = ConnectionState::kInitializing;
  std::string reason;
  int64_t at_ms = 0;
  bool by_timeout = false;
};

class ConnectionStateMachine {
 public:
  explicit ConnectionStateMachine(int64_t now_ms);

  ConnectionState state() const { return state_; }
  int64_t entered_at_ms() const { return entered_at_ms_; }

  // Same-state moves are illegal. why_not may be nullptr.
  static bool is_legal(ConnectionState from, ConnectionState to, std::string *why_not);

  // On an illegal move the state is unchanged and *error reads
  // "illegal transition <from> -> <to>: <why>". out and error may be nullptr.
  bool transition(ConnectionState to, std::string reason, int64_t now_ms, StateTransition *out,
                  std::string *error);

  // webrtcbin reports gathering/connection progress in a racy order, so glue code only ever
  // wants to move forward along initializing < signaling < ice_gathering < ice_exchange <
  // connecting < connected. Returns false (no error, state unchanged) when the current state
  // is already at or past `to`, or the move is illegal. A target off that path (reconnecting,
  // failed, closed) is a plain transition that returns false when illegal.
  bool advance_to(ConnectionState to, std::string reason, int64_t now_ms, StateTransition *out);

  // ms <= 0 disables the timeout of that state. Applies to the current state immediately.
  void set_timeout_ms(ConnectionState state, int64_t ms);
  int64_t timeout_ms(ConnectionState state) const;
  // initializing/signaling/ice_gathering -> failed; ice_exchange/connecting/connected ->
  // reconnecting; reconnecting -> failed; failed -> closed. closed never times out (returns
  // closed).
  static ConnectionState timeout_target(ConnectionState state);
  // While the machine is in `state`, that state's timeout counts again from now_ms, and lasts
  // at least at_least_ms: the other side says it is alive and working on it (a guide that
  // queued the attendee's join during a join storm, and says when it will speak again). The
  // state and entered_at_ms() stay; entering any state forgets the extension. Returns false,
  // changing nothing, in any other state or when `state` has no timeout.
  bool extend_timeout(ConnectionState state, int64_t now_ms, int64_t at_least_ms = 0);
  // Absolute deadline of the current state, or -1 when it has no timeout.
  int64_t deadline_ms() const;
  // When now_ms >= deadline_ms(), moves to timeout_target() with reason
  // "timeout after <N> ms in <state>" and by_timeout = true, and returns true.
  bool check_timeout(int64_t now_ms, StateTransition *out);

  // What the glue must undo on entering `entered`; empty except for failed and closed.
  static std::vector<CleanupAction> cleanup_actions_for(ConnectionState entered);

 private:
  void enter(ConnectionState to, std::string reason, int64_t now_ms, bool by_timeout,
             StateTransition *out);

  ConnectionState state_ = ConnectionState::kInitializing;
  int64_t entered_at_ms_ = 0;
  int64_t timeout_from_ms_ = 0;  // entered_at_ms_, or the last extend_timeout
  int64_t extended_to_ms_ = 0;   // at_least_ms of the last extend_timeout
  int64_t timeouts_ms_[kConnectionStateCount];
};

}  // namespace tourcast
