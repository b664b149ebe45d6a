#pragma once
// The event log as the daemon runs it (dataDir set): recovery at start-up, the file backend
// and the pipeline between the sequencer and the router, snapshots of the follower graph,
// and what /metrics and /readyz say about it. Everything here runs on the event thread but
// recovery and the file backend's writes, which run on threads of their own and come back
// with a post.
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
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "eventserver/admin/admin_views.hpp"
#include "eventserver/app/memory_history.hpp"
#include "eventserver/app/blocking_job.hpp"
#include "eventserver/app/config.hpp"
#include "eventserver/core/dispatcher.hpp"
#include "eventserver/core/log_pipeline.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/storage/file_log.hpp"
#include "eventserver/storage/history_service.hpp"
#include "eventserver/storage/recovery.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"

namespace eventserver {

class durable_log {
 public:
  struct hooks {
    std::function<void()> recovered;              // the stream can be taken: start the listeners
    std::function<void(std::string)> fatal;       // recovery failed (the message names file and offset)
    std::function<void()> applied;                // batches were applied: flush, acks, resume sources
    std::function<void(bool failing)> writing;    // writing started failing, or works again
  };

  // With a dataDir the log is on disk; without one (historyBytes > 0) it is kept in memory.
  durable_log(asio::io_context& io, const config& settings, dispatcher& dispatch, graph_changes& changes, hooks on);
  ~durable_log();
  durable_log(const durable_log&) = delete;
  durable_log& operator=(const durable_log&) = delete;

  // Checks the data directory, then recovers on a thread of its own; hooks.recovered (or
  // fatal) follows on the event thread. Throws config_error for a missing or unwritable dataDir.
  void start();
  bool recovering() const noexcept { return recovering_; }
  // Why the log keeps the daemon from being ready: recovering, or writing fails. Empty when fine.
  std::string problem() const;

  // After events were applied: start a snapshot when snapshotEveryEvents have passed.
  void maybe_snapshot();
  // Shutdown: once every batch handed to the disk is back, a last snapshot is written and the
  // writing thread stops; `done` runs then (or at the deadline).
  void shutdown(std::chrono::steady_clock::time_point deadline, std::function<void()> done);

  log_status status() const;

  // Where clients read the past (catch-up, resume); null until the log is recovered.
  history_source* history() noexcept;

 private:
  void on_recovered(std::shared_ptr<storage::recovered_log> recovered);
  void on_report(const storage::file_log_report& report);
  void on_memory_durable();
  void start_snapshot();
  void continue_snapshot();
  void abandon_snapshot();
  void finish_shutdown();

  asio::io_context& io_;
  const config& settings_;
  dispatcher& dispatch_;
  graph_changes& changes_;
  hooks on_;
  blocking_job recovery_;
  bool recovering_ = false;
  double recovery_seconds_ = 0;
  std::uint64_t snapshots_set_aside_ = 0;  // at start-up: past the end of the log
  std::unique_ptr<storage::file_log> file_;
  std::unique_ptr<memory_history> memory_;  // without a dataDir
  // Reads the files for clients catching up or resuming (a thread of its own). Declared after
  // file_ so that it goes first: it asks file_ for the segments.
  std::unique_ptr<storage::history_service> history_;
  log_pipeline* pipeline_ = nullptr;  // the dispatcher's, once started
  std::string failing_;  // the write error while writing fails

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
  bool snapshot_writing_ = false;  // encoded, the file not finished yet
  std::uint64_t applied_at_last_snapshot_ = 0;
  double last_snapshot_pause_ = 0;

  // Shutdown.
  std::function<void()> on_stopped_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace eventserver
