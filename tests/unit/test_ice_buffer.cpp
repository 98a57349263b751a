#include "ice_buffer.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

std::vector<uint64_t> sequences(const std::vector<BufferedCandidate> &candidates) {
  std::vector<uint64_t> result;
  for (const auto &c : candidates)
    result.push_back(c.sequence);
  return result;
}

std::vector<std::string> texts(const std::vector<BufferedCandidate> &candidates) {
  std::vector<std::string> result;
  for (const auto &c : candidates)
    result.push_back(c.candidate);
  return result;
}

BufferedCandidate numbered(uint64_t sequence) {
  BufferedCandidate c;
  c.candidate = "c" + std::to_string(sequence);
  c.sequence = sequence;
  return c;
}

using Seqs = std::vector<uint64_t>;

// --- parse_candidate_priority -------------------------------------------------------------

TEST(ParseCandidatePriority, Table) {
  struct Case {
    const char *input;
    bool ok;
    uint32_t priority;
  };
  const Case cases[] = {
      {"candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ host", true, 2015363327},
      {"a=candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ host", true, 2015363327},
      {"1 1 UDP 2015363327 10.0.0.1 5000 typ host", true, 2015363327},
      {"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 10.0.0.1 rport "
       "5000 generation 0 ufrag x network-cost 999",
       true, 1677729535},
      {"candidate:3 2 TCP 0 fe80::1 9 typ host tcptype active", true, 0},
      {"candidate:a+/Z 1 UDP 4294967295 h.local 1 typ host", true, 4294967295u},
      {"candidate:1 1 UDP 100 10.0.0.1 5000 typ host\r\n", true, 100},
      {"candidate:1  1 UDP  7 10.0.0.1 5000 typ host", true, 7},
      {"", false, 0},
      {"candidate:", false, 0},
      {"candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ", false, 0},
      {"candidate:1 1 UDP 4294967296 10.0.0.1 5000 typ host", false, 0},
      {"candidate:1 1 UDP 99999999999 10.0.0.1 5000 typ host", false, 0},
      {"candidate:1 1 UDP -1 10.0.0.1 5000 typ host", false, 0},
      {"candidate:1 1 UDP 12a 10.0.0.1 5000 typ host", false, 0},
      {"candidate:1 1 UDP 100 10.0.0.1 70000 typ host", false, 0},
      {"candidate:1 1 UDP 100 10.0.0.1 5000 type host", false, 0},
      {"candidate:1 x UDP 100 10.0.0.1 5000 typ host", false, 0},
      {"candidate:f*o 1 UDP 100 10.0.0.1 5000 typ host", false, 0},
      {"candidate:123456789012345678901234567890123 1 UDP 100 10.0.0.1 5000 typ host", false, 0},
      {"a=end-of-candidates", false, 0},
  };
  for (const Case &c : cases) {
    uint32_t priority = 12345;
    EXPECT_EQ(parse_candidate_priority(c.input, &priority), c.ok) << c.input;
    EXPECT_EQ(priority, c.ok ? c.priority : 12345u) << c.input;
  }
}

// --- IceCandidateBuffer -------------------------------------------------------------------

TEST(IceCandidateBuffer, HoldsUntilBothDescriptionsAreSet) {
  IceCandidateBuffer buffer;
  EXPECT_EQ(buffer.capacity(), 64u);
  EXPECT_EQ(buffer.push("a", 0, 10, 100).sequence, 1u);
  EXPECT_EQ(buffer.push("b", 1, 20, 101).sequence, 2u);
  EXPECT_FALSE(buffer.ready());
  EXPECT_TRUE(buffer.take_ready().empty());
  buffer.set_local_description_set(true);
  EXPECT_FALSE(buffer.ready());
  EXPECT_TRUE(buffer.take_ready().empty());
  buffer.set_local_description_set(false);
  buffer.set_remote_description_set(true);
  EXPECT_TRUE(buffer.take_ready().empty());
  EXPECT_EQ(buffer.size(), 2u);
  buffer.set_local_description_set(true);
  ASSERT_TRUE(buffer.ready());
  const auto released = buffer.take_ready();
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0].candidate, "a");
  EXPECT_EQ(released[0].mline, 0u);
  EXPECT_EQ(released[0].priority, 10u);
  EXPECT_EQ(released[0].timestamp_ms, 100);
  EXPECT_EQ(released[0].sequence, 1u);
  EXPECT_EQ(released[1].candidate, "b");
  EXPECT_EQ(released[1].mline, 1u);
  EXPECT_EQ(released[1].sequence, 2u);
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_TRUE(buffer.take_ready().empty());
}

