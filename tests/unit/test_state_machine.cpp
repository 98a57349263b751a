#include "state_machine.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

using S = ConnectionState;
using A = CleanupAction;

constexpr S kAllStates[kConnectionStateCount] = {
    S::kInitializing, S::kSignaling,    S::kIceGathering, S::kIceExchange, S::kConnecting,
    S::kConnected,    S::kReconnecting, S::kFailed,       S::kClosed,
};

// Written out independently of the library's table: I = initializing, S = signaling,
// G = ice_gathering, E = ice_exchange, N = connecting, C = connected, R = reconnecting,
// F = failed, X = closed.
const char *const kExpectedLegal[kConnectionStateCount] = {
    //           ISGENCRFX
    /* I */ "011000011",
    /* S */ "001111111",
    /* G */ "000111111",
    /* E */ "000011111",
    /* N */ "000001111",
    /* C */ "000000111",
    /* R */ "011111011",
    /* F */ "100000101",
    /* X */ "000000000",
};

// A machine that reached `target` at time 0 through legal moves.
ConnectionStateMachine machine_in(S target) {
  std::vector<S> path;
  if (target == S::kReconnecting) {
    path = {S::kSignaling, S::kReconnecting};
  } else if (target == S::kFailed || target == S::kClosed) {
    path = {target};
  } else {
    for (S step = S::kSignaling; static_cast<int>(step) <= static_cast<int>(target);
         step = static_cast<S>(static_cast<int>(step) + 1)) {
      path.push_back(step);
    }
  }
  ConnectionStateMachine machine(0);
  for (S step : path)
    EXPECT_TRUE(machine.transition(step, "setup", 0, nullptr, nullptr));
  EXPECT_EQ(machine.state(), target);
  return machine;
}

TEST(ConnectionStateNames, RoundTripEveryState) {
  const char *const expected[] = {"initializing", "signaling",  "ice_gathering",
                                  "ice_exchange", "connecting", "connected",
                                  "reconnecting", "failed",     "closed"};
  for (int i = 0; i < kConnectionStateCount; ++i) {
    EXPECT_STREQ(to_string(kAllStates[i]), expected[i]);
    S parsed = S::kClosed;
    ASSERT_TRUE(connection_state_from_string(expected[i], &parsed)) << expected[i];
    EXPECT_EQ(parsed, kAllStates[i]);
  }
}

TEST(ConnectionStateNames, RejectsUnknownText) {
  for (const char *text : {"", "Connected", "connected ", "ice-gathering", "unknown"}) {
    S parsed = S::kFailed;
    EXPECT_FALSE(connection_state_from_string(text, &parsed)) << text;
    EXPECT_EQ(parsed, S::kFailed);
  }
}

TEST(CleanupActionNames, AllDistinct) {
  EXPECT_STREQ(to_string(A::kCancelTimeout), "cancel_timeout");
  EXPECT_STREQ(to_string(A::kDiscardIceBuffer), "discard_ice_buffer");
  EXPECT_STREQ(to_string(A::kClosePeerConnection), "close_peer_connection");
  EXPECT_STREQ(to_string(A::kLeaveSignaling), "leave_signaling");
}

TEST(ConnectionStateMachine, LegalityTableMatchesSpecification) {
  for (int from = 0; from < kConnectionStateCount; ++from) {
    for (int to = 0; to < kConnectionStateCount; ++to) {
      const bool expected = kExpectedLegal[from][to] == '1';
      std::string why_not = "untouched";
      EXPECT_EQ(ConnectionStateMachine::is_legal(kAllStates[from], kAllStates[to], &why_not),
                expected)
          << to_string(kAllStates[from]) << " -> " << to_string(kAllStates[to]);
      if (expected) {
        EXPECT_EQ(why_not, "untouched");
      } else {
        EXPECT_NE(why_not, "untouched");
        EXPECT_FALSE(why_not.empty());
      }
    }
  }
}

TEST(ConnectionStateMachine, IsLegalAcceptsNullReason) {
  EXPECT_FALSE(ConnectionStateMachine::is_legal(S::kClosed, S::kSignaling, nullptr));
  EXPECT_TRUE(ConnectionStateMachine::is_legal(S::kFailed, S::kInitializing, nullptr));
}

