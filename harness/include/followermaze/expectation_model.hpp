#pragma once
// What every verified connection must receive: the protocol's semantics, applied event by
// event in sequence order to the harness's own follower graph. This is the verifier's
// reference implementation, written from SPEC.md and sharing no code with the daemon.
//
// Only verified connections are registered here, all of them before the first event. Users
// with no verified connection still change the graph (a notification to them is dropped, the
// follow happens all the same), and connections the harness does not verify (stuck readers,
// bad clients) get no expectations.
//
// Besides the full graph the model keeps, per user, its followers that have a connection: a
// status update walks only those (about a tenth of them at the default sizes), which is most of
// what the source thread spends per event.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "followermaze/follower_graph.hpp"
#include "followermaze/wire.hpp"

namespace followermaze {

using connection_index = std::uint32_t;

class expectation_model {
 public:
  explicit expectation_model(user_id max_user);

  // A verified connection of `user`; indices are 0, 1, 2, ... in call order. A user may have
  // several: each gets everything that user is sent. Only before the first apply().
  connection_index add_connection(user_id user);

  // Applies `e` and calls deliver(connection_index) once for every connection that must be
  // sent its line. Recipients come out in a deterministic order.
  template <class Deliver>
  void apply(const event& e, Deliver&& deliver) {
    switch (e.kind) {
      case event_kind::follow:
        if (graph_.follow(e.from, e.to) && has_connection(e.from)) connected_followers_[e.to].push_back(e.from);
        deliver_to_user(e.to, deliver);
        return;
      case event_kind::unfollow:
        if (graph_.unfollow(e.from, e.to) && has_connection(e.from)) forget_connected_follower(e.from, e.to);
        return;
      case event_kind::broadcast:
        for (connection_index c = 0; c < connection_user_.size(); ++c) deliver(c);
        return;
      case event_kind::private_message:
        deliver_to_user(e.to, deliver);
        return;
      case event_kind::status_update:
        for (const user_id follower : connected_followers_[e.from]) deliver_to_user(follower, deliver);
        return;
      case event_kind::bad_body:
        return;
    }
  }

  const follower_graph& graph() const noexcept { return graph_; }
  std::size_t connection_count() const noexcept { return connection_user_.size(); }
  user_id connection_user(connection_index c) const noexcept { return connection_user_[c]; }
  bool has_connection(user_id user) const noexcept { return first_connection_[user] != none; }

 private:
  static constexpr connection_index none = std::numeric_limits<connection_index>::max();

  template <class Deliver>
  void deliver_to_user(user_id user, Deliver& deliver) {
    for (connection_index c = first_connection_[user]; c != none; c = next_connection_[c]) deliver(c);
  }

  void forget_connected_follower(user_id follower, user_id followed) noexcept;

  follower_graph graph_;
  std::vector<std::vector<user_id>> connected_followers_;  // per user: followers with a connection
  std::vector<connection_index> first_connection_;  // per user; `none` when not connected
  std::vector<connection_index> next_connection_;   // the user's next connection, or `none`
  std::vector<user_id> connection_user_;
};

}  // namespace followermaze
