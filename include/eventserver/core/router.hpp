#pragma once
// Applies in-order events: updates the follower graph and hands each notification to the
// connections of the users it concerns. Synchronous and Asio-free.
//
// Fan-out cost: besides the full graph, the router keeps for every followed user its
// audience: how many followers it has and the *connections* of those that are online, so a
// status update is one lookup and then a walk over exactly the connections it notifies,
// with no pointer-chasing through users. A connection joins the audience of every user its
// user follows (and leaves on disconnect), so connect/disconnect cost the out-degree.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include "eventserver/core/counters.hpp"
#include "eventserver/core/event.hpp"
#include "eventserver/core/follower_graph.hpp"
#include "eventserver/core/graph_changes.hpp"
#include "eventserver/core/line_ref.hpp"

namespace eventserver {

// One client connection as the router sees it. deliver() must only queue the line: it runs
// in the middle of a fan-out, so it may not call back into the router (a connection that
// wants to leave schedules its disconnect for later).
class recipient {
 public:
  // `notification` is the line to send, "\r\n" included (padded as its maker says); `seq` is
  // the event's sequence number.
  virtual void deliver(sequence_number seq, line_ref notification) = 0;
  // A new stream (epoch) begins: the notifications after this are numbered from 1 in it.
  virtual void begin_stream(stream_epoch epoch) = 0;

 protected:
  ~recipient() = default;
};

class router {
 public:
  explicit router(stream_counters& stats) : stats_(stats) {}
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  // A connection registered as `user`. One user may hold several.
  void connect(user_id user, recipient& connection);
  // Removes exactly this connection; the user's other connections stay.
  void disconnect(user_id user, recipient& connection);

  // `notification` is what each recipient is given: the payload and its "\r\n", padded as its
  // maker promises (a sequencer slot, a log batch: a recipient copies it in one move).
  void apply(const event& ev, line_ref notification);

  // A new stream: the follower graph starts empty; connections stay and are told.
  void begin_stream(stream_epoch epoch);
  // The graph recovered at start-up (a snapshot and the log replayed over it).
  void install_graph(follower_graph graph);
  // From now on every change to the graph is recorded there (for clients that resume).
  void record_changes(graph_changes& changes) noexcept { changes_ = &changes; }
  const graph_changes* changes() const noexcept { return changes_; }

  const follower_graph& graph() const noexcept { return graph_; }
  std::size_t connected_users() const noexcept { return online_.size(); }
  std::size_t connections() const noexcept { return connections_; }
  std::size_t connections_of(user_id user) const;
  std::size_t follower_count(user_id user) const;
  // Connections (not users) a status update of `user` reaches.
  std::size_t connected_followers_of(user_id user) const;

 private:
  // Most users hold one connection and most audiences reach one or two: those lists live
  // inside the map's element, so a notification costs no extra cache miss to find them.
  using connection_list = boost::container::small_vector<recipient*, 1>;
  // One per followed user (100,000 of them at 100k users): 56 bytes with the map's key.
  struct audience {
    std::uint32_t followers = 0;         // connected or not
    std::uint32_t online_followers = 0;  // followers with at least one connection
    boost::container::small_vector<recipient*, 2> connected;  // those followers' connections, unordered
  };

  void notify(user_id user, const event& ev, line_ref notification);
  void broadcast(const event& ev, line_ref notification);
  template <class List>
  static void notify(const List& connections, const event& ev, line_ref notification);
  const connection_list* find_online(user_id user) const;
  static void remove_connection(audience& followed, const recipient* connection);

  stream_counters& stats_;
  follower_graph graph_;
  boost::unordered_flat_map<user_id, connection_list> online_;  // users with >= 1 connection
  boost::unordered_flat_map<user_id, audience> audiences_;  // exactly the users with followers
  std::size_t connections_ = 0;
  graph_changes* changes_ = nullptr;
  std::vector<recipient*> everyone_;  // a broadcast's recipients (reused: no allocation per broadcast)
};

}  // namespace eventserver