TEST(ConnectionStateMachine, ReasonsForIllegalMoves) {
  std::string why;
  EXPECT_FALSE(ConnectionStateMachine::is_legal(S::kClosed, S::kInitializing, &why));
  EXPECT_EQ(why, "closed is terminal");
  EXPECT_FALSE(ConnectionStateMachine::is_legal(S::kConnected, S::kConnected, &why));
  EXPECT_EQ(why, "already connected");
  EXPECT_FALSE(ConnectionStateMachine::is_legal(S::kConnected, S::kIceGathering, &why));
  EXPECT_EQ(why, "connected can only move to reconnecting, failed, closed");
  EXPECT_FALSE(ConnectionStateMachine::is_legal(S::kFailed, S::kSignaling, &why));
  EXPECT_EQ(why, "failed can only move to initializing, reconnecting, closed");
}

TEST(ConnectionStateMachine, StartsInitializing) {
  ConnectionStateMachine machine(1234);
  EXPECT_EQ(machine.state(), S::kInitializing);
  EXPECT_EQ(machine.entered_at_ms(), 1234);
  EXPECT_EQ(machine.deadline_ms(), 1234 + 10000);
}

TEST(ConnectionStateMachine, LegalTransitionReportsAndMoves) {
  ConnectionStateMachine machine(0);
  StateTransition out;
  std::string error = "untouched";
  ASSERT_TRUE(machine.transition(S::kSignaling, "joined tour", 50, &out, &error));
  EXPECT_EQ(error, "untouched");
  EXPECT_EQ(machine.state(), S::kSignaling);
  EXPECT_EQ(machine.entered_at_ms(), 50);
  EXPECT_EQ(out.from, S::kInitializing);
  EXPECT_EQ(out.to, S::kSignaling);
  EXPECT_EQ(out.reason, "joined tour");
  EXPECT_EQ(out.at_ms, 50);
  EXPECT_FALSE(out.by_timeout);
}

TEST(ConnectionStateMachine, IllegalTransitionRefusedStateUnchanged) {
  struct Case {
    S from;
    S to;
    const char *error;
  };
  const Case cases[] = {
      {S::kConnected, S::kIceGathering,
       "illegal transition connected -> ice_gathering: connected can only move to "
       "reconnecting, failed, closed"},
      {S::kConnected, S::kConnected,
       "illegal transition connected -> connected: already connected"},
      {S::kClosed, S::kReconnecting,
       "illegal transition closed -> reconnecting: closed is terminal"},
      {S::kInitializing, S::kConnected,
       "illegal transition initializing -> connected: initializing can only move to signaling, "
       "ice_gathering, failed, closed"},
  };
  for (const Case &c : cases) {
    ConnectionStateMachine machine = machine_in(c.from);
    const int64_t entered = machine.entered_at_ms();
    StateTransition out;
    out.reason = "untouched";
    std::string error;
    EXPECT_FALSE(machine.transition(c.to, "test", 999, &out, &error));
    EXPECT_EQ(error, c.error);
    EXPECT_EQ(machine.state(), c.from);
    EXPECT_EQ(machine.entered_at_ms(), entered);
    EXPECT_EQ(out.reason, "untouched");
  }
}

TEST(ConnectionStateMachine, TransitionAcceptsNullOutputs) {
  ConnectionStateMachine machine(0);
  EXPECT_TRUE(machine.transition(S::kIceGathering, "r", 1, nullptr, nullptr));
  EXPECT_FALSE(machine.transition(S::kInitializing, "r", 2, nullptr, nullptr));
  EXPECT_EQ(machine.state(), S::kIceGathering);
}

TEST(ConnectionStateMachine, DefaultTimeoutsAndTargets) {
  struct Case {
    S state;
    int64_t timeout_ms;
    S target;
  };
  const Case cases[] = {
      {S::kInitializing, 10000, S::kFailed},
      {S::kSignaling, 15000, S::kFailed},
      {S::kIceGathering, 10000, S::kFailed},
      {S::kIceExchange, 15000, S::kReconnecting},
      {S::kConnecting, 15000, S::kReconnecting},
      {S::kConnected, 0, S::kReconnecting},
      {S::kReconnecting, 30000, S::kFailed},
      {S::kFailed, 0, S::kClosed},
      {S::kClosed, 0, S::kClosed},
  };
  ConnectionStateMachine machine(0);
  for (const Case &c : cases) {
    EXPECT_EQ(machine.timeout_ms(c.state), c.timeout_ms) << to_string(c.state);
    EXPECT_EQ(ConnectionStateMachine::timeout_target(c.state), c.target) << to_string(c.state);
  }
}

