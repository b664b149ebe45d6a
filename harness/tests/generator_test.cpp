#include "followermaze/event_generator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <vector>

#include "followermaze/expectation_model.hpp"

namespace followermaze {
namespace {

std::vector<event> generate(const generator_settings& settings, std::size_t n) {
  expectation_model model(settings.number_of_users + settings.stuck_users);
  event_generator generator(settings, model.graph());
  std::vector<event> events;
  for (std::size_t i = 0; i < n; ++i) {
    events.push_back(generator.next());
    model.apply(events.back(), [](connection_index) {});
  }
  return events;
}

bool same(const event& a, const event& b) {
  return a.seq == b.seq && a.kind == b.kind && a.from == b.from && a.to == b.to && a.variant == b.variant;
}

TEST(Prng, SameSeedSameStreamAndBoundsHold) {
  prng a(42);
  prng b(42);
  prng c(43);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
  }
  EXPECT_TRUE(differs);
  for (std::uint64_t bound : {1ULL, 2ULL, 3ULL, 7ULL, 1000ULL, (1ULL << 63) + 1}) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(a.below(bound), bound);
  }
  EXPECT_FALSE(a.chance(0.0));
  EXPECT_TRUE(a.chance(1.0));
}

TEST(Prng, ShuffleIsAPermutation) {
  std::array<int, 50> items{};
  for (int i = 0; i < 50; ++i) items[static_cast<std::size_t>(i)] = i;
  prng rng(7);
  shuffle(std::span<int>(items), rng);
  auto sorted = items;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_FALSE(std::is_sorted(items.begin(), items.end()));
}

