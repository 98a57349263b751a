#include "state_machine.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace tourcast {
namespace {

using S = ConnectionState;

constexpr int index_of(S state) {
  return static_cast<int>(state);
}

constexpr const char *kStateNames[kConnectionStateCount] = {
    "initializing", "signaling",    "ice_gathering", "ice_exchange", "connecting",
    "connected",    "reconnecting", "failed",        "closed",
};

// kLegal[from][to]. The only place that decides which moves exist.
constexpr bool kLegal[kConnectionStateCount][kConnectionStateCount] = {
    // to: init  signal gather exch   conn'g conn'd recon  failed closed
    /* initializing  */ {false, true, true, false, false, false, false, true, true},
    /* signaling     */ {false, false, true, true, true, true, true, true, true},
    /* ice_gathering */ {false, false, false, true, true, true, true, true, true},
    /* ice_exchange  */ {false, false, false, false, true, true, true, true, true},
    /* connecting    */ {false, false, false, false, false, true, true, true, true},
    /* connected     */ {false, false, false, false, false, false, true, true, true},
    /* reconnecting  */ {false, true, true, true, true, true, false, true, true},
    /* failed        */ {true, false, false, false, false, false, true, false, true},
    /* closed        */ {false, false, false, false, false, false, false, false, false},
};

constexpr int64_t kDefaultTimeoutsMs[kConnectionStateCount] = {
    10000,  // initializing
    15000,  // signaling
    10000,  // ice_gathering
    15000,  // ice_exchange
    15000,  // connecting
    0,      // connected
    30000,  // reconnecting
    0,      // failed
    0,      // closed
};

// Position on the happy path, or -1 for reconnecting/failed/closed.
constexpr int happy_path_rank(S state) {
  return index_of(state) <= index_of(S::kConnected) ? index_of(state) : -1;
}

bool valid(S state) {
  return index_of(state) >= 0 && index_of(state) < kConnectionStateCount;
}

std::string legal_targets(S from) {
  std::string list;
  for (int to = 0; to < kConnectionStateCount; ++to) {
    if (kLegal[index_of(from)][to]) {
      list += list.empty() ? "" : ", ";
      list += kStateNames[to];
    }
  }
  return list;
}

}  // namespace

const char *to_string(ConnectionState state) {
  return valid(state) ? kStateNames[index_of(state)] : "unknown";
}

bool connection_state_from_string(std::string_view text, ConnectionState *out) {
  for (int i = 0; i < kConnectionStateCount; ++i) {
    if (text == kStateNames[i]) {
      *out = static_cast<S>(i);
      return true;
    }
  }
  return false;
}

const char *to_string(CleanupAction action) {
  switch (action) {
    case CleanupAction::kCancelTimeout:
      return "cancel_timeout";
    case CleanupAction::kDiscardIceBuffer:
      return "discard_ice_buffer";
    case CleanupAction::kClosePeerConnection:
      return "close_peer_connection";
    case CleanupAction::kLeaveSignaling:
      return "leave_signaling";
  }
  return "unknown";
}

ConnectionStateMachine::ConnectionStateMachine(int64_t now_ms)
    : entered_at_ms_(now_ms), timeout_from_ms_(now_ms) {
  for (int i = 0; i < kConnectionStateCount; ++i)
    timeouts_ms_[i] = kDefaultTimeoutsMs[i];
}

bool ConnectionStateMachine::is_legal(ConnectionState from, ConnectionState to,
                                      std::string *why_not) {
  std::string reason;
  if (!valid(from) || !valid(to)) {
    reason = "unknown state";
  } else if (kLegal[index_of(from)][index_of(to)]) {
    return true;
  } else if (from == S::kClosed) {
    reason = "closed is terminal";
  } else if (from == to) {
    reason = std::string("already ") + to_string(from);
  } else {
    reason = std::string(to_string(from)) + " can only move to " + legal_targets(from);
  }
  if (why_not != nullptr)
    *why_not = std::move(reason);
  return false;
}

