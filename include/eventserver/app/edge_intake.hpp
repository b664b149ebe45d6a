#pragma once
// An edge's side of the event thread (cluster.role edge, docs/cluster.md "An edge"): the batches
// cluster::edge_feed reads from the JetStream stream go into the dispatcher as already-numbered
// input (offer_sequenced), through the local file log like a standalone daemon's events, and
// are applied and delivered to this edge's own clients. The feed is told a batch was taken once
// the dispatcher applied it, so what is in flight between the feed's thread and this one never
// passes the feed's window, and the local log's pipeline never holds more than its own bound:
// batches wait here (at most the window) while the pipeline is saturated.
//
// The bad days:
// - the cluster unreachable: the feed retries by itself; clients keep their connections and
//   are served what the edge has; /metrics says so and how far behind the edge is.
// - a stream that does not continue the local log (a gap, retention past it, another
//   history): the edge stops following, says why in one error line and on /metrics
//   (eventserver_edge_stopped), and /readyz fails. The process does not exit: its clients keep
//   what it has (resumes within its history are still exact), and a restart would meet the
//   same mismatch. An operator moves the clients away and rebuilds its dataDir.
//
// Everything here runs on the event thread, but the feed's own thread.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "eventserver/admin/admin_views.hpp"
#include "eventserver/app/config.hpp"
#include "eventserver/cluster/edge_feed.hpp"
#include "eventserver/core/dispatcher.hpp"
#include "eventserver/net/asio.hpp"

namespace eventserver {

class edge_intake {
 public:
  struct hooks {
    // Batches went into the dispatcher: commit and flush as after a source's read. `input_idle`
    // false while the feed is behind the stream (more batches are coming at once): client
    // writes are then coalesced as under a busy source (clientWriteDelayMs).
    std::function<void(bool input_idle)> offered;
  };

  edge_intake(asio::io_context& io, const config& settings, dispatcher& dispatch, hooks on,
              cluster::edge_feed_settings feed = {});
  ~edge_intake();
  edge_intake(const edge_intake&) = delete;
  edge_intake& operator=(const edge_intake&) = delete;

  // The local log is recovered: follow the stream after what it holds.
  void start(log_position local);
  // Batches were applied (the log made them durable): those are taken, and the pipeline may
  // have room for more.
  void applied();
  // Shutdown: nothing more is taken; the feed's thread is joined in the destructor.
  void stop();

  // Empty while it follows (or waits for the cluster); the reason it stopped otherwise.
  const std::string& stopped_because() const noexcept { return stopped_because_; }
  edge_status status() const;

 private:
  void on_batch(cluster::stored_batch&& batch, bool more);
  // While the feed is behind, a flush with everything once clientWriteDelayMs passed without
  // one (a feed that said "more" and then stopped must not leave writes held).
  void arm_idle_flush();
  void on_failing(std::string failing);
  // Stops following. `refuse_waiting`: the dispatcher refused a batch, so none after it is
  // offered; otherwise (the feed met a mismatch) the batches handed over before it still are.
  void halt(std::string why, bool refuse_waiting);
  // Offers waiting batches while the log's pipeline has room.
  void pump();
  // Tells the feed about the batches the dispatcher has applied.
  void note_taken();

  asio::io_context& io_;
  const config& settings_;
  dispatcher& dispatch_;
  hooks on_;
  cluster::edge_feed_settings feed_settings_;
  std::unique_ptr<cluster::edge_feed> feed_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posts from the feed check it

  asio::steady_timer idle_flush_;
  bool idle_flush_armed_ = false;
  bool more_coming_ = false;  // the last batch handed over said more were ready
  std::deque<cluster::stored_batch> waiting_;  // handed over, not yet offered (the log is saturated)
  std::deque<log_position> offered_;           // offered, not yet applied: where each one ends
  bool stopping_ = false;
  bool refused_ = false;  // the dispatcher refused a batch: nothing more is offered
  std::string stopped_because_;
  std::string failing_;  // the cluster cannot be read now (empty: it can)
  std::uint64_t batches_ = 0;
  std::uint64_t unreachable_ = 0;  // times it became unreachable
};

}  // namespace eventserver
