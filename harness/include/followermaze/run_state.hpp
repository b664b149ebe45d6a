#pragma once
// What the harness's threads share besides the expectations: the first failure (which stops
// everything), the progress counters, and a monotonic clock.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace followermaze {

inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

class run_state {
 public:
  // The first failure wins; later ones are usually its consequences.
  void fail(std::string message) {
    {
      std::lock_guard lock(mutex_);
      if (failure_.empty()) failure_ = std::move(message);
    }
    stop_.store(true, std::memory_order_release);
  }
  bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }
  std::string failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }

  std::atomic<std::uint64_t> events_sent{0};              // events whose batch is fully written
  std::atomic<std::uint64_t> notifications_verified{0};   // lines checked and found right
  // What the source's in-flight bound counts as off its hands: verified lines, and lines copied
  // out of its chunks for connections that may fall far behind (see owned_expectations).
  std::atomic<std::uint64_t> notifications_settled{0};
  // The epoch of this run's stream once the source has learnt it from the daemon's first durable
  // line; 0 until then, and for a daemon that writes none (the original protocol).
  std::atomic<std::uint64_t> stream_epoch{0};
  std::atomic<bool> source_done{false};
  std::atomic<bool> clients_done{false};

 private:
  mutable std::mutex mutex_;
  std::string failure_;
  std::atomic<bool> stop_{false};
};

}  // namespace followermaze