bool ConnectionStateMachine::transition(ConnectionState to, std::string reason, int64_t now_ms,
                                        StateTransition *out, std::string *error) {
  std::string why_not;
  if (!is_legal(state_, to, &why_not)) {
    if (error != nullptr) {
      *error = std::string("illegal transition ") + to_string(state_) + " -> " + to_string(to) +
               ": " + why_not;
    }
    return false;
  }
  enter(to, std::move(reason), now_ms, false, out);
  return true;
}

bool ConnectionStateMachine::advance_to(ConnectionState to, std::string reason, int64_t now_ms,
                                        StateTransition *out) {
  const int current_rank = happy_path_rank(state_);
  const int target_rank = happy_path_rank(to);
  if (target_rank >= 0 && current_rank >= target_rank)
    return false;
  if (!is_legal(state_, to, nullptr))
    return false;
  enter(to, std::move(reason), now_ms, false, out);
  return true;
}

void ConnectionStateMachine::set_timeout_ms(ConnectionState state, int64_t ms) {
  if (valid(state))
    timeouts_ms_[index_of(state)] = ms > 0 ? ms : 0;
}

int64_t ConnectionStateMachine::timeout_ms(ConnectionState state) const {
  return valid(state) ? timeouts_ms_[index_of(state)] : 0;
}

ConnectionState ConnectionStateMachine::timeout_target(ConnectionState state) {
  switch (state) {
    case S::kInitializing:
    case S::kSignaling:
    case S::kIceGathering:
    case S::kReconnecting:
      return S::kFailed;
    case S::kIceExchange:
    case S::kConnecting:
    case S::kConnected:
      return S::kReconnecting;
    case S::kFailed:
    case S::kClosed:
      return S::kClosed;
  }
  return S::kClosed;
}

bool ConnectionStateMachine::extend_timeout(ConnectionState state, int64_t now_ms,
                                            int64_t at_least_ms) {
  if (state != state_ || deadline_ms() < 0)
    return false;
  timeout_from_ms_ = now_ms;
  extended_to_ms_ = at_least_ms > 0 ? at_least_ms : 0;
  return true;
}

int64_t ConnectionStateMachine::deadline_ms() const {
  const int64_t configured = timeouts_ms_[index_of(state_)];
  if (configured <= 0 || state_ == S::kClosed)
    return -1;
  const int64_t timeout = std::max(configured, extended_to_ms_);
  // A huge configured timeout must not overflow into the past.
  if (timeout_from_ms_ > std::numeric_limits<int64_t>::max() - timeout) {
    return std::numeric_limits<int64_t>::max();
  }
  return timeout_from_ms_ + timeout;
}

bool ConnectionStateMachine::check_timeout(int64_t now_ms, StateTransition *out) {
  const int64_t deadline = deadline_ms();
  if (deadline < 0 || now_ms < deadline)
    return false;
  const int64_t timeout = std::max(timeouts_ms_[index_of(state_)], extended_to_ms_);
  std::string reason = "timeout after " + std::to_string(timeout) + " ms in " + to_string(state_);
  enter(timeout_target(state_), std::move(reason), now_ms, true, out);
  return true;
}

std::vector<CleanupAction> ConnectionStateMachine::cleanup_actions_for(ConnectionState entered) {
  using A = CleanupAction;
  switch (entered) {
    case S::kFailed:
      return {A::kCancelTimeout, A::kDiscardIceBuffer, A::kClosePeerConnection};
    case S::kClosed:
      return {A::kCancelTimeout, A::kDiscardIceBuffer, A::kClosePeerConnection, A::kLeaveSignaling};
    default:
      return {};
  }
}

void ConnectionStateMachine::enter(ConnectionState to, std::string reason, int64_t now_ms,
                                   bool by_timeout, StateTransition *out) {
  const ConnectionState from = state_;
  state_ = to;
  entered_at_ms_ = now_ms;
  timeout_from_ms_ = now_ms;
  extended_to_ms_ = 0;
  if (out != nullptr)
    *out = StateTransition{from, to, std::move(reason), now_ms, by_timeout};
}

}  // namespace tourcast
