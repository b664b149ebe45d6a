#pragma once
// The deterministic event stream: a seed and the settings fix every event.
//
// Realism of the follower graph: follows and unfollows come at the same rate, so a naive
// generator (random pairs for both) lets the graph grow without bound, because most random
// unfollows miss. Here the graph is mean-reverting around a target of
// `number_of_users * avg_follows` edges: below the target a follow adds a random new edge and
// an unfollow removes an existing edge with probability edges/target (otherwise it names a
// random pair, which is almost always a harmless no-op); at or above it a follow re-follows an
// existing edge (idempotent, still notifies) and an unfollow always removes one. So the graph
// and the fan-out of a status update stay flat however long the stream runs.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "followermaze/follower_graph.hpp"
#include "followermaze/prng.hpp"
#include "followermaze/wire.hpp"

namespace followermaze {

// Shares of event slots in parts per million; they sum to 1'000'000.
struct event_mix {
  std::uint32_t broadcast = 0;
  std::uint32_t follow = 0;
  std::uint32_t unfollow = 0;
  std::uint32_t private_message = 0;
  std::uint32_t status_update = 0;
};

inline constexpr std::uint32_t mix_scale = 1'000'000;

struct named_mix {
  std::string_view name;
  std::string_view description;
  event_mix mix;
};

// "default" is the original follower-maze published mix: ~0.01% broadcast, 15% follow, 15%
// unfollow, 15% private, 55% status update.
inline constexpr std::array<named_mix, 4> named_mixes = {{
    {"default", "0.01% broadcast, 15% follow, 15% unfollow, 15% private, 55% status", {100, 150'000, 150'000, 150'000, 549'900}},
    {"broadcast-heavy", "10% broadcast, 15% follow, 15% unfollow, 15% private, 45% status", {100'000, 150'000, 150'000, 150'000, 450'000}},
    {"private-heavy", "0.01% broadcast, 10% follow, 10% unfollow, 60% private, 20% status", {100, 100'000, 100'000, 600'000, 199'900}},
    {"status-heavy", "0.01% broadcast, 10% follow, 10% unfollow, 5% private, 75% status", {100, 100'000, 100'000, 50'000, 749'900}},
}};

std::optional<event_mix> mix_by_name(std::string_view name) noexcept;

// Maps a uniform draw in [0, mix_scale) to a kind: broadcast, follow, unfollow, private,
// status, in that order of cumulative ranges.
event_kind pick_kind(const event_mix& mix, std::uint32_t draw) noexcept;

// The connected users: `count` distinct ids from 1..number_of_users, chosen by the seed, in
// the order they connect (a partial Fisher-Yates shuffle).
std::vector<user_id> choose_connected_users(user_id number_of_users, std::uint32_t count, std::uint64_t seed);

struct generator_settings {
  std::uint64_t seed = 666;
  user_id number_of_users = 1000;  // ids 1..number_of_users; at least 2
  std::uint32_t avg_follows = 10;  // the graph reverts to number_of_users * avg_follows edges
  event_mix mix = named_mixes[0].mix;
  double bad_body_rate = 0.0;      // chaos: share of slots that carry a malformed body
  user_id first_stuck_user = 0;    // chaos: stuck readers are first_stuck_user..+stuck_users-1
  std::uint32_t stuck_users = 0;
  double stuck_rate = 0.0;         // chaos: share of slots that are private messages to them
};

class event_generator {
 public:
  // `graph` is read to choose follows and unfollows; the caller applies every event to it
  // (through expectation_model) before asking for the next one.
  event_generator(const generator_settings& settings, const follower_graph& graph);

  // The event for the next sequence number: 1, 2, 3, ...
  event next();

  std::uint64_t generated() const noexcept { return seq_; }
  std::uint64_t target_edges() const noexcept { return target_edges_; }

 private:
  user_id random_user() noexcept { return 1 + rng_.below32(settings_.number_of_users); }
  user_id other_user(user_id not_this) noexcept;
  // An edge of the graph (follow: re-follow it; unfollow: remove it), or a fresh random pair.
  void pick_pair(event& e, bool existing_edge);

  generator_settings settings_;
  const follower_graph& graph_;
  prng rng_;
  prng chaos_rng_;  // chaos draws never disturb the main stream's draws
  std::uint64_t seq_ = 0;
  std::uint64_t target_edges_;
};

}  // namespace followermaze
