#include "followermaze/event_generator.hpp"

#include <utility>

namespace followermaze {

std::optional<event_mix> mix_by_name(std::string_view name) noexcept {
  for (const auto& named : named_mixes) {
    if (named.name == name) return named.mix;
  }
  return std::nullopt;
}

event_kind pick_kind(const event_mix& mix, std::uint32_t draw) noexcept {
  std::uint32_t bound = mix.broadcast;
  if (draw < bound) return event_kind::broadcast;
  bound += mix.follow;
  if (draw < bound) return event_kind::follow;
  bound += mix.unfollow;
  if (draw < bound) return event_kind::unfollow;
  bound += mix.private_message;
  if (draw < bound) return event_kind::private_message;
  return event_kind::status_update;
}

std::vector<user_id> choose_connected_users(user_id number_of_users, std::uint32_t count, std::uint64_t seed) {
  std::vector<user_id> ids(number_of_users);
  for (user_id i = 0; i < number_of_users; ++i) ids[i] = i + 1;
  prng rng(seed ^ 0xc044ec7edc044ec7ULL);
  const std::uint32_t n = count < number_of_users ? count : number_of_users;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto j = i + static_cast<std::size_t>(rng.below(number_of_users - i));
    std::swap(ids[i], ids[j]);
  }
  ids.resize(n);
  return ids;
}

event_generator::event_generator(const generator_settings& settings, const follower_graph& graph)
    : settings_(settings),
      graph_(graph),
      rng_(settings.seed),
      chaos_rng_(settings.seed ^ 0xc4a05c4a05c4a05cULL),
      target_edges_(static_cast<std::uint64_t>(settings.number_of_users) * settings.avg_follows) {}

user_id event_generator::other_user(user_id not_this) noexcept {
  // Uniform over the other number_of_users - 1 users.
  const user_id draw = 1 + rng_.below32(settings_.number_of_users - 1);
  return draw >= not_this ? draw + 1 : draw;
}

void event_generator::pick_pair(event& e, bool existing_edge) {
  if (existing_edge) {
    const auto& edge = graph_.edge_at(rng_.below(graph_.edge_count()));
    e.from = edge.from;
    e.to = edge.to;
  } else {
    e.from = random_user();
    e.to = other_user(e.from);
  }
}

event event_generator::next() {
  event e;
  e.seq = ++seq_;

  if (settings_.bad_body_rate > 0.0 && chaos_rng_.chance(settings_.bad_body_rate)) {
    e.kind = event_kind::bad_body;
    e.variant = static_cast<std::uint8_t>(chaos_rng_.below(bad_body_variants));
    e.from = 1 + chaos_rng_.below32(settings_.number_of_users);
    e.to = 1 + chaos_rng_.below32(settings_.number_of_users);
    return e;
  }
  if (settings_.stuck_users > 0 && chaos_rng_.chance(settings_.stuck_rate)) {
    e.kind = event_kind::private_message;
    e.from = 1 + chaos_rng_.below32(settings_.number_of_users);
    e.to = settings_.first_stuck_user + chaos_rng_.below32(settings_.stuck_users);
    return e;
  }

  e.kind = pick_kind(settings_.mix, rng_.below32(mix_scale));
  const std::uint64_t edges = graph_.edge_count();
  switch (e.kind) {
    case event_kind::follow:
      pick_pair(e, edges > 0 && edges >= target_edges_);
      break;
    case event_kind::unfollow:
      pick_pair(e, edges > 0 && (target_edges_ == 0 || rng_.below(target_edges_) < edges));
      break;
    case event_kind::private_message:
      e.from = random_user();
      e.to = other_user(e.from);
      break;
    case event_kind::status_update:
      e.from = random_user();
      break;
    case event_kind::broadcast:
    case event_kind::bad_body:
      break;
  }
  return e;
}

}  // namespace followermaze
