#pragma once
// Start-up recovery of a data directory, its own step: open the log (lock, torn tail, damage:
// log_directory::open), load the newest valid snapshot of the current epoch, and replay the
// log after it into the follower graph. The result is everything the daemon needs to go on
// where it stood: the epoch, the last sequence number, the graph.
//
// A snapshot that fails its checks is skipped for the one before it, or for a full replay of
// the epoch (each refusal is noted). A snapshot of an older epoch does not apply: a new
// stream starts with an empty graph.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/core/follower_graph.hpp"
#include "eventserver/storage/log_directory.hpp"

namespace eventserver::storage {

struct recovered_log {
  log_directory directory;
  stream_epoch epoch = 1;        // the stream the log continues (1 for an empty log)
  sequence_number last_seq = 0;  // the last number of that epoch in the log
  follower_graph graph;          // after last_seq
  std::optional<snapshot_file> snapshot;  // the one loaded, if any
  std::vector<std::string> refused_snapshots;  // why each newer one could not be used
  std::uint64_t replayed = 0;    // events read from the log after the snapshot
  double seconds = 0;            // how long recovery took
};

// Throws storage_error (naming file and offset) when the log cannot be opened, or when the
// graph cannot be rebuilt (the epoch's start is gone and no snapshot covers it).
recovered_log recover_log(const log_options& options);

}  // namespace eventserver::storage
