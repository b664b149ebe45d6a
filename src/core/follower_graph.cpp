#include "eventserver/core/follower_graph.hpp"

#include <algorithm>

namespace eventserver {

namespace {
// The first element not less than `key` in a sorted list. Without branches on the data:
// follow lists are short and the ids in events are random, so std::lower_bound would
// mispredict about every other step; here each step is a conditional move.
std::vector<user_id>::iterator find_place(std::vector<user_id>& list, user_id key) noexcept {
  std::size_t n = list.size();
  if (n == 0) return list.end();
  const user_id* base = list.data();
  while (n > 1) {
    const std::size_t half = n / 2;
    base = base[half] < key ? base + half : base;
    n -= half;
  }
  return list.begin() + (base - list.data()) + (*base < key ? 1 : 0);
}
}  // namespace

bool follower_graph::follow(user_id from, user_id to) {
  auto& list = following_[from];
  const auto at = find_place(list, to);
  if (at != list.end() && *at == to) return false;
  list.insert(at, to);
  ++edges_;
  return true;
}

bool follower_graph::unfollow(user_id from, user_id to) {
  const auto found = following_.find(from);
  if (found == following_.end()) return false;
  auto& list = found->second;
  const auto at = find_place(list, to);
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

std::vector<user_id> follower_graph::users() const {
  std::vector<user_id> out;
  out.reserve(following_.size());
  for (const auto& entry : following_) out.push_back(entry.first);
  return out;
}

void follower_graph::add_following(user_id user, std::span<const user_id> sorted) {
  if (sorted.empty()) return;
  auto& list = following_[user];
  if (list.empty()) {
    list.assign(sorted.begin(), sorted.end());
    edges_ += sorted.size();
    return;
  }
  for (const user_id to : sorted) follow(user, to);  // a user split across snapshot records
}

void follower_graph::clear() noexcept {
  following_.clear();
  edges_ = 0;
}

std::span<const user_id> follower_graph::following(user_id from) const {
  const auto found = following_.find(from);
  if (found == following_.end()) return {};
  return found->second;
}

}  // namespace eventserver
