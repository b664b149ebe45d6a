#pragma once
// The settings the core reads: plain data, filled from the config file by app/config.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace eventserver {

// newStreamPolicy: what a producer sending 1 again, after the stream got further, means.
enum class new_stream_mode : std::uint8_t {
  restart,             // a new stream (epoch) begins, if the source is alone and nothing is pending
  continue_numbering,  // nothing special: its lines are stale, dropped and counted
};

struct stream_settings {
  std::size_t max_pending_events = 100000;  // the reorder window
  std::chrono::milliseconds gap_timeout{0};  // 0: wait for a missing number forever
  // A line more than this far past the awaited number is rejected (0: no limit). At least
  // max_pending_events: the window's own numbers are never rejected.
  std::uint64_t max_sequence_jump = 10'000'000;
  new_stream_mode new_stream = new_stream_mode::restart;
  // The recent follower-graph changes kept for resumes (24 bytes each, 192 KiB): in the
  // harness's stream, about the last 55,000 events; a resume from further back asks history.
  std::size_t recent_graph_changes = 8192;
};

}  // namespace eventserver
