#pragma once
// The harness's follower graph: who follows whom, as a set of edges.
//
// Two views of the same edges, kept consistent by every update:
//  - `edges_`, a dense array, so the generator can pick an existing edge uniformly in O(1)
//    (an unfollow should normally remove an edge that exists);
//  - `followers_[u]`, each follower of u with the index of its edge in `edges_`, so a status
//    update walks u's followers and a removal can fix the index of the edge it moves.
// Updates cost O(degree of the users involved); nothing is hashed, nothing allocates per event
// once the per-user vectors have grown to their working size.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "followermaze/wire.hpp"

namespace followermaze {

class follower_graph {
 public:
  struct edge {
    user_id from = 0;  // the follower
    user_id to = 0;    // the followed
  };
  struct follower {
    user_id id = 0;
    std::uint32_t edge_index = 0;
  };

  // Users 0..max_user (0 is unused by the protocol but harmless).
  explicit follower_graph(user_id max_user);

  // `from` follows `to`; returns false when it already did (the edge set is unchanged).
  bool follow(user_id from, user_id to);
  // `from` stops following `to`; returns false when it did not follow.
  bool unfollow(user_id from, user_id to);

  bool follows(user_id from, user_id to) const noexcept;
  std::span<const follower> followers(user_id user) const noexcept { return followers_[user]; }
  std::size_t edge_count() const noexcept { return edges_.size(); }
  const edge& edge_at(std::size_t index) const noexcept { return edges_[index]; }
  user_id max_user() const noexcept { return static_cast<user_id>(followers_.size() - 1); }

 private:
  std::vector<edge> edges_;
  std::vector<std::vector<follower>> followers_;
};

}  // namespace followermaze
