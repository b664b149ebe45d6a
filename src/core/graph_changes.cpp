#include "eventserver/core/graph_changes.hpp"

#include <algorithm>

namespace eventserver {

graph_changes::graph_changes(std::size_t capacity) : ring_(std::max<std::size_t>(capacity, 1)) {}

std::optional<std::vector<user_id>> graph_changes::following_at(user_id user, sequence_number after,
                                                                sequence_number applied,
                                                                std::span<const user_id> now_following) const {
  if (after > applied || after < covered_after_) return std::nullopt;
  std::vector<user_id> following(now_following.begin(), now_following.end());
  std::sort(following.begin(), following.end());
  // Newest first, back to `after`: each of the user's changes undone flips its edge back.
  const std::size_t held = std::min(next_, ring_.size());
  for (std::size_t i = 0; i < held; ++i) {
    const slot& s = ring_[(next_ - 1 - i) % ring_.size()];
    if ((s.seq >> 1) <= after) break;
    if (s.from != user) continue;
    const auto at = std::lower_bound(following.begin(), following.end(), s.to);
    if ((s.seq & 1) != 0) {  // it was added after `after`: not followed then
      if (at != following.end() && *at == s.to) following.erase(at);
    } else if (at == following.end() || *at != s.to) {  // removed after `after`: followed then
      following.insert(at, s.to);
    }
  }
  return following;
}

}  // namespace eventserver
