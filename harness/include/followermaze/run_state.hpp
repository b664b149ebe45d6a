#pragma once
// What the harness's threads share besides the expectations: the first failure (which stops
// everything), the progress counters, and a monotonic clock.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
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

  // --chaos-stuck-readers: for each stuck reader, when the kernel accepted the batch holding the
  // latest private message to it (0: none yet) and the bytes of those messages so far. Sized
  // before the threads start; the source writes as it publishes batches, the client thread reads
  // at the end (--chaos-stuck-timeout's reference point).
  void expect_stuck_readers(std::size_t count) {
    stuck_count_ = count;
    stuck_sent_ns_ = std::make_unique<std::atomic<std::uint64_t>[]>(count);
    stuck_bytes_ = std::make_unique<std::atomic<std::uint64_t>[]>(count);
  }
  std::size_t stuck_readers() const noexcept { return stuck_count_; }
  void stuck_message_sent(std::size_t reader, std::uint64_t bytes, std::uint64_t at_ns) noexcept {
    if (reader >= stuck_count_) return;
    stuck_bytes_[reader].fetch_add(bytes, std::memory_order_relaxed);
    stuck_sent_ns_[reader].store(at_ns, std::memory_order_release);
  }
  std::uint64_t stuck_last_sent_ns(std::size_t reader) const noexcept {
    return reader < stuck_count_ ? stuck_sent_ns_[reader].load(std::memory_order_acquire) : 0;
  }
  std::uint64_t stuck_bytes_sent(std::size_t reader) const noexcept {
    return reader < stuck_count_ ? stuck_bytes_[reader].load(std::memory_order_acquire) : 0;
  }

 private:
  mutable std::mutex mutex_;
  std::string failure_;
  std::atomic<bool> stop_{false};
  std::size_t stuck_count_ = 0;
  std::unique_ptr<std::atomic<std::uint64_t>[]> stuck_sent_ns_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> stuck_bytes_;
};

}  // namespace followermaze
