// What a client reading history needs, without sockets: the handshake's forms, which events
// are a user's, and whom the user followed at a past point.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>

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

// user_filter::scan, the catch-up loop, against the careful way it stands in for: every line
// framed, parsed with parse_event and given to notifies(). Streams as the log stores them,
// then with every kind of damage a line could have, must give the same lines and the same
// follows at the end.
using taken_lines = std::vector<std::pair<sequence_number, std::string>>;

taken_lines careful(user_filter& f, std::string_view lines, sequence_number first) {
  taken_lines out;
  sequence_number seq = first;
  while (!lines.empty()) {
    const auto nl = lines.find('\n');
    const std::string_view line = lines.substr(0, nl == std::string_view::npos ? lines.size() : nl + 1);
    lines.remove_prefix(line.size());
    std::string_view body = line;
    if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    const parse_result parsed = parse_event(body);
    if (parsed.status == parse_status::ok && f.notifies(event{seq, parsed.ev.type, parsed.ev.from, parsed.ev.to})) {
      out.emplace_back(seq, std::string(line));
    }
    ++seq;
  }
  return out;
}

taken_lines scanned(user_filter& f, std::string_view lines, sequence_number first) {
  taken_lines out;
  const std::uint64_t count = f.scan(lines, first, [&](sequence_number seq, std::string_view line) {
    out.emplace_back(seq, std::string(line));
  });
  EXPECT_EQ(count, static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), '\n')) +
                       (!lines.empty() && lines.back() != '\n' ? 1 : 0));
  return out;
}

std::string stored_line(std::mt19937_64& rng, sequence_number seq) {
  // Few users, so the filter's user is hit often; now and then a long id, or one that shares
  // the filter's bit with a user it follows (4096 apart).
  const auto id = [&] {
    static const std::vector<user_id> long_ids = {4096 + 3, 4096 * 5 + 7, 1234567, 12345678, 123456789012, 9999999};
    return std::to_string(rng() % 10 == 0 ? long_ids[rng() % long_ids.size()] : rng() % 12 + 1);
  };
  std::string line = std::to_string(seq);
  switch (rng() % 6) {
    case 0: line += "|F|" + id() + "|" + id(); break;
    case 1: line += "|U|" + id() + "|" + id(); break;
    case 2: line += "|B"; break;
    case 3: line += "|P|" + id() + "|" + id(); break;
    case 4: line += "|S|" + id(); break;
    default: return "\r\n";  // a no-op (a bad body's number)
  }
  return line + "\r\n";
}

// One kind of damage to a line; the careful way decides what it means.
std::string damaged(std::mt19937_64& rng, std::string line) {
  static const std::vector<std::string> replacements = {"0", "9", "|", "\r", "\n", "x", "B", "S", "18446744073709551616",
                                                        "99999999999999999999", "", "\r\n", "-", " "};
  switch (rng() % 5) {
    case 0:  // one byte replaced
      if (!line.empty()) line[rng() % line.size()] = replacements[rng() % 10][0];
      break;
    case 1:  // a piece inserted
      line.insert(rng() % (line.size() + 1), replacements[rng() % replacements.size()]);
      break;
    case 2:  // a byte removed
      if (!line.empty()) line.erase(rng() % line.size(), 1);
      break;
    case 3:  // a leading zero
      line = "0" + line;
      break;
    default:  // "\r\n" becomes "\n"
      if (line.size() >= 2 && line[line.size() - 2] == '\r') line.erase(line.size() - 2, 1);
      break;
  }
  return line;
}

TEST(UserFilter, ScanTakesWhatTheCarefulWayTakes) {
  std::mt19937_64 rng(20261126);
  for (int round = 0; round < 3000; ++round) {
    // Runs that cross a change in the sequence number's digit count.
    const sequence_number firsts[] = {1, 95 + rng() % 10, 999'990 + rng() % 20, 99'999'990 + rng() % 20};
    const sequence_number first = firsts[round % 4];
    std::string lines;
    const int count = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < count; ++i) {
      std::string line = stored_line(rng, first + static_cast<sequence_number>(i));
      if (round % 2 == 1 && rng() % 4 == 0) line = damaged(rng, line);
      lines += line;
    }
    if (round % 7 == 0 && !lines.empty()) lines.resize(rng() % lines.size());  // a cut run
    const ids following = {static_cast<user_id>(rng() % 12 + 1), static_cast<user_id>(rng() % 12 + 1)};
    const user_id user = rng() % 12 + 1;
    user_filter a(user, following);
    user_filter b(user, following);
    ASSERT_EQ(scanned(a, lines, first), careful(b, lines, first)) << "first " << first << ", lines:\n" << lines;
    ASSERT_EQ(ids(a.following().begin(), a.following().end()), ids(b.following().begin(), b.following().end()));
  }
}

// Users 4096 apart share a bit of the filter's quick "not followed" test: only the search may
// decide for them, before and after an unfollow.
TEST(UserFilter, UsersThatShareABitAreToldApart) {
  const user_id twin = 5 + 4096;
  const user_id far = 5 + user_id{4096} * 1'000'000;
  user_filter f(1, {5});
  EXPECT_EQ(scanned(f, "1|S|9\r\n2|S|" + std::to_string(twin) + "\r\n3|S|5\r\n4|S|" + std::to_string(far) + "\r\n", 1),
            (taken_lines{{3, "3|S|5\r\n"}}));
  const std::string lines = "5|U|1|5\r\n6|S|5\r\n7|F|1|" + std::to_string(twin) + "\r\n8|S|5\r\n9|S|" +
                            std::to_string(twin) + "\r\n10|U|1|" + std::to_string(twin) + "\r\n11|S|" +
                            std::to_string(twin) + "\r\n";
  EXPECT_EQ(scanned(f, lines, 5), (taken_lines{{9, "9|S|" + std::to_string(twin) + "\r\n"}}));
  EXPECT_TRUE(f.following().empty());
}

TEST(UserFilter, ScanOfAStoredRun) {
  user_filter f(5, {3});
  const std::string lines = "9|S|3\r\n10|P|1|5\r\n11|F|5|4\r\n\r\n13|S|4\r\n14|U|5|3\r\n15|S|3\r\n16|B\r\n";
  EXPECT_EQ(scanned(f, lines, 9), (taken_lines{{9, "9|S|3\r\n"}, {10, "10|P|1|5\r\n"}, {13, "13|S|4\r\n"}, {16, "16|B\r\n"}}));
  EXPECT_EQ(ids(f.following().begin(), f.following().end()), (ids{4}));
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
