// ICE candidate bookkeeping around webrtcbin: hold outgoing/incoming candidates until both
// session descriptions are set, put a peer's numbered candidates back in order, and retry
// candidates that webrtcbin failed to add.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tourcast {

struct BufferedCandidate {
  std::string candidate;
  uint32_t mline = 0;
  int64_t timestamp_ms = 0;
  uint64_t sequence = 0;
  uint32_t priority = 0;
};

// Priority (4th field) of an RFC 8839 candidate attribute, e.g.
// "candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ host". The "a=" and "candidate:" prefixes
// are optional. False when the attribute is malformed.
bool parse_candidate_priority(std::string_view candidate, uint32_t *priority);

// Releases candidates only once both the local and the remote description are set, in the
// order they were pushed.
class IceCandidateBuffer {
 public:
  struct PushResult {
    uint64_t sequence = 0;  // assigned to the pushed candidate, even if it was the one dropped
    bool dropped_one = false;
    BufferedCandidate dropped;
  };

  explicit IceCandidateBuffer(size_t capacity = 64);

  void set_local_description_set(bool set) { local_set_ = set; }
  void set_remote_description_set(bool set) { remote_set_ = set; }
  bool ready() const { return local_set_ && remote_set_; }

  // Numbers candidates 1, 2, 3, ... When full, drops the lowest-priority candidate among the
  // buffered ones and the newcomer, so a poor newcomer never evicts a better one; on equal
  // priority the newest goes.
  PushResult push(std::string candidate, uint32_t mline, uint32_t priority, int64_t now_ms);
  // Everything buffered, in ascending sequence, when ready(); otherwise nothing.
  std::vector<BufferedCandidate> take_ready();

  // Starts a new negotiation: discards the buffered candidates, numbers from 1 again and
  // forgets both descriptions. dropped_count() keeps counting.
  void clear();
  size_t size() const { return buffered_.size(); }
  size_t capacity() const { return capacity_; }
  uint64_t dropped_count() const { return dropped_count_; }
  uint64_t last_sequence() const { return last_sequence_; }

 private:
  size_t capacity_;
  bool local_set_ = false;
  bool remote_set_ = false;
  std::vector<BufferedCandidate> buffered_;  // ascending sequence
  uint64_t last_sequence_ = 0;
  uint64_t dropped_count_ = 0;
};

// Receiving side: the peer numbers its candidates 1, 2, 3, ...; deliver them in order, wait
// up to gap_wait_ms for a missing one and then skip it. Counters are lifetime statistics.
class CandidateSequencer {
 public:
  // Candidates at or beyond next_expected() + window are refused (out_of_window()), which
  // bounds both the memory held and the length of one skip.
  explicit CandidateSequencer(int64_t gap_wait_ms = 500, uint64_t window = 1024);

  // Candidates deliverable now, in order. Duplicates and already delivered/skipped (or 0)
  // sequences are ignored and counted in duplicates().
  std::vector<BufferedCandidate> receive(BufferedCandidate candidate, int64_t now_ms);
  // A gap expires gap_wait_ms after the first later candidate arrived. Skips every expired
  // gap (appending the missing sequences to *skipped, which may be nullptr) and returns what
  // became deliverable.
  std::vector<BufferedCandidate> poll(int64_t now_ms, std::vector<uint64_t> *skipped);
  // When poll() will next have work, or -1 when nothing is waiting.
  int64_t next_deadline_ms() const;

  uint64_t next_expected() const { return next_expected_; }
  size_t held() const { return held_.size(); }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t skipped_total() const { return skipped_total_; }
  uint64_t out_of_window() const { return out_of_window_; }
  // New peer session: expects sequence 1 again.
  void reset();

 private:
  struct Held {
    BufferedCandidate candidate;
    int64_t arrived_ms;
  };
  void deliver_consecutive(std::vector<BufferedCandidate> *out);

  int64_t gap_wait_ms_;
  uint64_t window_;
  uint64_t next_expected_ = 1;
  std::map<uint64_t, Held> held_;
  uint64_t duplicates_ = 0;
  uint64_t skipped_total_ = 0;
  uint64_t out_of_window_ = 0;
};

// Candidates webrtcbin refused to add, retried after a fixed delay, at most max_attempts
// times in total. Candidates are identified by their sequence.
class CandidateRetryQueue {
 public:
  explicit CandidateRetryQueue(int max_attempts = 3, int64_t retry_delay_ms = 200);

  // Records a failed attempt and schedules a retry at now_ms + retry_delay_ms. Returns false
  // (and counts it in given_up()) when this was the max_attempts-th failure.
  bool record_failure(const BufferedCandidate &candidate, int64_t now_ms);
  // Forgets the attempt count of a candidate that was finally added.
  void record_success(uint64_t sequence);
  // Retries that are due, in ascending sequence; they leave the queue but their attempt
  // count is kept until record_success() or give-up.
  std::vector<BufferedCandidate> take_due(int64_t now_ms);
  int64_t next_deadline_ms() const;  // -1 when nothing is pending
  size_t pending() const { return pending_.size(); }
  uint64_t given_up() const { return given_up_; }
  void clear();

 private:
  struct Pending {
    BufferedCandidate candidate;
    int64_t due_ms;
  };

  int max_attempts_;
  int64_t retry_delay_ms_;
  std::map<uint64_t, Pending> pending_;
  std::map<uint64_t, int> failures_;
  uint64_t given_up_ = 0;
};

}  // namespace tourcast