TEST(ConnectionStateMachine, EachTimedStateTimesOutExactlyAtDeadline) {
  const S timed[] = {S::kInitializing, S::kSignaling,  S::kIceGathering,
                     S::kIceExchange,  S::kConnecting, S::kReconnecting};
  for (S state : timed) {
    ConnectionStateMachine machine = machine_in(state);
    const int64_t timeout = machine.timeout_ms(state);
    ASSERT_EQ(machine.deadline_ms(), timeout) << to_string(state);
    StateTransition out;
    EXPECT_FALSE(machine.check_timeout(timeout - 1, &out)) << to_string(state);
    EXPECT_EQ(machine.state(), state);
    ASSERT_TRUE(machine.check_timeout(timeout, &out)) << to_string(state);
    EXPECT_EQ(machine.state(), ConnectionStateMachine::timeout_target(state));
    EXPECT_EQ(out.from, state);
    EXPECT_EQ(out.to, ConnectionStateMachine::timeout_target(state));
    EXPECT_EQ(out.reason,
              "timeout after " + std::to_string(timeout) + " ms in " + to_string(state));
    EXPECT_EQ(out.at_ms, timeout);
    EXPECT_TRUE(out.by_timeout);
    EXPECT_EQ(machine.entered_at_ms(), timeout);
  }
}

TEST(ConnectionStateMachine, UntimedStatesHaveNoDeadline) {
  for (S state : {S::kConnected, S::kFailed, S::kClosed}) {
    ConnectionStateMachine machine = machine_in(state);
    EXPECT_EQ(machine.deadline_ms(), -1) << to_string(state);
    EXPECT_FALSE(machine.check_timeout(INT64_MAX, nullptr)) << to_string(state);
    EXPECT_EQ(machine.state(), state);
  }
}

TEST(ConnectionStateMachine, ConfigurableTimeout) {
  ConnectionStateMachine machine(100);
  machine.set_timeout_ms(S::kInitializing, 250);
  EXPECT_EQ(machine.timeout_ms(S::kInitializing), 250);
  EXPECT_EQ(machine.deadline_ms(), 350);
  EXPECT_FALSE(machine.check_timeout(349, nullptr));
  StateTransition out;
  ASSERT_TRUE(machine.check_timeout(400, &out));
  EXPECT_EQ(out.reason, "timeout after 250 ms in initializing");
  EXPECT_EQ(out.at_ms, 400);
  EXPECT_EQ(machine.state(), S::kFailed);
}

TEST(ConnectionStateMachine, ZeroOrNegativeTimeoutDisables) {
  for (int64_t disabled : {int64_t{0}, int64_t{-5}}) {
    ConnectionStateMachine machine(0);
    machine.set_timeout_ms(S::kInitializing, disabled);
    EXPECT_EQ(machine.timeout_ms(S::kInitializing), 0);
    EXPECT_EQ(machine.deadline_ms(), -1);
    EXPECT_FALSE(machine.check_timeout(1000000, nullptr));
    EXPECT_EQ(machine.state(), S::kInitializing);
  }
}

TEST(ConnectionStateMachine, EnablingConnectedTimeoutLeadsToReconnecting) {
  ConnectionStateMachine machine = machine_in(S::kConnected);
  machine.set_timeout_ms(S::kConnected, 5000);
  EXPECT_EQ(machine.deadline_ms(), 5000);
  StateTransition out;
  ASSERT_TRUE(machine.check_timeout(5000, &out));
  EXPECT_EQ(out.to, S::kReconnecting);
}

TEST(ConnectionStateMachine, ClosedNeverTimesOutEvenIfConfigured) {
  ConnectionStateMachine machine = machine_in(S::kClosed);
  machine.set_timeout_ms(S::kClosed, 10);
  EXPECT_EQ(machine.deadline_ms(), -1);
  EXPECT_FALSE(machine.check_timeout(100, nullptr));
  EXPECT_EQ(machine.state(), S::kClosed);
}

TEST(ConnectionStateMachine, HugeTimeoutDoesNotOverflow) {
  ConnectionStateMachine machine(1000);
  machine.set_timeout_ms(S::kInitializing, INT64_MAX);
  EXPECT_EQ(machine.deadline_ms(), INT64_MAX);
  EXPECT_FALSE(machine.check_timeout(INT64_MAX - 1, nullptr));
}

