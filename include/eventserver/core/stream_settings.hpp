#pragma once
// The settings the core reads: plain data, filled from the config file by app/config.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace eventserver {

struct stream_settings {
  std::size_t max_pending_events = 100000;  // the reorder window
  std::chrono::milliseconds gap_timeout{0};  // 0: wait for a missing number forever
  // A line more than this far past the awaited number is rejected (0: no limit). At least
  // max_pending_events: the window's own numbers are never rejected.
  std::uint64_t max_sequence_jump = 10'000'000;
};

}  // namespace eventserver
