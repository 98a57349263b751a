#include "ice_agent_groups.h"

#include <algorithm>

namespace tourcast {

IceAgentGroups::IceAgentGroups(size_t capacity) {
  set_capacity(capacity);
}

void IceAgentGroups::set_capacity(size_t capacity) {
  capacity_ = std::max<size_t>(capacity, 1);
}

IceAgentGroups::Placement IceAgentGroups::join() {
  size_t best = peers_.size();
  for (size_t i = 0; i < peers_.size(); i++) {
    if (peers_[i] == 0 || peers_[i] >= capacity_)
      continue;
    if (best == peers_.size() || peers_[i] < peers_[best])
      best = i;
  }
  if (best != peers_.size()) {
    peers_[best]++;
    return {best, false};
  }
  const auto free_slot = std::find(peers_.begin(), peers_.end(), 0u);
  const size_t group = static_cast<size_t>(free_slot - peers_.begin());
  if (free_slot == peers_.end())
    peers_.push_back(0);
  peers_[group] = 1;
  return {group, true};
}

bool IceAgentGroups::leave(size_t group) {
  if (group >= peers_.size() || peers_[group] == 0)
    return false;
  peers_[group]--;
  if (peers_[group] > 0)
    return false;
  while (!peers_.empty() && peers_.back() == 0)
    peers_.pop_back();
  return true;
}

size_t IceAgentGroups::group_count() const {
  return static_cast<size_t>(
      std::count_if(peers_.begin(), peers_.end(), [](size_t n) { return n > 0; }));
}

size_t IceAgentGroups::peers_in(size_t group) const {
  return group < peers_.size() ? peers_[group] : 0;
}

}  // namespace tourcast
