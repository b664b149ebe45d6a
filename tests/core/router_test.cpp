#include "eventserver/core/router.hpp"

#include <gtest/gtest.h>

#include "support/recording.hpp"

namespace eventserver {
namespace {

using testing::recording_recipient;
using lines = std::vector<std::string>;

class RouterTest : public ::testing::Test {
 protected:
  void apply(std::string_view payload) {
    const auto parsed = parse_event(payload);
    ASSERT_EQ(parsed.status, parse_status::ok) << payload;
    routes.apply(parsed.ev, std::string(payload) + "\r\n");
  }

  counters stats;
  router routes{stats};
  recording_recipient alice, bob, carol;  // users 1, 2, 3
};

TEST_F(RouterTest, FollowNotifiesOnlyTheFollowed) {
  routes.connect(1, alice);
  routes.connect(2, bob);
  apply("1|F|1|2");
  EXPECT_EQ(bob.lines, lines{"1|F|1|2"});
  EXPECT_TRUE(alice.lines.empty());
  EXPECT_TRUE(routes.graph().follows(1, 2));
}

TEST_F(RouterTest, UnfollowNotifiesNobodyAndStopsStatusUpdates) {
  routes.connect(1, alice);
  routes.connect(2, bob);
  apply("1|F|1|2");
  apply("2|S|2");
  apply("3|U|1|2");
  apply("4|S|2");
  EXPECT_EQ(alice.lines, lines{"2|S|2"});
  EXPECT_EQ(bob.lines, lines{"1|F|1|2"});
  EXPECT_EQ(routes.connected_followers_of(2), 0u);
  EXPECT_EQ(routes.follower_count(2), 0u);
}

TEST_F(RouterTest, BroadcastReachesEveryConnection) {
  recording_recipient alice_phone;
  routes.connect(1, alice);
  routes.connect(1, alice_phone);
  routes.connect(2, bob);
  apply("9|B");
  EXPECT_EQ(alice.lines, lines{"9|B"});
  EXPECT_EQ(alice_phone.lines, lines{"9|B"});
  EXPECT_EQ(bob.lines, lines{"9|B"});
  EXPECT_EQ(stats.notifications_dropped_offline, 0u);
}

// A broadcast takes its list of connections afresh each time (and prefetches ahead of its
// walk): with more connections than it looks ahead, each gets each broadcast exactly once, and
// one that left between two broadcasts gets only the first.
TEST_F(RouterTest, BroadcastsReachManyConnectionsOnceEachAndNotOnesThatLeft) {
  std::vector<recording_recipient> many(100);
  for (std::size_t i = 0; i < many.size(); ++i) routes.connect(100 + i, many[i]);
  apply("1|B");
  routes.disconnect(100 + 42, many[42]);
  apply("2|B");
  for (std::size_t i = 0; i < many.size(); ++i) {
    EXPECT_EQ(many[i].lines, i == 42 ? lines{"1|B"} : (lines{"1|B", "2|B"})) << "connection " << i;
  }
}

// A user who already follows someone opens another connection (a second device): the new
// connection joins the audiences of everyone the user follows, and each connection leaves them
// on its own. Every other multi-connection test connects before the follow.
TEST_F(RouterTest, AConnectionOpenedAfterTheFollowGetsStatusUpdatesToo) {
  recording_recipient alice_phone, alice_tablet;
  routes.connect(1, alice);
  routes.connect(2, bob);
  apply("1|F|1|2");
  apply("2|F|1|3");
  routes.connect(1, alice_phone);  // after both follows
  apply("3|S|2");
  apply("4|S|3");
  EXPECT_EQ(alice.lines, (lines{"3|S|2", "4|S|3"}));
  EXPECT_EQ(alice_phone.lines, (lines{"3|S|2", "4|S|3"}));
  EXPECT_EQ(routes.connected_followers_of(2), 2u);

  routes.disconnect(1, alice);  // the first device goes: the phone still hears
  routes.connect(1, alice_tablet);
  apply("5|S|2");
  EXPECT_EQ(alice.lines, (lines{"3|S|2", "4|S|3"}));
  EXPECT_EQ(alice_phone.lines, (lines{"3|S|2", "4|S|3", "5|S|2"}));
  EXPECT_EQ(alice_tablet.lines, lines{"5|S|2"});
  EXPECT_EQ(stats.notifications_dropped_offline, 1u);  // only the follow of carol, who is offline

  routes.disconnect(1, alice_phone);
  routes.disconnect(1, alice_tablet);  // offline now: the update is dropped, counted once
  apply("6|S|2");
  EXPECT_EQ(alice_tablet.lines, lines{"5|S|2"});
  EXPECT_EQ(stats.notifications_dropped_offline, 2u);
  EXPECT_EQ(routes.connected_followers_of(2), 0u);
}

TEST_F(RouterTest, PrivateMessageReachesOnlyTheRecipient) {
  routes.connect(1, alice);
  routes.connect(2, bob);
  apply("5|P|1|2");
  EXPECT_EQ(bob.lines, lines{"5|P|1|2"});
  EXPECT_TRUE(alice.lines.empty());
}

TEST_F(RouterTest, StatusUpdateReachesExactlyTheCurrentFollowers) {
  routes.connect(1, alice);
  routes.connect(2, bob);
  routes.connect(3, carol);
  apply("1|F|1|3");
  apply("2|F|2|3");
  apply("3|S|3");
  apply("4|S|1");  // nobody follows 1
  EXPECT_EQ(alice.lines, lines{"3|S|3"});
  EXPECT_EQ(bob.lines, lines{"3|S|3"});
  EXPECT_EQ(carol.lines, (lines{"1|F|1|3", "2|F|2|3"}));
}

TEST_F(RouterTest, OfflineUsersAreDroppedButTheGraphStillChanges) {
  routes.connect(3, carol);
  apply("1|F|1|3");  // 1 is offline: follows anyway
  apply("2|P|3|1");  // to an offline user: dropped
  EXPECT_EQ(stats.notifications_dropped_offline, 1u);
  routes.connect(1, alice);
  apply("3|S|3");
  EXPECT_EQ(alice.lines, lines{"3|S|3"});
  EXPECT_EQ(routes.follower_count(3), 1u);
  routes.disconnect(1, alice);
  EXPECT_EQ(routes.connected_followers_of(3), 0u);
  EXPECT_EQ(routes.follower_count(3), 1u);
  apply("4|S|3");
  EXPECT_EQ(alice.lines, lines{"3|S|3"});
  EXPECT_EQ(stats.notifications_dropped_offline, 2u);  // the P, and 1 missing the second S
}

TEST_F(RouterTest, DisconnectRemovesOnlyThatConnection) {
  recording_recipient alice_phone;
  routes.connect(1, alice);
  routes.connect(1, alice_phone);
  routes.connect(2, bob);
  apply("1|F|1|2");
  routes.disconnect(1, alice_phone);
  routes.disconnect(1, carol);  // never registered as 1: no effect
  apply("2|S|2");
  EXPECT_EQ(alice.lines, lines{"2|S|2"});
  EXPECT_TRUE(alice_phone.lines.empty());
  EXPECT_EQ(routes.connections_of(1), 1u);
  EXPECT_EQ(routes.connections(), 2u);
}

TEST_F(RouterTest, ReconnectingUserRejoinsItsFollowedUsersAudience) {
  routes.connect(1, alice);
  apply("1|F|1|2");
  apply("2|F|1|3");
  EXPECT_EQ(routes.connected_followers_of(2), 1u);
  routes.disconnect(1, alice);
  EXPECT_EQ(routes.connected_followers_of(2), 0u);
  EXPECT_EQ(routes.connected_users(), 0u);
  recording_recipient alice_again;
  routes.connect(1, alice_again);
  EXPECT_EQ(routes.connected_followers_of(2), 1u);
  EXPECT_EQ(routes.connected_followers_of(3), 1u);
  apply("3|S|3");
  EXPECT_EQ(alice_again.lines, lines{"3|S|3"});
}

TEST_F(RouterTest, RepeatedFollowDoesNotDuplicateStatusUpdates) {
  routes.connect(1, alice);
  apply("1|F|1|2");
  apply("2|F|1|2");
  apply("3|S|2");
  EXPECT_EQ(alice.lines, lines{"3|S|2"});
}

TEST_F(RouterTest, NoOpChangesNothing) {
  routes.connect(1, alice);
  routes.apply(event{1, event_type::no_op, 0, 0}, "1|X");
  EXPECT_TRUE(alice.lines.empty());
  EXPECT_EQ(routes.graph().edge_count(), 0u);
}

}  // namespace
}  // namespace eventserver

