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
  std::atomic<bool> source_done{false};
  std::atomic<bool> clients_done{false};

 private:
  mutable std::mutex mutex_;
  std::string failure_;
  std::atomic<bool> stop_{false};
};

}  // namespace followermaze
