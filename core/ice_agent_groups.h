// Which shared ICE agent a new peer of the guide goes on.
//
// libnice paces connectivity checks per agent (one check per Ta for all of its streams) and
// its check retransmission timeout grows with the agent's pairs in progress, so one agent for
// every peer makes the checks of a join storm queue behind each other. The guide spreads its
// peers over groups of at most `capacity` peers, one agent (and thread) each: a new group when
// every group is full, a group freed when its last peer leaves. Pure: the caller makes and
// frees the agents the groups stand for.
#pragma once

#include <cstddef>
#include <vector>

namespace tourcast {

class IceAgentGroups {
 public:
  // Peers per group (per agent); 0 counts as 1.
  explicit IceAgentGroups(size_t capacity);

  struct Placement {
    size_t group;    // index of the group, reused once freed
    bool new_group;  // the caller makes its agent
  };

  // A peer joins: the group with the fewest peers among those with room (the lowest index of
  // equals, so checks spread and few groups stay half empty), or a new group in the lowest
  // free index when all are full.
  Placement join();

  // A peer of @group leaves. True when that was its last peer: the group is freed (the caller
  // drops its agent). Leaving a group that has no peers is ignored (false).
  bool leave(size_t group);

  // For later joins; groups fuller than that keep their peers. 0 counts as 1.
  void set_capacity(size_t capacity);
  size_t capacity() const { return capacity_; }
  // Groups with at least one peer.
  size_t group_count() const;
  size_t peers_in(size_t group) const;

 private:
  size_t capacity_;
  std::vector<size_t> peers_;  // per group index; 0: free
};

}  // namespace tourcast
