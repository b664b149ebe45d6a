#pragma once
// The settings the core reads: plain data, filled from the config file by app/config.

#include <chrono>
#include <cstddef>

namespace eventserver {

struct stream_settings {
  std::size_t max_pending_events = 100000;  // the reorder window
  std::chrono::milliseconds gap_timeout{0};  // 0: wait for a missing number forever
};

}  // namespace eventserver
