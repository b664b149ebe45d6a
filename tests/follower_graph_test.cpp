#include "eventserver/follower_graph.hpp"

#include <gtest/gtest.h>

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
