#pragma once
// The log's file backend: batches submitted on the event thread are written by a thread of
// its own into the data directory's segments (log_directory), synced as logFsync says, and
// reported back in order. It never touches the daemon's state: it reads the batches it was
// given (the event thread leaves them alone until they come back) and reports through a
// callback that the owner turns into a post to the event thread.
//
// Group commit: the thread takes every batch queued since its last round, writes them, and
// with logFsync "always" syncs once before reporting them all durable. With "interval" a
// batch is reported as soon as it is written and the segment is synced every interval; with
// "never" only the operating system decides (and segment rolls and shutdown sync).
//
// A failed write (a full disk, an I/O error) is cut back off the file, reported once, and
// tried again every retry_after until it works; batches behind it wait, so the pipeline
// saturates and the event sources are no longer read: nothing is reported durable that is
// not written.
//
// Snapshots go through the same thread, after every batch submitted before them.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include "eventserver/core/log_pipeline.hpp"
#include "eventserver/storage/log_directory.hpp"
#include "eventserver/storage/log_view.hpp"
#include "eventserver/storage/retention.hpp"
#include "eventserver/storage/snapshot_file.hpp"

namespace eventserver::storage {

enum class fsync_policy : std::uint8_t { always, interval, never };

struct file_log_settings {
  fsync_policy fsync = fsync_policy::always;
  std::chrono::milliseconds fsync_interval{100};
  retention_policy retention;
  std::chrono::milliseconds retry_after{1000};
};

// The upper bounds of the fsync latency histogram's buckets, in seconds (Prometheus `le`).
inline constexpr double fsync_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                           0.025,  0.05,    0.1,    0.25,  0.5,   1.0,  2.5};
inline constexpr std::size_t fsync_bucket_count = std::size(fsync_buckets);

// How the log stands, for /metrics and the status page.
struct file_log_status {
  std::uint64_t bytes = 0;
  std::uint64_t segments = 0;
  std::uint64_t batches_written = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t write_errors = 0;
  std::string failing;  // the error while writing fails; empty when it works
  std::uint64_t fsyncs = 0;
  double fsync_seconds_sum = 0;
  std::uint64_t fsync_le[fsync_bucket_count + 1] = {};  // cumulative counts; the last is +Inf
  std::uint64_t segments_deleted = 0;
  std::uint64_t snapshots_written = 0;
  std::uint64_t snapshot_failures = 0;
  std::uint64_t snapshots = 0;          // kept on disk: each one a base for resumes
  std::uint64_t damaged_ranges = 0;     // damage read past at start-up, still in the log
  std::uint64_t damaged_numbers = 0;    // the numbers those ranges lost (an unknown end counts 1)
  double last_snapshot_seconds = 0;  // how long the last snapshot took to write
  std::optional<std::chrono::system_clock::time_point> last_snapshot_at;
  sequence_number last_snapshot_seq = 0;
  stream_epoch last_snapshot_epoch = 0;
};

// What the writing thread reports, on its own thread.
struct file_log_report {
  std::size_t durable = 0;    // this many more of the oldest submitted batches are durable
  std::error_code failed;     // writing failed and will be tried again (durable is then 0)
  bool recovered = false;     // writing works again after a failure
  struct snapshot_result {
    bool ok = false;
    std::string detail;       // the file written, or the error
    double seconds = 0;
  };
  std::optional<snapshot_result> snapshot;
};

class file_log final : public log_backend {
 public:
  using notify = std::function<void(file_log_report)>;

  file_log(log_directory directory, file_log_settings settings, notify on_report);
  ~file_log();
  file_log(const file_log&) = delete;
  file_log& operator=(const file_log&) = delete;

  std::size_t header_bytes() const noexcept override;
  // Batches are written when flush() comes (the end of a batch of input) or enough are queued
  // to be worth a round: fewer rounds, fewer wake-ups of either thread.
  void submit(log_batch& batch) override;
  void flush() override;

  // A snapshot of the state after `seq` of `epoch`, written from the encoder's output: begin,
  // any number of writes, then finish with the trailer. Reported when finished.
  void snapshot_begin(stream_epoch epoch, sequence_number seq);
  void snapshot_write(std::string bytes);
  void snapshot_finish(std::string last_bytes);
  // Drops the snapshot being written (its temporary file is removed); nothing is reported.
  void snapshot_abandon();

  // Writes what was submitted, syncs, and stops the thread; gives up waiting at `deadline`
  // (a stuck disk), leaving the thread behind. Returns whether it finished.
  bool stop(std::chrono::steady_clock::time_point deadline);

  file_log_status status() const;
  const std::string& dir() const noexcept { return dir_name_; }
  // The log as history readers on other threads need it: segments, snapshots, damage (a copy).
  log_view view() const;
  // Damage a history reader met that start-up did not see (it arose since): added to the view,
  // so that resumes stop crossing it, for as long as its segment is kept. Any thread.
  // False when it was known already.
  bool note_damage(damaged_range range);

 private:
  struct snapshot_begin_job {
    stream_epoch epoch;
    sequence_number seq;
  };
  struct snapshot_write_job {
    enum class step : std::uint8_t { more, last, abandon };
    std::string bytes;
    step what;
  };
  using job = std::variant<log_batch*, snapshot_begin_job, snapshot_write_job>;

  void run();
  // Writes consecutive batches of one epoch in one write, retrying until it works or the log
  // stops. False when stopped first.
  bool write(std::span<log_batch* const> group, std::size_t& written, std::unique_lock<std::mutex>& lock);
  void sync(std::size_t& written);
  void run_snapshot(snapshot_begin_job& begin);
  void run_snapshot(snapshot_write_job& write);
  void apply_retention();
  // Deletes the snapshots that no longer serve as a base (snapshots_to_prune) and re-reads
  // the list. On the writing thread.
  void prune_snapshots();
  void refresh_status();
  void compose_damage();  // under mutex_: view_.damage and its status from the two lists

  log_directory directory_;
  const std::string dir_name_;
  file_log_settings settings_;
  notify on_report_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable stopped_cv_;
  std::deque<job> jobs_;
  bool stopping_ = false;
  bool stopped_ = false;
  bool idle_ = false;  // the writing thread waits for work (submit() then wakes it)
  std::size_t queued_batches_ = 0;  // batches among jobs_
  bool flush_asked_ = false;        // flush() came: write what is queued
  file_log_status status_;
  log_view view_;                        // copy of the directory's lists, under mutex_
  std::vector<damaged_range> found_at_start_;  // directory_.damage(), copied under mutex_
  std::vector<damaged_range> found_since_;     // note_damage(), under mutex_
  std::uint64_t view_generation_ = ~std::uint64_t{0};  // directory_.generation() view_ was copied at

  // The writing thread's own.
  bool failing_ = false;
  bool dirty_ = false;  // written since the last sync
  std::chrono::steady_clock::time_point last_sync_ = std::chrono::steady_clock::now();
  std::optional<snapshot_file_writer> snapshot_;
  std::chrono::steady_clock::time_point snapshot_started_;
  stream_epoch snapshot_epoch_ = 0;
  sequence_number snapshot_seq_ = 0;
  std::string snapshot_error_;
  std::vector<std::span<const char>> sealed_;  // the group being written

  std::thread thread_;
};

}  // namespace eventserver::storage
