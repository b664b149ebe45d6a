#include "followermaze/follower_graph.hpp"

#include <algorithm>

namespace followermaze {

follower_graph::follower_graph(user_id max_user) : followers_(static_cast<std::size_t>(max_user) + 1) {}

bool follower_graph::follows(user_id from, user_id to) const noexcept {
  const auto& list = followers_[to];
  return std::any_of(list.begin(), list.end(), [from](const follower& f) { return f.id == from; });
}

bool follower_graph::follow(user_id from, user_id to) {
  if (follows(from, to)) return false;
  followers_[to].push_back({from, static_cast<std::uint32_t>(edges_.size())});
  edges_.push_back({from, to});
  return true;
}

bool follower_graph::unfollow(user_id from, user_id to) {
  auto& list = followers_[to];
  const auto it = std::find_if(list.begin(), list.end(), [from](const follower& f) { return f.id == from; });
  if (it == list.end()) return false;
  const std::uint32_t hole = it->edge_index;
  *it = list.back();
  list.pop_back();

  // Keep `edges_` dense: the last edge moves into the hole, and its follower entry learns the
  // new index.
  const std::uint32_t last = static_cast<std::uint32_t>(edges_.size() - 1);
  if (hole != last) {
    const edge moved = edges_[last];
    edges_[hole] = moved;
    for (auto& f : followers_[moved.to]) {
      if (f.id == moved.from) {
        f.edge_index = hole;
        break;
      }
    }
  }
  edges_.pop_back();
  return true;
}

}  // namespace followermaze
