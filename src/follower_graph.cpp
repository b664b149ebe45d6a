#include "eventserver/follower_graph.hpp"

#include <algorithm>

namespace eventserver {

bool follower_graph::follow(user_id from, user_id to) {
  auto& list = following_[from];
  const auto at = std::lower_bound(list.begin(), list.end(), to);
  if (at != list.end() && *at == to) return false;
  list.insert(at, to);
  ++edges_;
  return true;
}

bool follower_graph::unfollow(user_id from, user_id to) {
  const auto found = following_.find(from);
  if (found == following_.end()) return false;
  auto& list = found->second;
  const auto at = std::lower_bound(list.begin(), list.end(), to);
  if (at == list.end() || *at != to) return false;
  list.erase(at);
  if (list.empty()) following_.erase(found);  // users who follow nobody cost nothing
  --edges_;
  return true;
}

bool follower_graph::follows(user_id from, user_id to) const {
  const auto list = following(from);
  return std::binary_search(list.begin(), list.end(), to);
}

std::span<const user_id> follower_graph::following(user_id from) const {
  const auto found = following_.find(from);
  if (found == following_.end()) return {};
  return found->second;
}

}  // namespace eventserver