TEST(IceCandidateBuffer, FlushesInSequenceOrderRegardlessOfPriority) {
  IceCandidateBuffer buffer;
  buffer.push("low", 0, 1, 0);
  buffer.push("high", 0, 900, 0);
  buffer.push("mid", 0, 50, 0);
  buffer.set_local_description_set(true);
  buffer.set_remote_description_set(true);
  EXPECT_EQ(texts(buffer.take_ready()), (std::vector<std::string>{"low", "high", "mid"}));
  EXPECT_EQ(buffer.last_sequence(), 3u);
  EXPECT_EQ(buffer.push("later", 0, 1, 0).sequence, 4u);
}

TEST(IceCandidateBuffer, OverflowDropsLowestBufferedForBetterNewcomer) {
  IceCandidateBuffer buffer(3);
  buffer.push("p50", 0, 50, 0);
  buffer.push("p10", 0, 10, 0);
  buffer.push("p30", 0, 30, 0);
  const auto result = buffer.push("p40", 0, 40, 0);
  EXPECT_EQ(result.sequence, 4u);
  ASSERT_TRUE(result.dropped_one);
  EXPECT_EQ(result.dropped.candidate, "p10");
  EXPECT_EQ(result.dropped.sequence, 2u);
  EXPECT_EQ(buffer.size(), 3u);
  EXPECT_EQ(buffer.dropped_count(), 1u);
  buffer.set_local_description_set(true);
  buffer.set_remote_description_set(true);
  EXPECT_EQ(sequences(buffer.take_ready()), (Seqs{1, 3, 4}));
}

TEST(IceCandidateBuffer, OverflowDropsNewcomerWhenItIsLowest) {
  IceCandidateBuffer buffer(2);
  buffer.push("p50", 0, 50, 0);
  buffer.push("p30", 0, 30, 0);
  const auto result = buffer.push("p5", 2, 5, 77);
  EXPECT_EQ(result.sequence, 3u);
  ASSERT_TRUE(result.dropped_one);
  EXPECT_EQ(result.dropped.candidate, "p5");
  EXPECT_EQ(result.dropped.sequence, 3u);
  EXPECT_EQ(result.dropped.mline, 2u);
  EXPECT_EQ(result.dropped.timestamp_ms, 77);
  buffer.set_local_description_set(true);
  buffer.set_remote_description_set(true);
  EXPECT_EQ(texts(buffer.take_ready()), (std::vector<std::string>{"p50", "p30"}));
}

TEST(IceCandidateBuffer, OverflowTieDropsNewest) {
  // Newcomer ties with the lowest buffered one: the newcomer is newest.
  IceCandidateBuffer buffer(2);
  buffer.push("a", 0, 20, 0);
  buffer.push("b", 0, 90, 0);
  auto result = buffer.push("c", 0, 20, 0);
  ASSERT_TRUE(result.dropped_one);
  EXPECT_EQ(result.dropped.sequence, 3u);

  // Two buffered ones tie for lowest and the newcomer is better: the newer buffered one goes.
  IceCandidateBuffer tied(3);
  tied.push("x", 0, 10, 0);
  tied.push("y", 0, 99, 0);
  tied.push("z", 0, 10, 0);
  result = tied.push("w", 0, 11, 0);
  ASSERT_TRUE(result.dropped_one);
  EXPECT_EQ(result.dropped.candidate, "z");
  EXPECT_EQ(result.dropped.sequence, 3u);
  tied.set_local_description_set(true);
  tied.set_remote_description_set(true);
  EXPECT_EQ(sequences(tied.take_ready()), (Seqs{1, 2, 4}));
  EXPECT_EQ(tied.dropped_count(), 1u);
}

