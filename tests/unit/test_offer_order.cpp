#include "offer_order.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

using Order = OfferOrder<std::string>;
using V = Order::Verdict;

TEST(OfferOrder, OneAnswerAtATimeTheLatestWaitingOfferNext) {
  Order order;
  EXPECT_EQ(order.arrived("s1", "offer 1"), V::kAnswer);
  EXPECT_TRUE(order.answering());
  // Two more offers before the first answer is set: the newer replaces the older.
  EXPECT_EQ(order.arrived("s1", "offer 2"), V::kHeld);
  EXPECT_EQ(order.arrived("s1", "offer 3"), V::kHeld);
  EXPECT_TRUE(order.holding());
  auto next = order.answered();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->first, "s1");
  EXPECT_EQ(next->second, "offer 3");
  EXPECT_FALSE(order.answering());
  EXPECT_FALSE(order.holding());
  // The caller passes it in again: answered now.
  EXPECT_EQ(order.arrived(next->first, next->second), V::kAnswer);
  EXPECT_FALSE(order.answered().has_value());
  EXPECT_EQ(order.arrived("s1", "offer 4"), V::kAnswer);
}

TEST(OfferOrder, DeclinedOfferLeavesNoAnswerInProgress) {
  Order order;
  EXPECT_EQ(order.arrived("other", "not ours"), V::kAnswer);
  order.declined();
  EXPECT_FALSE(order.answering());
  EXPECT_EQ(order.arrived("s1", "ours"), V::kAnswer);
}

TEST(OfferOrder, RetiredSessionsAreNeverAnswered) {
  Order order;
  order.retire("");  // no session yet: nothing to retire
  EXPECT_FALSE(order.retired(""));
  EXPECT_EQ(order.arrived("old", "offer 1"), V::kAnswer);
  EXPECT_EQ(order.arrived("old", "late renegotiation"), V::kHeld);
  // A recovery moved the peer to a new session: the waiting offer of the old one goes too.
  order.retire("old");
  EXPECT_FALSE(order.holding());
  EXPECT_FALSE(order.answered().has_value());
  EXPECT_EQ(order.arrived("old", "offer of the old session"), V::kStale);
  EXPECT_FALSE(order.answering());
  EXPECT_EQ(order.arrived("new", "offer of the new session"), V::kAnswer);
  // Retired while it waited for another session's answer: dropped when taken again.
  EXPECT_EQ(order.arrived("new", "renegotiation"), V::kHeld);
  order.retire("other");
  auto next = order.answered();
  ASSERT_TRUE(next.has_value());
  order.retire(next->first);
  EXPECT_EQ(order.arrived(next->first, next->second), V::kStale);
  EXPECT_EQ(order.retired_sessions(), (std::set<std::string>{"new", "old", "other"}));
}

}  // namespace
}  // namespace tourcast
