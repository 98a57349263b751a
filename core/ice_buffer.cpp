#include "ice_buffer.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace tourcast {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ice_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '/';
}

bool parse_decimal(std::string_view digits, size_t max_digits, uint64_t max_value,
                   uint64_t *value) {
  if (digits.empty() || digits.size() > max_digits)
    return false;
  uint64_t result = 0;
  for (char c : digits) {
    if (!is_digit(c))
      return false;
    result = result * 10 + static_cast<uint64_t>(c - '0');
  }
  if (result > max_value)
    return false;
  *value = result;
  return true;
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find(' ', pos), text.size());
    if (end > pos)
      fields.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return fields;
}

void strip_prefix(std::string_view *text, std::string_view prefix) {
  if (text->substr(0, prefix.size()) == prefix)
    text->remove_prefix(prefix.size());
}

}  // namespace

bool parse_candidate_priority(std::string_view candidate, uint32_t *priority) {
  strip_prefix(&candidate, "a=");
  strip_prefix(&candidate, "candidate:");
  while (!candidate.empty() && (candidate.back() == '\r' || candidate.back() == '\n')) {
    candidate.remove_suffix(1);
  }
  // foundation component transport priority address port "typ" type [extensions...]
  const std::vector<std::string_view> fields = split_fields(candidate);
  if (fields.size() < 8)
    return false;
  const std::string_view foundation = fields[0];
  if (foundation.size() > 32 || !std::all_of(foundation.begin(), foundation.end(), is_ice_char)) {
    return false;
  }
  uint64_t component = 0, value = 0, port = 0;
  if (!parse_decimal(fields[1], 5, 99999, &component))
    return false;
  if (!parse_decimal(fields[3], 10, std::numeric_limits<uint32_t>::max(), &value))
    return false;
  if (!parse_decimal(fields[5], 5, 65535, &port))
    return false;
  if (fields[6] != "typ")
    return false;
  *priority = static_cast<uint32_t>(value);
  return true;
}

IceCandidateBuffer::IceCandidateBuffer(size_t capacity) : capacity_(capacity) {}

IceCandidateBuffer::PushResult IceCandidateBuffer::push(std::string candidate, uint32_t mline,
                                                        uint32_t priority, int64_t now_ms) {
  PushResult result;
  result.sequence = ++last_sequence_;
  BufferedCandidate incoming{std::move(candidate), mline, now_ms, result.sequence, priority};
  if (buffered_.size() < capacity_) {
    buffered_.push_back(std::move(incoming));
    return result;
  }
  // Lowest priority loses; among equals the newest (highest sequence), which the newcomer
  // always is, so it also loses every tie with a buffered candidate.
  auto victim = buffered_.end();
  for (auto it = buffered_.begin(); it != buffered_.end(); ++it) {
    if (victim == buffered_.end() || it->priority <= victim->priority)
      victim = it;
  }
  result.dropped_one = true;
  ++dropped_count_;
  if (victim == buffered_.end() || incoming.priority <= victim->priority) {
    result.dropped = std::move(incoming);
    return result;
  }
  result.dropped = std::move(*victim);
  buffered_.erase(victim);
  buffered_.push_back(std::move(incoming));
  return result;
}

std::vector<BufferedCandidate> IceCandidateBuffer::take_ready() {
  if (!ready())
    return {};
  std::vector<BufferedCandidate> released;
  released.swap(buffered_);
  return released;
}

void IceCandidateBuffer::clear() {
  buffered_.clear();
  last_sequence_ = 0;
  local_set_ = false;
  remote_set_ = false;
}

CandidateSequencer::CandidateSequencer(int64_t gap_wait_ms, uint64_t window)
    : gap_wait_ms_(std::max<int64_t>(gap_wait_ms, 0)), window_(std::max<uint64_t>(window, 1)) {}

std::vector<BufferedCandidate> CandidateSequencer::receive(BufferedCandidate candidate,
                                                           int64_t now_ms) {
  const uint64_t sequence = candidate.sequence;
  if (sequence < next_expected_ || held_.count(sequence) != 0) {
    ++duplicates_;
    return {};
  }
  if (sequence - next_expected_ >= window_) {
    ++out_of_window_;
    return {};
  }
  held_.emplace(sequence, Held{std::move(candidate), now_ms});
  std::vector<BufferedCandidate> deliverable;
  deliver_consecutive(&deliverable);
  return deliverable;
}

std::vector<BufferedCandidate> CandidateSequencer::poll(int64_t now_ms,
                                                        std::vector<uint64_t> *skipped) {
  std::vector<BufferedCandidate> deliverable;
  for (int64_t deadline = next_deadline_ms(); deadline >= 0 && now_ms >= deadline;
       deadline = next_deadline_ms()) {
    const uint64_t next_held = held_.begin()->first;
    for (uint64_t missing = next_expected_; missing < next_held; ++missing) {
      if (skipped != nullptr)
        skipped->push_back(missing);
      ++skipped_total_;
    }
    next_expected_ = next_held;
    deliver_consecutive(&deliverable);
  }
  return deliverable;
}

int64_t CandidateSequencer::next_deadline_ms() const {
  if (held_.empty())
    return -1;
  // The gap at next_expected_ became known when the first later candidate arrived.
  int64_t first_arrival = std::numeric_limits<int64_t>::max();
  for (const auto &entry : held_)
    first_arrival = std::min(first_arrival, entry.second.arrived_ms);
  if (first_arrival > std::numeric_limits<int64_t>::max() - gap_wait_ms_) {
    return std::numeric_limits<int64_t>::max();
  }
  return first_arrival + gap_wait_ms_;
}

void CandidateSequencer::reset() {
  next_expected_ = 1;
  held_.clear();
}

void CandidateSequencer::deliver_consecutive(std::vector<BufferedCandidate> *out) {
  while (!held_.empty() && held_.begin()->first == next_expected_) {
    out->push_back(std::move(held_.begin()->second.candidate));
    held_.erase(held_.begin());
    ++next_expected_;
  }
}

CandidateRetryQueue::CandidateRetryQueue(int max_attempts, int64_t retry_delay_ms)
    : max_attempts_(std::max(max_attempts, 1)),
      retry_delay_ms_(std::max<int64_t>(retry_delay_ms, 0)) {}

bool CandidateRetryQueue::record_failure(const BufferedCandidate &candidate, int64_t now_ms) {
  const uint64_t sequence = candidate.sequence;
  if (++failures_[sequence] >= max_attempts_) {
    failures_.erase(sequence);
    pending_.erase(sequence);
    ++given_up_;
    return false;
  }
  const int64_t due = now_ms > std::numeric_limits<int64_t>::max() - retry_delay_ms_
                          ? std::numeric_limits<int64_t>::max()
                          : now_ms + retry_delay_ms_;
  pending_[sequence] = Pending{candidate, due};
  return true;
}

void CandidateRetryQueue::record_success(uint64_t sequence) {
  failures_.erase(sequence);
  pending_.erase(sequence);
}

std::vector<BufferedCandidate> CandidateRetryQueue::take_due(int64_t now_ms) {
  std::vector<BufferedCandidate> due;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.due_ms <= now_ms) {
      due.push_back(std::move(it->second.candidate));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

int64_t CandidateRetryQueue::next_deadline_ms() const {
  int64_t next = -1;
  for (const auto &entry : pending_) {
    if (next < 0 || entry.second.due_ms < next)
      next = entry.second.due_ms;
  }
  return next;
}

void CandidateRetryQueue::clear() {
  pending_.clear();
  failures_.clear();
}

}  // namespace tourcast
