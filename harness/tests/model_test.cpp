#include "followermaze/expectation_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "followermaze/event_generator.hpp"

namespace followermaze {
namespace {

// Applies one event and returns the connections that must receive it, in delivery order.
std::vector<connection_index> recipients(expectation_model& model, const event& e) {
  std::vector<connection_index> out;
  model.apply(e, [&](connection_index c) { out.push_back(c); });
  return out;
}

using list = std::vector<connection_index>;

event follow(std::uint64_t seq, user_id from, user_id to) { return {seq, from, to, event_kind::follow, 0}; }
event unfollow(std::uint64_t seq, user_id from, user_id to) { return {seq, from, to, event_kind::unfollow, 0}; }
event status(std::uint64_t seq, user_id from) { return {seq, from, 0, event_kind::status_update, 0}; }
event message(std::uint64_t seq, user_id from, user_id to) { return {seq, from, to, event_kind::private_message, 0}; }
event broadcast(std::uint64_t seq) { return {seq, 0, 0, event_kind::broadcast, 0}; }

TEST(Model, FollowNotifiesTheFollowedOnly) {
  expectation_model model(10);
  const auto alice = model.add_connection(1);
  const auto bob = model.add_connection(2);
  EXPECT_EQ(recipients(model, follow(1, 1, 2)), (list{bob}));
  EXPECT_EQ(recipients(model, follow(2, 2, 1)), (list{alice}));
  // To a user with no connection: dropped, but the edge exists.
  EXPECT_EQ(recipients(model, follow(3, 1, 7)), list{});
  EXPECT_TRUE(model.graph().follows(1, 7));
}

TEST(Model, UnfollowNotifiesNobodyAndRemovesTheEdge) {
  expectation_model model(10);
  model.add_connection(1);
  model.add_connection(2);
  recipients(model, follow(1, 1, 2));
  EXPECT_EQ(recipients(model, unfollow(2, 1, 2)), list{});
  EXPECT_FALSE(model.graph().follows(1, 2));
  EXPECT_EQ(recipients(model, status(3, 2)), list{});
  // Unfollowing a non-edge changes nothing.
  EXPECT_EQ(recipients(model, unfollow(4, 3, 4)), list{});
  EXPECT_EQ(model.graph().edge_count(), 0U);
}

TEST(Model, StatusUpdateReachesCurrentConnectedFollowers) {
  expectation_model model(10);
  const auto one = model.add_connection(1);
  const auto three = model.add_connection(3);
  recipients(model, follow(1, 1, 5));
  recipients(model, follow(2, 3, 5));
  recipients(model, follow(3, 4, 5));  // 4 is not connected
  recipients(model, follow(4, 5, 1));  // 5 follows 1, not the other way round
  EXPECT_EQ(recipients(model, status(5, 5)), (list{one, three}));
  recipients(model, unfollow(6, 1, 5));
  EXPECT_EQ(recipients(model, status(7, 5)), (list{three}));
  EXPECT_EQ(recipients(model, status(8, 1)), list{});  // 1's follower 5 is not connected
  EXPECT_EQ(recipients(model, status(9, 9)), list{});  // no followers
}

TEST(Model, FollowIsASet) {
  expectation_model model(10);
  const auto two = model.add_connection(2);
  EXPECT_EQ(recipients(model, follow(1, 2, 3)), list{});
  EXPECT_EQ(recipients(model, follow(2, 2, 3)), list{});  // re-follow: still one edge
  EXPECT_EQ(model.graph().edge_count(), 1U);
  EXPECT_EQ(recipients(model, status(3, 3)), (list{two}));
  recipients(model, unfollow(4, 2, 3));  // one unfollow undoes both follows
  EXPECT_EQ(recipients(model, status(5, 3)), list{});
}

TEST(Model, PrivateMessageReachesTheAddresseeOnly) {
  expectation_model model(10);
  model.add_connection(1);
  const auto two = model.add_connection(2);
  EXPECT_EQ(recipients(model, message(1, 1, 2)), (list{two}));
  EXPECT_EQ(recipients(model, message(2, 2, 9)), list{});
}

TEST(Model, BroadcastReachesEveryConnection) {
  expectation_model model(10);
  model.add_connection(4);
  model.add_connection(2);
  model.add_connection(4);
  EXPECT_EQ(recipients(model, broadcast(1)), (list{0, 1, 2}));
}

TEST(Model, EveryConnectionOfAUserGetsEverything) {
  expectation_model model(10);
  const auto first = model.add_connection(6);
  const auto other = model.add_connection(7);
  const auto second = model.add_connection(6);
  EXPECT_EQ(model.connection_count(), 3U);
  EXPECT_EQ(model.connection_user(second), 6U);
  EXPECT_EQ(recipients(model, follow(1, 7, 6)), (list{first, second}));
  EXPECT_EQ(recipients(model, message(2, 1, 6)), (list{first, second}));
  recipients(model, follow(3, 6, 1));
  EXPECT_EQ(recipients(model, status(4, 1)), (list{first, second}));
  EXPECT_EQ(recipients(model, follow(5, 6, 7)), (list{other}));
}

TEST(Model, BadBodyIsANoOp) {
  expectation_model model(10);
  model.add_connection(1);
  model.add_connection(2);
  EXPECT_EQ(recipients(model, event{1, 1, 2, event_kind::bad_body, 1}), list{});
  EXPECT_EQ(model.graph().edge_count(), 0U);
}

TEST(Model, RejectsUsersPastTheRange) {
  expectation_model model(3);
  EXPECT_THROW(model.add_connection(4), std::out_of_range);
}

TEST(Model, StatusRecipientsMatchABruteForceWalkOfTheGraph) {
  // The model walks only connected followers; check it against every follower of the graph.
  generator_settings settings;
  settings.number_of_users = 200;
  settings.avg_follows = 5;
  expectation_model model(settings.number_of_users);
  const auto connected = choose_connected_users(settings.number_of_users, 20, 1);
  for (const auto user : connected) model.add_connection(user);
  model.add_connection(connected[0]);
  event_generator generator(settings, model.graph());
  std::size_t statuses = 0;
  for (int i = 0; i < 200'000; ++i) {
    const event e = generator.next();
    if (e.kind == event_kind::status_update) {
      std::vector<connection_index> expected;
      for (const auto& f : model.graph().followers(e.from)) {
        for (connection_index c = 0; c < model.connection_count(); ++c) {
          if (model.connection_user(c) == f.id) expected.push_back(c);
        }
      }
      auto got = recipients(model, e);
      std::sort(expected.begin(), expected.end());
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, expected) << "event " << e.seq;
      statuses += got.empty() ? 0 : 1;
    } else {
      model.apply(e, [](connection_index) {});
    }
  }
  EXPECT_GT(statuses, 10'000U);  // the check saw real fan-out
}

TEST(Graph, RemovalKeepsBothViewsConsistent) {
  follower_graph graph(10);
  EXPECT_TRUE(graph.follow(1, 2));
  EXPECT_TRUE(graph.follow(3, 2));
  EXPECT_TRUE(graph.follow(4, 5));
  EXPECT_TRUE(graph.follow(6, 2));
  EXPECT_FALSE(graph.follow(3, 2));
  EXPECT_EQ(graph.edge_count(), 4U);
  EXPECT_TRUE(graph.unfollow(1, 2));  // the last edge (6->2) moves into slot 0
  EXPECT_FALSE(graph.unfollow(1, 2));
  EXPECT_EQ(graph.edge_count(), 3U);
  // Every follower entry names the slot of its own edge.
  for (user_id u = 0; u <= graph.max_user(); ++u) {
    for (const auto& f : graph.followers(u)) {
      ASSERT_LT(f.edge_index, graph.edge_count());
      EXPECT_EQ(graph.edge_at(f.edge_index).from, f.id);
      EXPECT_EQ(graph.edge_at(f.edge_index).to, u);
    }
  }
  EXPECT_TRUE(graph.unfollow(6, 2));
  EXPECT_TRUE(graph.unfollow(4, 5));
  EXPECT_TRUE(graph.unfollow(3, 2));
  EXPECT_EQ(graph.edge_count(), 0U);
  EXPECT_TRUE(graph.followers(2).empty());
}

}  // namespace
}  // namespace followermaze
