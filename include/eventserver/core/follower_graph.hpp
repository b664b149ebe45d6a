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

 private:
  boost::unordered_flat_map<user_id, std::vector<user_id>> following_;  // sorted, no duplicates
  std::size_t edges_ = 0;
};

}  // namespace eventserver
