#pragma once
// Runs one piece of blocking work at a time (re-reading the config file and reopening the log
// file on SIGHUP: a stalled filesystem can hang either) on a thread of its own, so the event
// thread never waits for it. The work touches none of the daemon's state: it returns a
// completion, which is posted to the io_context and runs there.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "eventserver/net/asio.hpp"

namespace eventserver {

class blocking_job {
 public:
  using completion = std::function<void()>;
  using work = std::function<completion()>;

  explicit blocking_job(asio::io_context& io);
  // A job still running is left behind (detached): it can no longer post, and the process
  // is ending anyway.
  ~blocking_job();
  blocking_job(const blocking_job&) = delete;
  blocking_job& operator=(const blocking_job&) = delete;

  // Starts `job` on its own thread; its completion is posted when it returns. False (and
  // nothing starts) while the previous job is still running.
  bool start(work job);
  bool running() const noexcept { return state_->running; }
  // Shutdown: a job still running is left to finish on its own; its completion is dropped and
  // the io_context may return from run() without waiting for it. No job starts after this.
  void abandon();

 private:
  struct shared_state {
    std::mutex mutex;
    asio::io_context* io;  // null once the owner is gone
    std::atomic<bool> running{false};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> busy;  // while a job runs
  };

  std::shared_ptr<shared_state> state_;
  std::thread thread_;
};

}  // namespace eventserver
