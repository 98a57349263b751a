#include "ice_agent_groups.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

// A script of joins (+) and leaves (-g: a peer of group g leaves), and what each step gives.
struct Step {
  int leave_group;  // -1: a join
  size_t group;     // join: where it went
  bool created;     // join: a new group; leave: the group was freed
};

void run(size_t capacity, const std::vector<Step> &steps, const std::string &name) {
  IceAgentGroups groups(capacity);
  for (size_t i = 0; i < steps.size(); i++) {
    const Step &s = steps[i];
    if (s.leave_group < 0) {
      const IceAgentGroups::Placement p = groups.join();
      EXPECT_EQ(p.group, s.group) << name << " step " << i;
      EXPECT_EQ(p.new_group, s.created) << name << " step " << i;
    } else {
      EXPECT_EQ(groups.leave(static_cast<size_t>(s.leave_group)), s.created)
          << name << " step " << i;
    }
  }
}

TEST(IceAgentGroups, PlacesJoinsAndFreesEmptyGroups) {
  const int J = -1;
  run(2, {{J, 0, true}, {J, 0, false}, {J, 1, true}, {J, 1, false}, {J, 2, true}},
      "fills in order");
  run(3, {{J, 0, true}, {J, 0, false}, {J, 0, false}, {J, 1, true}, {0, 0, false}, {J, 1, false}},
      "the least full group with room: 0 has 2 peers, 1 has 1");
  run(2, {{J, 0, true}, {J, 0, false}, {J, 1, true}, {0, 0, false}, {0, 0, true}, {J, 1, false}},
      "group 0 freed: the join goes to 1, which has room, not to a new group");
  run(2, {{J, 0, true}, {J, 0, false}, {J, 1, true}, {J, 1, false}, {0, 0, false}, {J, 0, false}},
      "room made by a leave is used before a new group");
  run(1, {{J, 0, true}, {J, 1, true}, {J, 2, true}, {1, 0, true}, {J, 1, true}},
      "capacity 1: an agent per peer, the freed index reused");
  run(0, {{J, 0, true}, {J, 1, true}}, "capacity 0 counts as 1");
  run(4, {{5, 0, false}, {0, 0, false}, {J, 0, true}, {0, 0, true}, {0, 0, false}},
      "leaving a group that has no peers is ignored");
}

TEST(IceAgentGroups, LeastFullGroupWithRoom) {
  IceAgentGroups groups(3);
  for (int i = 0; i < 6; i++)
    groups.join();  // groups 0 and 1 full
  EXPECT_EQ(groups.group_count(), 2u);
  groups.leave(0);
  groups.leave(1);
  groups.leave(1);  // 0: 2 peers, 1: 1 peer
  const IceAgentGroups::Placement p = groups.join();
  EXPECT_EQ(p.group, 1u);
  EXPECT_FALSE(p.new_group);
  EXPECT_EQ(groups.peers_in(0), 2u);
  EXPECT_EQ(groups.peers_in(1), 2u);
  EXPECT_EQ(groups.peers_in(7), 0u);
}

TEST(IceAgentGroups, HundredJoinsOnGroupsOfSixteenThenAllLeave) {
  IceAgentGroups groups(16);
  std::vector<size_t> placed;
  for (int i = 0; i < 100; i++)
    placed.push_back(groups.join().group);
  EXPECT_EQ(groups.group_count(), 7u);  // ceil(100 / 16)
  for (size_t g = 0; g < 6; g++)
    EXPECT_EQ(groups.peers_in(g), 16u) << g;
  EXPECT_EQ(groups.peers_in(6), 4u);
  size_t freed = 0;
  for (size_t g : placed)
    freed += groups.leave(g) ? 1 : 0;
  EXPECT_EQ(freed, 7u);
  EXPECT_EQ(groups.group_count(), 0u);
  EXPECT_EQ(groups.join().group, 0u);
}

}  // namespace
}  // namespace tourcast