TEST(ConnectionStateMachine, TimeoutRestartsInNewState) {
  ConnectionStateMachine machine(0);
  ASSERT_TRUE(machine.transition(S::kSignaling, "r", 9000, nullptr, nullptr));
  EXPECT_EQ(machine.deadline_ms(), 9000 + 15000);
  EXPECT_FALSE(machine.check_timeout(10000, nullptr));
  EXPECT_EQ(machine.state(), S::kSignaling);
}

TEST(ConnectionStateMachine, ExtendTimeoutCountsTheStatesTimeoutAgainFromNow) {
  ConnectionStateMachine machine(1000);
  ASSERT_EQ(machine.deadline_ms(), 11000);
  ASSERT_TRUE(machine.extend_timeout(S::kInitializing, 9000));
  EXPECT_EQ(machine.deadline_ms(), 19000);
  EXPECT_EQ(machine.entered_at_ms(), 1000);
  EXPECT_EQ(machine.state(), S::kInitializing);
  EXPECT_FALSE(machine.check_timeout(18999, nullptr));
  ASSERT_TRUE(machine.extend_timeout(S::kInitializing, 18000));
  EXPECT_FALSE(machine.check_timeout(27999, nullptr));
  StateTransition out;
  ASSERT_TRUE(machine.check_timeout(28000, &out));
  EXPECT_EQ(out.reason, "timeout after 10000 ms in initializing");
  EXPECT_EQ(machine.state(), S::kFailed);
}

TEST(ConnectionStateMachine, ExtendTimeoutOnlyInTheNamedTimedState) {
  struct Case {
    S current;
    S named;
    int64_t timeout;
    bool extended;
  };
  const Case cases[] = {
      {S::kInitializing, S::kInitializing, 10000, true},
      {S::kSignaling, S::kInitializing, 10000, false}, /* the offer came meanwhile */
      {S::kSignaling, S::kSignaling, 15000, true},
      {S::kInitializing, S::kInitializing, 0, false}, /* no timeout to extend */
      {S::kConnected, S::kConnected, 0, false},
      {S::kClosed, S::kClosed, 10, false},
  };
  for (const Case &c : cases) {
    ConnectionStateMachine machine = machine_in(c.current);
    machine.set_timeout_ms(c.current, c.timeout);
    const int64_t before = machine.deadline_ms();
    EXPECT_EQ(machine.extend_timeout(c.named, 100000), c.extended)
        << to_string(c.current) << " / " << to_string(c.named);
    EXPECT_EQ(machine.deadline_ms(), c.extended ? 100000 + c.timeout : before);
    EXPECT_EQ(machine.state(), c.current);
  }
}

TEST(ConnectionStateMachine, ExtendTimeoutWaitsAtLeastWhatTheOtherSideSays) {
  struct Case {
    int64_t at_least;
    int64_t deadline;
  };
  /* initializing's timeout is 10000 ms; the extension only ever lengthens it. */
  const Case cases[] = {{0, 15000}, {-1, 15000}, {4000, 15000}, {10000, 15000}, {30000, 35000}};
  for (const Case &c : cases) {
    ConnectionStateMachine machine(0);
    ASSERT_TRUE(machine.extend_timeout(S::kInitializing, 5000, c.at_least));
    EXPECT_EQ(machine.deadline_ms(), c.deadline) << c.at_least;
    EXPECT_FALSE(machine.check_timeout(c.deadline - 1, nullptr));
    StateTransition out;
    ASSERT_TRUE(machine.check_timeout(c.deadline, &out));
    EXPECT_EQ(out.reason,
              "timeout after " + std::to_string(c.deadline - 5000) + " ms in initializing");
  }
  ConnectionStateMachine machine(0);
  ASSERT_TRUE(machine.extend_timeout(S::kInitializing, 5000, 30000));
  ASSERT_TRUE(machine.extend_timeout(S::kInitializing, 6000));
  EXPECT_EQ(machine.deadline_ms(), 16000); /* the newest word counts */
}

TEST(ConnectionStateMachine, NewStateForgetsAnExtension) {
  ConnectionStateMachine machine(0);
  ASSERT_TRUE(machine.extend_timeout(S::kInitializing, 50000, 60000));
  ASSERT_TRUE(machine.transition(S::kSignaling, "offer", 51000, nullptr, nullptr));
  EXPECT_EQ(machine.deadline_ms(), 51000 + 15000);
}