TEST(IceCandidateBuffer, NoDropBelowCapacity) {
  IceCandidateBuffer buffer(2);
  const auto first = buffer.push("a", 0, 1, 0);
  EXPECT_FALSE(first.dropped_one);
  EXPECT_EQ(first.dropped.sequence, 0u);
  EXPECT_FALSE(buffer.push("b", 0, 1, 0).dropped_one);
  EXPECT_EQ(buffer.dropped_count(), 0u);
}

TEST(IceCandidateBuffer, ZeroCapacityDropsEverything) {
  IceCandidateBuffer buffer(0);
  const auto result = buffer.push("a", 0, 100, 0);
  EXPECT_EQ(result.sequence, 1u);
  EXPECT_TRUE(result.dropped_one);
  EXPECT_EQ(result.dropped.candidate, "a");
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.dropped_count(), 1u);
}

TEST(IceCandidateBuffer, ClearStartsNewNegotiation) {
  IceCandidateBuffer buffer(1);
  buffer.push("a", 0, 1, 0);
  buffer.push("b", 0, 1, 0);
  buffer.set_local_description_set(true);
  buffer.set_remote_description_set(true);
  buffer.clear();
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_FALSE(buffer.ready());
  EXPECT_EQ(buffer.last_sequence(), 0u);
  EXPECT_EQ(buffer.dropped_count(), 1u);
  EXPECT_EQ(buffer.push("c", 0, 1, 0).sequence, 1u);
}

// --- CandidateSequencer -------------------------------------------------------------------

TEST(CandidateSequencer, InOrderDeliveredImmediately) {
  CandidateSequencer sequencer;
  EXPECT_EQ(sequencer.next_expected(), 1u);
  EXPECT_EQ(sequences(sequencer.receive(numbered(1), 0)), (Seqs{1}));
  EXPECT_EQ(sequences(sequencer.receive(numbered(2), 0)), (Seqs{2}));
  EXPECT_EQ(sequencer.next_expected(), 3u);
  EXPECT_EQ(sequencer.held(), 0u);
  EXPECT_EQ(sequencer.next_deadline_ms(), -1);
}

