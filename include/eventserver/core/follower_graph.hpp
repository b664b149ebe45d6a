#pragma once
// Who follows whom, for every user, connected or not (the graph changes whether or not
// anyone is there to be notified).
//
// Stored as each user's sorted list of the users it follows: 8 bytes an edge, and the
// list a user brings online with it when it connects (see router, which keeps the other
// direction, followers, only as counts and connected lists). Follow and unfollow are one
// hash lookup, a binary search and a memmove of that one user's list.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "eventserver/core/event.hpp"

namespace eventserver {

class follower_graph {
 public:
  // True when the edge is new (following twice is one edge).
  bool follow(user_id from, user_id to);
  // True when an edge was removed.
  bool unfollow(user_id from, user_id to);

  bool follows(user_id from, user_id to) const;
  std::span<const user_id> following(user_id from) const;
  std::size_t edge_count() const noexcept { return edges_; }
  std::size_t user_count() const noexcept { return following_.size(); }

  // Every user who follows someone, in no particular order. A snapshot takes this list at
  // once and then asks following() a few users at a time: the map itself cannot be walked
  // across changes (an insert may rehash it).
  std::vector<user_id> users() const;
  // f(user, std::span<const user_id> followed) for every user who follows someone.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [user, list] : following_) f(user, std::span<const user_id>(list));
  }
  // Adds `user`'s follows from a sorted list (loading a snapshot).
  void add_following(user_id user, std::span<const user_id> sorted);
  void clear() noexcept;

 private:
  boost::unordered_flat_map<user_id, std::vector<user_id>> following_;  // sorted, no duplicates
  std::size_t edges_ = 0;
};

}  // namespace eventserver
