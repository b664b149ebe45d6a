// What a client reading history needs, without sockets: the handshake's forms, which events
// are a user's, and whom the user followed at a past point.
#include <gtest/gtest.h>

#include "eventserver/core/graph_changes.hpp"
#include "eventserver/core/registration.hpp"
#include "eventserver/core/router.hpp"
#include "eventserver/core/user_filter.hpp"
#include "support/recording.hpp"

namespace eventserver {
namespace {

using ids = std::vector<user_id>;

TEST(Registration, TheFourFormsOfTheHandshake) {
  auto r = parse_registration("2932");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user, 2932u);
  EXPECT_FALSE(r->resumes());
  EXPECT_TRUE(r->token.empty());

  r = parse_registration("2932|41785");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 41785u);
  EXPECT_FALSE(r->epoch);

  r = parse_registration("2932|0|3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 0u);
  EXPECT_EQ(r->epoch, 3u);

  r = parse_registration("7|5|2 eyJhbGciOi.eyJzdWIi.sig");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user, 7u);
  EXPECT_EQ(r->token, "eyJhbGciOi.eyJzdWIi.sig");
  r = parse_registration("7 tok");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->token, "tok");
}

TEST(Registration, EverythingElseIsRefused) {
  for (const char* bad : {"", "abc", "-1", "1|", "|1", "1|x", "1|2|", "1|2|3|4", "1|2|0", "1 ", "1  tok", "1 a b",
                          "18446744073709551616", "1|18446744073709551616", " 1", "1|2 |3"}) {
    EXPECT_FALSE(parse_registration(bad)) << bad;
  }
}

TEST(UserFilter, DecidesAsTheRouterDoesAndTracksTheUsersFollows) {
  user_filter f(5, {9, 3});
  EXPECT_TRUE(f.notifies({1, event_type::status_update, 3, 0}));
  EXPECT_FALSE(f.notifies({2, event_type::status_update, 4, 0}));
  EXPECT_FALSE(f.notifies({3, event_type::follow, 5, 4}));  // 5 follows 4: 4 is notified, not 5
  EXPECT_TRUE(f.notifies({4, event_type::status_update, 4, 0}));
  EXPECT_TRUE(f.notifies({5, event_type::follow, 1, 5}));
  EXPECT_FALSE(f.notifies({6, event_type::unfollow, 5, 3}));
  EXPECT_FALSE(f.notifies({7, event_type::status_update, 3, 0}));
  EXPECT_TRUE(f.notifies({8, event_type::broadcast, 0, 0}));
  EXPECT_TRUE(f.notifies({9, event_type::private_message, 2, 5}));
  EXPECT_FALSE(f.notifies({10, event_type::private_message, 5, 2}));
  EXPECT_FALSE(f.notifies({11, event_type::no_op, 0, 0}));
  EXPECT_EQ(ids(f.following().begin(), f.following().end()), (ids{4, 9}));
}

// The router records every effective change; undoing a user's changes after N gives its
// follows at N, checked against the graph as it stood at each N.
TEST(GraphChanges, UndoingTheChangesAfterNGivesTheFollowsAtN) {
  counters stats;
  router r(stats);
  graph_changes changes(64);
  r.record_changes(changes);
  const std::vector<event> stream = {
      {1, event_type::follow, 1, 2},   {2, event_type::follow, 1, 3},   {3, event_type::follow, 1, 2},  // no change
      {4, event_type::unfollow, 1, 2}, {5, event_type::unfollow, 1, 9},                                // no change
      {6, event_type::follow, 4, 2},   {7, event_type::follow, 1, 2},   {8, event_type::unfollow, 1, 3},
  };
  std::vector<ids> at = {{}};  // at[n]: whom 1 follows after event n
  for (const auto& ev : stream) {
    r.apply(ev, "");
    const auto f = r.graph().following(1);
    at.emplace_back(f.begin(), f.end());
  }
  const auto now = r.graph().following(1);
  for (sequence_number n = 0; n <= 8; ++n) {
    const auto got = changes.following_at(1, n, 8, now);
    ASSERT_TRUE(got) << n;
    EXPECT_EQ(*got, at[n]) << "after " << n;
  }
  EXPECT_FALSE(changes.following_at(1, 9, 8, now));  // past what was applied
}

TEST(GraphChanges, AResumeFromBeforeTheRingReachesIsNotGuessed) {
  graph_changes changes(2);
  changes.record(10, 1, 2, true);
  changes.record(11, 1, 3, true);
  changes.record(12, 1, 4, true);  // 10 is overwritten: only what follows 10 is known
  const ids now = {2, 3, 4};
  EXPECT_FALSE(changes.following_at(1, 9, 12, now));
  EXPECT_EQ(*changes.following_at(1, 10, 12, now), (ids{2}));
  EXPECT_EQ(*changes.following_at(1, 11, 12, now), (ids{2, 3}));
  changes.reset(20);  // a recovery that replayed nothing after a snapshot at 20
  EXPECT_FALSE(changes.following_at(1, 19, 20, now));
  EXPECT_EQ(*changes.following_at(1, 20, 20, now), now);
}

TEST(GraphChanges, ANewStreamForgetsTheOldOne) {
  counters stats;
  router r(stats);
  graph_changes changes(8);
  r.record_changes(changes);
  r.apply({1, event_type::follow, 1, 2}, "");
  r.begin_stream(2);
  r.apply({1, event_type::follow, 1, 3}, "");
  EXPECT_EQ(*changes.following_at(1, 0, 1, r.graph().following(1)), ids{});
}

}  // namespace
}  // namespace eventserver