TEST(ConnectionStateMachine, ReconnectTimeoutThenFailedCanRestart) {
  ConnectionStateMachine machine = machine_in(S::kIceExchange);
  ASSERT_TRUE(machine.check_timeout(15000, nullptr));
  ASSERT_EQ(machine.state(), S::kReconnecting);
  ASSERT_TRUE(machine.check_timeout(45000, nullptr));
  ASSERT_EQ(machine.state(), S::kFailed);
  EXPECT_TRUE(machine.transition(S::kInitializing, "retry from scratch", 46000, nullptr, nullptr));
  EXPECT_EQ(machine.deadline_ms(), 56000);
}

TEST(ConnectionStateMachine, AdvanceToMovesForwardAndSkips) {
  ConnectionStateMachine machine(0);
  StateTransition out;
  ASSERT_TRUE(machine.advance_to(S::kSignaling, "offer", 1, &out));
  ASSERT_TRUE(machine.advance_to(S::kConnected, "ice connected", 2, &out));
  EXPECT_EQ(out.from, S::kSignaling);
  EXPECT_EQ(out.to, S::kConnected);
  EXPECT_EQ(out.reason, "ice connected");
  EXPECT_FALSE(out.by_timeout);
  // Gathering finishing after the connection is up must not move backwards.
  out.reason = "untouched";
  EXPECT_FALSE(machine.advance_to(S::kIceGathering, "gathering done", 3, &out));
  EXPECT_FALSE(machine.advance_to(S::kConnected, "again", 4, &out));
  EXPECT_EQ(out.reason, "untouched");
  EXPECT_EQ(machine.state(), S::kConnected);
  EXPECT_EQ(machine.entered_at_ms(), 2);
}

TEST(ConnectionStateMachine, AdvanceToRefusesIllegalForwardMove) {
  ConnectionStateMachine machine(0);
  EXPECT_FALSE(machine.advance_to(S::kIceExchange, "skip", 1, nullptr));
  EXPECT_EQ(machine.state(), S::kInitializing);
}

TEST(ConnectionStateMachine, AdvanceToFromReconnectingFailedClosed) {
  ConnectionStateMachine reconnecting = machine_in(S::kReconnecting);
  EXPECT_TRUE(reconnecting.advance_to(S::kConnected, "back", 1, nullptr));
  EXPECT_EQ(reconnecting.state(), S::kConnected);

  ConnectionStateMachine failed = machine_in(S::kFailed);
  EXPECT_FALSE(failed.advance_to(S::kSignaling, "no", 1, nullptr));
  EXPECT_EQ(failed.state(), S::kFailed);
  EXPECT_TRUE(failed.advance_to(S::kInitializing, "restart", 2, nullptr));
  EXPECT_EQ(failed.state(), S::kInitializing);

  ConnectionStateMachine closed = machine_in(S::kClosed);
  for (S to : kAllStates)
    EXPECT_FALSE(closed.advance_to(to, "no", 1, nullptr)) << to_string(to);
  EXPECT_EQ(closed.state(), S::kClosed);
}

TEST(ConnectionStateMachine, AdvanceToOffPathTargetIsPlainTransition) {
  ConnectionStateMachine machine = machine_in(S::kConnected);
  EXPECT_TRUE(machine.advance_to(S::kReconnecting, "ice disconnected", 1, nullptr));
  EXPECT_FALSE(machine.advance_to(S::kReconnecting, "again", 2, nullptr));
  EXPECT_TRUE(machine.advance_to(S::kFailed, "gave up", 3, nullptr));
  EXPECT_EQ(machine.state(), S::kFailed);
}

TEST(ConnectionStateMachine, CleanupActions) {
  EXPECT_EQ(ConnectionStateMachine::cleanup_actions_for(S::kFailed),
            (std::vector<A>{A::kCancelTimeout, A::kDiscardIceBuffer, A::kClosePeerConnection}));
  EXPECT_EQ(ConnectionStateMachine::cleanup_actions_for(S::kClosed),
            (std::vector<A>{A::kCancelTimeout, A::kDiscardIceBuffer, A::kClosePeerConnection,
                            A::kLeaveSignaling}));
  for (S state : kAllStates) {
    if (state == S::kFailed || state == S::kClosed)
      continue;
    EXPECT_TRUE(ConnectionStateMachine::cleanup_actions_for(state).empty()) << to_string(state);
  }
}

}  // namespace
}  // namespace tourcast
