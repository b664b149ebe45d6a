#pragma once
// The event log on disk (dataDir): recovery of the data directory (recover_log) on a thread of
// its own, then the file backend (file_log: its writing thread), the history served from the
// files (history_service: its reading thread) and snapshot files. What the threads find comes
// back through the post function; what recovery and writing did is told as notes.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "eventserver/storage/event_log.hpp"
#include "eventserver/storage/file_log.hpp"
#include "eventserver/storage/history_service.hpp"
#include "eventserver/storage/recovery.hpp"

namespace eventserver::storage {

struct file_event_log_settings {
  std::string dir;
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
  file_log_settings writing;
  // How long the destructor waits for the writer when stop() was never called (a shutdown
  // during recovery).
  std::chrono::milliseconds stop_timeout{5000};
};

class file_event_log final : public event_log {
 public:
  file_event_log(file_event_log_settings settings, post_fn post);
  // A recovery still running is left behind (it posts nothing more); a writer still running
  // is stopped (within stop_timeout).
  ~file_event_log() override;
  file_event_log(const file_event_log&) = delete;
  file_event_log& operator=(const file_event_log&) = delete;

  // Makes a missing data directory whose parent exists (as nats-server's -sd and Kafka's
  // log.dirs do); throws storage_error for one that cannot be used.
  void start(event_log_listener& listener) override;
  log_backend& backend() override { return *file_; }
  history_source* history() noexcept override { return history_.get(); }

  bool takes_snapshots() const noexcept override { return true; }
  void snapshot_begin(eventserver::log_position at) override { file_->snapshot_begin(at.epoch, at.seq); }
  void snapshot_write(std::string bytes) override { file_->snapshot_write(std::move(bytes)); }
  void snapshot_finish(std::string last_bytes) override { file_->snapshot_finish(std::move(last_bytes)); }
  void snapshot_abandon() override { file_->snapshot_abandon(); }

  std::string problem() const override;
  event_log_status status() const override;
  bool stop(eventserver::log_position closed_at, std::chrono::steady_clock::time_point deadline) override;

 private:
  struct recovery_job;
  void check_directory();
  void on_recovered(recovered_log recovered);
  void on_report(const file_log_report& report);
  // A post whose functions run on the event thread only while this log exists.
  post_fn guarded_post() const;

  const file_event_log_settings settings_;
  const post_fn post_;
  event_log_listener* listener_ = nullptr;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // what posted functions check first
  bool recovering_ = false;
  bool stopped_ = false;
  double recovery_seconds_ = 0;
  std::uint64_t snapshots_set_aside_ = 0;  // at start-up: past the end of the log
  std::string failing_;                    // the write error while writing fails
  std::shared_ptr<recovery_job> recovery_;
  std::thread recovery_thread_;
  std::unique_ptr<file_log> file_;
  // Reads the files for clients (a thread of its own); declared after file_ so that it goes
  // first: it asks file_ for the segments.
  std::unique_ptr<history_service> history_;
};

}  // namespace eventserver::storage