TEST(CandidateSequencer, OutOfOrderHeldUntilGapFilled) {
  CandidateSequencer sequencer;
  EXPECT_TRUE(sequencer.receive(numbered(3), 10).empty());
  EXPECT_TRUE(sequencer.receive(numbered(2), 20).empty());
  EXPECT_EQ(sequencer.held(), 2u);
  EXPECT_EQ(sequencer.next_deadline_ms(), 510);
  const auto delivered = sequencer.receive(numbered(1), 30);
  EXPECT_EQ(sequences(delivered), (Seqs{1, 2, 3}));
  EXPECT_EQ(texts(delivered), (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ(sequencer.next_expected(), 4u);
  EXPECT_EQ(sequencer.held(), 0u);
  EXPECT_EQ(sequencer.next_deadline_ms(), -1);
  EXPECT_EQ(sequencer.skipped_total(), 0u);
}

TEST(CandidateSequencer, DuplicatesAndOldIgnoredAndCounted) {
  CandidateSequencer sequencer;
  sequencer.receive(numbered(1), 0);
  sequencer.receive(numbered(3), 0);
  EXPECT_TRUE(sequencer.receive(numbered(1), 0).empty());  // already delivered
  EXPECT_TRUE(sequencer.receive(numbered(3), 0).empty());  // already held
  EXPECT_TRUE(sequencer.receive(numbered(0), 0).empty());  // never valid
  EXPECT_EQ(sequencer.duplicates(), 3u);
  EXPECT_EQ(sequencer.held(), 1u);
}

TEST(CandidateSequencer, GapSkippedAfterWait) {
  CandidateSequencer sequencer(500);
  sequencer.receive(numbered(1), 0);
  sequencer.receive(numbered(3), 100);
  sequencer.receive(numbered(4), 200);
  EXPECT_EQ(sequencer.next_deadline_ms(), 600);
  std::vector<uint64_t> skipped;
  EXPECT_TRUE(sequencer.poll(599, &skipped).empty());
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(sequences(sequencer.poll(600, &skipped)), (Seqs{3, 4}));
  EXPECT_EQ(skipped, (Seqs{2}));
  EXPECT_EQ(sequencer.skipped_total(), 1u);
  EXPECT_EQ(sequencer.next_expected(), 5u);
  EXPECT_EQ(sequencer.next_deadline_ms(), -1);
  // The skipped one turning up late is stale.
  EXPECT_TRUE(sequencer.receive(numbered(2), 700).empty());
  EXPECT_EQ(sequencer.duplicates(), 1u);
}

TEST(CandidateSequencer, MultipleGapsEachWaitFromTheirOwnDiscovery) {
  CandidateSequencer sequencer(500);
  sequencer.receive(numbered(3), 0);    // 1, 2 missing since t=0
  sequencer.receive(numbered(6), 300);  // 4, 5 missing since t=300
  std::vector<uint64_t> skipped;
  EXPECT_EQ(sequences(sequencer.poll(500, &skipped)), (Seqs{3}));
  EXPECT_EQ(skipped, (Seqs{1, 2}));
  EXPECT_EQ(sequencer.next_deadline_ms(), 800);
  EXPECT_TRUE(sequencer.poll(799, &skipped).empty());
  EXPECT_EQ(sequences(sequencer.poll(800, &skipped)), (Seqs{6}));
  EXPECT_EQ(skipped, (Seqs{1, 2, 4, 5}));
  EXPECT_EQ(sequencer.skipped_total(), 4u);
}

TEST(CandidateSequencer, OnePollSkipsEveryExpiredGap) {
  CandidateSequencer sequencer(500);
  sequencer.receive(numbered(2), 0);
  sequencer.receive(numbered(4), 10);
  sequencer.receive(numbered(7), 20);
  std::vector<uint64_t> skipped;
  EXPECT_EQ(sequences(sequencer.poll(1000, &skipped)), (Seqs{2, 4, 7}));
  EXPECT_EQ(skipped, (Seqs{1, 3, 5, 6}));
  EXPECT_EQ(sequencer.held(), 0u);
}

TEST(CandidateSequencer, PollAcceptsNullSkippedList) {
  CandidateSequencer sequencer(0);
  sequencer.receive(numbered(3), 5);
  EXPECT_EQ(sequencer.next_deadline_ms(), 5);
  EXPECT_EQ(sequences(sequencer.poll(5, nullptr)), (Seqs{3}));
  EXPECT_EQ(sequencer.skipped_total(), 2u);
}

TEST(CandidateSequencer, FarFutureSequenceRefused) {
  CandidateSequencer sequencer(500, 8);
  EXPECT_TRUE(sequencer.receive(numbered(9), 0).empty());  // 1 + 8: outside
  EXPECT_TRUE(sequencer.receive(numbered(UINT64_MAX), 0).empty());
  EXPECT_EQ(sequencer.out_of_window(), 2u);
  EXPECT_TRUE(sequencer.receive(numbered(8), 0).empty());  // inside, held
  EXPECT_EQ(sequencer.held(), 1u);
  EXPECT_EQ(sequencer.duplicates(), 0u);
}

TEST(CandidateSequencer, DeadlineSaturatesInsteadOfOverflowing) {
  CandidateSequencer sequencer(500);
  sequencer.receive(numbered(2), INT64_MAX - 10);
  EXPECT_EQ(sequencer.next_deadline_ms(), INT64_MAX);
  EXPECT_TRUE(sequencer.poll(INT64_MAX - 1, nullptr).empty());
  EXPECT_EQ(sequences(sequencer.poll(INT64_MAX, nullptr)), (Seqs{2}));
}

TEST(CandidateSequencer, ResetExpectsOneAgain) {
  CandidateSequencer sequencer;
  sequencer.receive(numbered(1), 0);
  sequencer.receive(numbered(2), 0);
  sequencer.receive(numbered(5), 0);
  sequencer.reset();
  EXPECT_EQ(sequencer.next_expected(), 1u);
  EXPECT_EQ(sequencer.held(), 0u);
  EXPECT_EQ(sequencer.next_deadline_ms(), -1);
  EXPECT_EQ(sequences(sequencer.receive(numbered(1), 0)), (Seqs{1}));
}

// --- CandidateRetryQueue ------------------------------------------------------------------

TEST(CandidateRetryQueue, RetriesAfterDelayUpToMaxAttempts) {
  CandidateRetryQueue queue(3, 200);
  const BufferedCandidate c = numbered(7);
  EXPECT_EQ(queue.next_deadline_ms(), -1);
  ASSERT_TRUE(queue.record_failure(c, 1000));
  EXPECT_EQ(queue.pending(), 1u);
  EXPECT_EQ(queue.next_deadline_ms(), 1200);
  EXPECT_TRUE(queue.take_due(1199).empty());
  auto due = queue.take_due(1200);
  ASSERT_EQ(sequences(due), (Seqs{7}));
  EXPECT_EQ(due[0].candidate, "c7");
  EXPECT_EQ(queue.pending(), 0u);
  EXPECT_EQ(queue.next_deadline_ms(), -1);
  ASSERT_TRUE(queue.record_failure(c, 1300));  // second failure
  EXPECT_EQ(queue.next_deadline_ms(), 1500);
  EXPECT_EQ(sequences(queue.take_due(1500)), (Seqs{7}));
  EXPECT_FALSE(queue.record_failure(c, 1600));  // third failure: give up
  EXPECT_EQ(queue.given_up(), 1u);
  EXPECT_EQ(queue.pending(), 0u);
  EXPECT_TRUE(queue.take_due(99999).empty());
  // A fresh failure of the same sequence after giving up starts counting again.
  EXPECT_TRUE(queue.record_failure(c, 2000));
}

TEST(CandidateRetryQueue, DueInAscendingSequence) {
  CandidateRetryQueue queue(3, 100);
  queue.record_failure(numbered(9), 0);
  queue.record_failure(numbered(2), 50);
  queue.record_failure(numbered(5), 10);
  EXPECT_EQ(queue.next_deadline_ms(), 100);
  EXPECT_EQ(sequences(queue.take_due(110)), (Seqs{5, 9}));
  EXPECT_EQ(queue.next_deadline_ms(), 150);
  EXPECT_EQ(sequences(queue.take_due(150)), (Seqs{2}));
}

TEST(CandidateRetryQueue, SuccessForgetsAttempts) {
  CandidateRetryQueue queue(2, 10);
  queue.record_failure(numbered(1), 0);
  queue.take_due(10);
  queue.record_success(1);
  EXPECT_TRUE(queue.record_failure(numbered(1), 20));  // counted as a first failure again
  EXPECT_FALSE(queue.record_failure(numbered(1), 30));
  EXPECT_EQ(queue.given_up(), 1u);
}

TEST(CandidateRetryQueue, SingleAttemptGivesUpAtOnce) {
  CandidateRetryQueue queue(1, 10);
  EXPECT_FALSE(queue.record_failure(numbered(4), 0));
  EXPECT_EQ(queue.pending(), 0u);
  EXPECT_EQ(queue.given_up(), 1u);
}

TEST(CandidateRetryQueue, ClearDropsPendingKeepsGivenUp) {
  CandidateRetryQueue queue(1, 10);
  queue.record_failure(numbered(1), 0);
  CandidateRetryQueue pending_queue(3, 10);
  pending_queue.record_failure(numbered(1), 0);
  pending_queue.record_failure(numbered(2), 0);
  pending_queue.clear();
  EXPECT_EQ(pending_queue.pending(), 0u);
  EXPECT_EQ(pending_queue.next_deadline_ms(), -1);
  EXPECT_TRUE(pending_queue.take_due(1000).empty());
  queue.clear();
  EXPECT_EQ(queue.given_up(), 1u);
}

}  // namespace
}  // namespace tourcast
