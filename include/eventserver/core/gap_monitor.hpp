#pragma once
// Watches how long the sequence has been held back by one missing number, so the gap
// timeout policy can be decided (and tested) without a timer: the server feeds it the
// sequencer's state and the current time, and arms a timer for deadline().

#include <chrono>
#include <optional>

#include "eventserver/core/event.hpp"

namespace eventserver {

class gap_monitor {
 public:
  using clock = std::chrono::steady_clock;

  // timeout == 0: gaps are watched (their age is reported) but never expire.
  explicit gap_monitor(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // `blocked`: events are pending but `next_expected` is missing.
  void observe(sequence_number next_expected, bool blocked, clock::time_point now) noexcept;

  bool enabled() const noexcept { return timeout_.count() > 0; }
  bool gap_open() const noexcept { return since_.has_value(); }
  sequence_number missing() const noexcept { return watched_; }
  // When the current gap started holding events back.
  std::optional<clock::time_point> since() const noexcept { return since_; }
  std::optional<clock::time_point> deadline() const noexcept;
  bool expired(clock::time_point now) const noexcept;

 private:
  std::chrono::milliseconds timeout_;
  sequence_number watched_ = 0;
  std::optional<clock::time_point> since_;
};

}  // namespace eventserver
