#include "eventserver/core/follower_graph.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include <vector>

namespace eventserver {
namespace {

std::vector<user_id> list(std::span<const user_id> s) { return {s.begin(), s.end()}; }

TEST(FollowerGraph, FollowAddsOneEdgeOnce) {
  follower_graph g;
  EXPECT_TRUE(g.follow(1, 2));
  EXPECT_FALSE(g.follow(1, 2));
  EXPECT_TRUE(g.follows(1, 2));
  EXPECT_FALSE(g.follows(2, 1));
  EXPECT_EQ(g.edge_count(), 1u);
}

TEST(FollowerGraph, FollowingIsSorted) {
  follower_graph g;
  for (user_id to : {9, 3, 7, 1, 5}) g.follow(42, to);
  EXPECT_EQ(list(g.following(42)), (std::vector<user_id>{1, 3, 5, 7, 9}));
  EXPECT_TRUE(g.following(43).empty());
}

TEST(FollowerGraph, UnfollowRemovesOnlyThatEdge) {
  follower_graph g;
  g.follow(1, 2);
  g.follow(1, 3);
  g.follow(4, 2);
  EXPECT_TRUE(g.unfollow(1, 2));
  EXPECT_FALSE(g.unfollow(1, 2));
  EXPECT_FALSE(g.unfollow(9, 9));
  EXPECT_EQ(list(g.following(1)), std::vector<user_id>{3});
  EXPECT_EQ(g.edge_count(), 2u);
}

TEST(FollowerGraph, EmptyListsAreReleased) {
  follower_graph g;
  g.follow(1, 2);
  g.unfollow(1, 2);
  EXPECT_EQ(g.edge_count(), 0u);
  EXPECT_TRUE(g.following(1).empty());
}

// One user's list through thousands of random follows and unfollows, checked against a set.
TEST(FollowerGraph, ShortAndLongListsAgreeWithASet) {
  follower_graph g;
  std::set<user_id> expected;
  std::mt19937_64 rng(9);
  for (int step = 0; step < 20000; ++step) {
    const user_id to = rng() % 300;
    if (rng() % 3 == 0) {
      EXPECT_EQ(g.unfollow(7, to), expected.erase(to) == 1) << "step " << step;
    } else {
      EXPECT_EQ(g.follow(7, to), expected.insert(to).second) << "step " << step;
    }
    if (step % 1000 == 0) {
      const auto list = g.following(7);
      ASSERT_TRUE(std::equal(list.begin(), list.end(), expected.begin(), expected.end())) << "step " << step;
    }
  }
  for (user_id to = 0; to < 300; ++to) EXPECT_EQ(g.follows(7, to), expected.contains(to));
  EXPECT_EQ(g.edge_count(), expected.size());
}

TEST(FollowerGraph, ExtremeIdsAreOrdinaryIds) {
  follower_graph g;
  const user_id max = 18446744073709551615ULL;
  g.follow(max, 0);
  g.follow(0, max);
  EXPECT_TRUE(g.follows(max, 0));
  EXPECT_TRUE(g.follows(0, max));
}

}  // namespace
}  // namespace eventserver