namespace eventserver {
namespace {

TEST_F(RouterTest, UserWithTwoConnectionsCountsOnceForOfflineDrops) {
  recording_recipient alice_phone;
  routes.connect(1, alice);
  routes.connect(1, alice_phone);
  apply("1|F|1|3");
  apply("2|F|2|3");  // 2 is offline
  apply("3|S|3");
  EXPECT_EQ(alice.lines, lines{"3|S|3"});
  EXPECT_EQ(alice_phone.lines, lines{"3|S|3"});
  // Two follows to offline user 3, then the S misses user 2 only.
  EXPECT_EQ(stats.notifications_dropped_offline, 3u);
  EXPECT_EQ(routes.connected_followers_of(3), 2u);  // two connections of one user
  routes.disconnect(1, alice_phone);
  apply("4|S|3");
  EXPECT_EQ(alice.lines, (lines{"3|S|3", "4|S|3"}));
  EXPECT_EQ(stats.notifications_dropped_offline, 4u);
  routes.disconnect(1, alice);
  apply("5|S|3");
  EXPECT_EQ(stats.notifications_dropped_offline, 6u);  // both followers offline now
  apply("6|U|1|3");
  apply("7|S|3");
  EXPECT_EQ(stats.notifications_dropped_offline, 7u);
  EXPECT_EQ(routes.follower_count(3), 1u);
}

}  // namespace
}  // namespace eventserver
