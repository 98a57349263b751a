// The order in which an answering peer (an attendee's tourwebrtcbin) takes its guide's offers.
//
// webrtcbin answers one offer at a time: an offer set while the answer to the previous one is
// still being created or set makes two answers, and setting the second fails with "Not in the
// correct state (stable) for setting local answer description", which fails the connection.
// And an offer of a session the attendee has left (its recovery started a new one) must not
// be answered at all. So an offer is answered at once only when no answer is in progress; one
// that arrives meanwhile waits (a newer one replaces it: the guide's latest offer is the one
// that counts) and is taken once that answer is set or failed; offers of retired sessions are
// dropped. Pure: sessions are strings, the waiting offer an opaque value of the caller's.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>

namespace tourcast {

template <typename Offer>
class OfferOrder {
 public:
  enum class Verdict {
    kAnswer,  // answer it now: an answer is in progress from now on
    kHeld,    // wait for the answer in progress (replaces an offer already waiting)
    kStale,   // a session this peer left: ignore it
  };

  // An offer of `session` arrived.
  Verdict arrived(const std::string &session, Offer offer) {
    if (retired_.count(session))
      return Verdict::kStale;
    if (answering_) {
      held_ = std::make_pair(session, std::move(offer));
      return Verdict::kHeld;
    }
    answering_ = true;
    return Verdict::kAnswer;
  }

  // The caller did not answer the offer arrived() said to answer (e.g. not for this peer).
  void declined() { answering_ = false; }

  // The answer in progress was set, or its negotiation failed. Returns the offer that waited,
  // if any, to pass to arrived() again (its session may have been retired meanwhile).
  std::optional<std::pair<std::string, Offer>> answered() {
    answering_ = false;
    std::optional<std::pair<std::string, Offer>> next;
    next.swap(held_);
    return next;
  }

  // Offers of `session` are never answered again (a waiting one is dropped).
  void retire(const std::string &session) {
    if (session.empty())
      return;
    retired_.insert(session);
    if (held_ && held_->first == session)
      held_.reset();
  }
  bool retired(const std::string &session) const { return retired_.count(session) > 0; }
  const std::set<std::string> &retired_sessions() const { return retired_; }

  bool answering() const { return answering_; }
  bool holding() const { return held_.has_value(); }

 private:
  bool answering_ = false;
  std::optional<std::pair<std::string, Offer>> held_;
  std::set<std::string> retired_;
};

}  // namespace tourcast
