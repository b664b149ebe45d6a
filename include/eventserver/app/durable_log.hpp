#pragma once
// The event log as the daemon drives it, through storage::event_log alone (on disk with a
// dataDir, in memory without one; make_event_log chooses): start-up recovery handed to the
// dispatcher, the pipeline between the sequencer and the router, batches applied as the log
// reports them durable, snapshots of the follower graph, shutdown in order, and what /metrics
// and /readyz say about it. Everything here runs on the event thread; the log's own threads
// come back with a post.
//
// Snapshots are taken without stopping the stream: the users who follow someone are listed
// at once (the state after the applied position P), then encoded a few hundred users per
// turn of the event loop while events keep being applied. That is a "fuzzy" snapshot, and it
// is exact after replay: follow and unfollow are idempotent set operations, so replaying the
// log from P + 1 over it gives the graph as it stood.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "eventserver/admin/admin_views.hpp"
#include "eventserver/app/config.hpp"
#include "eventserver/core/dispatcher.hpp"
#include "eventserver/core/graph_changes.hpp"
#include "eventserver/core/log_pipeline.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/storage/event_log.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"

namespace eventserver {

namespace cluster {
struct stream_settings;  // cluster/jetstream_stream.hpp
}
// The JetStream stream the cluster keys name, for the ingest's log and an edge's feed alike.
cluster::stream_settings cluster_stream_settings(const config& settings);

// The one place that chooses the log: the JetStream stream for cluster.role ingest; on disk with
// a dataDir; else in memory with historyBytes > 0; else none (null). `post` runs a function on
// the event thread.
std::unique_ptr<storage::event_log> make_event_log(const config& settings, storage::post_fn post);

class durable_log final : private storage::event_log_listener {
 public:
  struct hooks {
    std::function<void()> recovered;              // the stream can be taken: start the listeners
    std::function<void(std::string)> fatal;       // recovery failed (the message names file and offset)
    std::function<void()> applied;                // batches were applied: flush, acks, resume sources
    std::function<void(bool failing)> writing;    // writing started failing, or works again
    std::function<void(std::string)> fenced;      // the log can never write again (problem() says why)
  };

  // The log make_event_log chooses for `settings`; null when the daemon keeps none.
  static std::unique_ptr<durable_log> create(asio::io_context& io, const config& settings, dispatcher& dispatch,
                                             graph_changes& changes, hooks on);
  // Drives `log` (tests pass a fake).
  durable_log(asio::io_context& io, const config& settings, dispatcher& dispatch, graph_changes& changes, hooks on,
              std::unique_ptr<storage::event_log> log);
  ~durable_log();
  durable_log(const durable_log&) = delete;
  durable_log& operator=(const durable_log&) = delete;

  // Starts the log's recovery; hooks.recovered (or fatal) follows on the event thread. Throws
  // config_error when the log cannot be used as configured (a missing or unwritable dataDir).
  void start();
  bool recovering() const noexcept { return recovering_; }
  // Why the log keeps the daemon from being ready: recovering, or writing fails. Empty when fine.
  std::string problem() const;

  // After events were applied: start a snapshot when snapshotEveryEvents have passed.
  void maybe_snapshot();
  // Shutdown: once every batch handed to the log is back, a last snapshot is written and the
  // log stops; `done` runs then (or at the deadline).
  void shutdown(std::chrono::steady_clock::time_point deadline, std::function<void()> done);

  log_status status() const;

  // Where clients read the past (catch-up, resume); null until the log is recovered.
  history_source* history() noexcept;

 private:
  // storage::event_log_listener
  void recovered(storage::recovered_stream stream) override;
  void recovery_failed(std::string error) override;
  void reported(const storage::event_log_report& report) override;
  void note(level severity, std::string_view text) override;

  void start_snapshot();
  void continue_snapshot();
  void abandon_snapshot();
  void finish_shutdown();

  asio::io_context& io_;
  const config& settings_;
  dispatcher& dispatch_;
  graph_changes& changes_;
  hooks on_;
  std::unique_ptr<storage::event_log> log_;
  // While recovering: run() must not return before the log's result is posted.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> recovery_work_;
  bool recovering_ = false;
  bool fenced_ = false;  // reported: no batch will come back
  log_pipeline* pipeline_ = nullptr;  // the dispatcher's, from recovery on

  // The snapshot being encoded, a few users per turn. Exact: each user's list is the graph's
  // now with the changes since `position` (graph_changes' journal) undone.
  struct snapshot_work {
    std::vector<user_id> users;
    std::size_t next = 0;
    std::size_t journal_read = 0;  // journal entries sorted into `since`
    boost::unordered_flat_map<user_id, std::vector<graph_changes::slot>> since;  // by user, in order
    log_position position;
    storage::snapshot_encoder encoder;
    std::chrono::steady_clock::time_point started;
    double longest_step = 0;  // seconds: the longest the event thread spent on it at once
  };
  std::unique_ptr<snapshot_work> snapshot_;
  bool snapshot_writing_ = false;  // encoded, not reported written yet
  std::uint64_t applied_at_last_snapshot_ = 0;
  double last_snapshot_pause_ = 0;

  // Shutdown.
  std::function<void()> on_stopped_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace eventserver