TEST(Mix, PickKindUsesCumulativeRanges) {
  const event_mix mix = named_mixes[0].mix;
  EXPECT_EQ(pick_kind(mix, 0), event_kind::broadcast);
  EXPECT_EQ(pick_kind(mix, 99), event_kind::broadcast);
  EXPECT_EQ(pick_kind(mix, 100), event_kind::follow);
  EXPECT_EQ(pick_kind(mix, 150'099), event_kind::follow);
  EXPECT_EQ(pick_kind(mix, 150'100), event_kind::unfollow);
  EXPECT_EQ(pick_kind(mix, 300'099), event_kind::unfollow);
  EXPECT_EQ(pick_kind(mix, 300'100), event_kind::private_message);
  EXPECT_EQ(pick_kind(mix, 450'099), event_kind::private_message);
  EXPECT_EQ(pick_kind(mix, 450'100), event_kind::status_update);
  EXPECT_EQ(pick_kind(mix, 999'999), event_kind::status_update);
}

TEST(Mix, NamedMixesSumToOneMillion) {
  for (const auto& named : named_mixes) {
    const auto& m = named.mix;
    EXPECT_EQ(m.broadcast + m.follow + m.unfollow + m.private_message + m.status_update, mix_scale) << named.name;
  }
  EXPECT_TRUE(mix_by_name("broadcast-heavy").has_value());
  EXPECT_EQ(mix_by_name("broadcast-heavy")->broadcast, 100'000U);
  EXPECT_FALSE(mix_by_name("nonsense").has_value());
}

TEST(Generator, SameSeedSameStream) {
  generator_settings settings;
  settings.number_of_users = 50;
  const auto a = generate(settings, 20'000);
  const auto b = generate(settings, 20'000);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_TRUE(same(a[i], b[i])) << "event " << i;
  settings.seed = 667;
  const auto c = generate(settings, 20'000);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) differing += same(a[i], c[i]) ? 0 : 1;
  EXPECT_GT(differing, 10'000U);
}

TEST(Generator, SequenceNumbersCountFromOne) {
  generator_settings settings;
  settings.number_of_users = 10;
  const auto events = generate(settings, 100);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq, i + 1);
}

TEST(Generator, DefaultMixProportions) {
  generator_settings settings;  // seed 666, 1000 users
  const std::size_t n = 1'000'000;
  const auto events = generate(settings, n);
  std::array<std::size_t, event_kind_count> counts{};
  for (const auto& e : events) ++counts[static_cast<std::size_t>(e.kind)];
  const auto share = [&](event_kind k) { return static_cast<double>(counts[static_cast<std::size_t>(k)]) / n; };
  EXPECT_NEAR(share(event_kind::follow), 0.15, 0.003);
  EXPECT_NEAR(share(event_kind::unfollow), 0.15, 0.003);
  EXPECT_NEAR(share(event_kind::private_message), 0.15, 0.003);
  EXPECT_NEAR(share(event_kind::status_update), 0.5499, 0.003);
  EXPECT_NEAR(share(event_kind::broadcast), 0.0001, 0.00005);
  EXPECT_EQ(counts[static_cast<std::size_t>(event_kind::bad_body)], 0U);
}

TEST(Generator, IdsStayInRangeAndNeverSelfFollow) {
  generator_settings settings;
  settings.number_of_users = 20;
  for (const auto& e : generate(settings, 50'000)) {
    if (e.kind == event_kind::broadcast) continue;
    ASSERT_GE(e.from, 1U);
    ASSERT_LE(e.from, 20U);
    if (e.kind == event_kind::status_update) continue;
    ASSERT_GE(e.to, 1U);
    ASSERT_LE(e.to, 20U);
    if (e.kind == event_kind::follow) {
      ASSERT_NE(e.from, e.to);
    }
  }
}

TEST(Generator, GraphRevertsToItsTargetInsteadOfGrowing) {
  generator_settings settings;
  settings.number_of_users = 1000;
  settings.avg_follows = 10;  // target: 10'000 edges
  expectation_model model(settings.number_of_users);
  event_generator generator(settings, model.graph());
  std::size_t unfollows = 0;
  std::size_t unfollows_of_edges = 0;
  for (int i = 0; i < 2'000'000; ++i) {
    const event e = generator.next();
    if (i >= 1'000'000 && e.kind == event_kind::unfollow) {
      ++unfollows;
      unfollows_of_edges += model.graph().follows(e.from, e.to) ? 1 : 0;
    }
    model.apply(e, [](connection_index) {});
    if (i == 1'000'000) {
      EXPECT_GT(model.graph().edge_count(), 9'000U);
      EXPECT_LE(model.graph().edge_count(), 10'000U);
    }
  }
  EXPECT_EQ(generator.target_edges(), 10'000U);
  EXPECT_GT(model.graph().edge_count(), 9'000U);
  EXPECT_LE(model.graph().edge_count(), 10'000U);
  // In the steady state nearly every unfollow removes an edge that exists.
  EXPECT_GT(static_cast<double>(unfollows_of_edges) / static_cast<double>(unfollows), 0.9);
}

TEST(Generator, ChaosSlots) {
  generator_settings settings;
  settings.number_of_users = 100;
  settings.bad_body_rate = 0.1;
  settings.first_stuck_user = 101;
  settings.stuck_users = 3;
  settings.stuck_rate = 0.2;
  std::size_t bad = 0;
  std::size_t stuck = 0;
  std::set<user_id> stuck_targets;
  const auto events = generate(settings, 100'000);
  for (const auto& e : events) {
    if (e.kind == event_kind::bad_body) {
      ++bad;
      ASSERT_LT(e.variant, bad_body_variants);
    }
    if (e.kind == event_kind::private_message && e.to > 100) {
      ++stuck;
      stuck_targets.insert(e.to);
    }
    if (e.kind != event_kind::private_message) {
      ASSERT_LE(e.to, 100U);
    }
  }
  EXPECT_NEAR(static_cast<double>(bad) / 100'000, 0.1, 0.005);
  EXPECT_NEAR(static_cast<double>(stuck) / 100'000, 0.9 * 0.2, 0.005);
  EXPECT_EQ(stuck_targets, (std::set<user_id>{101, 102, 103}));
}

TEST(ConnectedUsers, DistinctDeterministicAndInRange) {
  const auto a = choose_connected_users(1000, 100, 666);
  const auto b = choose_connected_users(1000, 100, 666);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 100U);
  EXPECT_EQ(std::set<user_id>(a.begin(), a.end()).size(), 100U);
  for (const auto u : a) {
    EXPECT_GE(u, 1U);
    EXPECT_LE(u, 1000U);
  }
  EXPECT_NE(a, choose_connected_users(1000, 100, 667));
  const auto all = choose_connected_users(5, 10, 1);
  EXPECT_EQ(std::set<user_id>(all.begin(), all.end()), (std::set<user_id>{1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace followermaze
