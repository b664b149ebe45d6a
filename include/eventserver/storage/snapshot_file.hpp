#pragma once
// Snapshot files: writing one atomically (`<name>.tmp`, fdatasync, rename, directory fsync:
// a crash leaves the old snapshots and at most a `.tmp` that start-up deletes), loading one
// with every check, and keeping the newest few.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/directory_listing.hpp"
#include "eventserver/storage/file_io.hpp"

namespace eventserver::storage {

class snapshot_file_writer {
 public:
  snapshot_file_writer() = default;
  snapshot_file_writer(snapshot_file_writer&& other) noexcept { *this = std::move(other); }
  snapshot_file_writer& operator=(snapshot_file_writer&&) noexcept;
  ~snapshot_file_writer() { abandon(); }

  // Creates `<dir>/snapshot-<epoch>-<seq>.snap.tmp` (replacing a leftover one).
  std::error_code open(const std::string& dir, stream_epoch epoch, sequence_number seq);
  // Appends encoder output.
  std::error_code write(std::string_view bytes);
  // Appends the last bytes (the encoder's trailer), syncs the file, renames it to its final
  // name and syncs the directory. On failure the temporary file is removed.
  std::error_code finish(std::string_view last_bytes = {});
  // Removes the temporary file of an unfinished snapshot.
  void abandon() noexcept;

  const std::string& final_path() const noexcept { return final_path_; }

 private:
  unique_fd fd_;
  std::string dir_;
  std::string final_path_;
  std::string temporary_path_;
  std::uint64_t size_ = 0;
};

struct snapshot_load {
  bool ok = false;
  std::string error;  // names the file and the byte offset of the first problem
  stream_epoch epoch = 0;
  sequence_number seq = 0;  // replay the log from seq + 1
  bool exact = false;       // the graph at exactly seq (version 2), not a fuzzy one (version 1)
  std::uint64_t users = 0;
  std::uint64_t edges = 0;
  std::uint64_t chunks = 0;
};

// Called once per record: a user and (part of) the ids it follows. The span is valid for the
// call only.
using snapshot_visitor = std::function<void(user_id, std::span<const user_id>)>;

// Checks everything (header, every chunk's CRC and records, the trailer's totals, nothing after
// it, the name against the header) without delivering anything.
snapshot_load verify_snapshot(const std::string& path);

// Verifies the file, then reads it again delivering its records: the visitor only ever sees a
// valid snapshot. On failure (ok false) the caller falls back to an older snapshot or a full
// replay of the log. Memory: one chunk.
snapshot_load load_snapshot(const std::string& path, const snapshot_visitor& visit);

// The snapshots in `dir`, newest (epoch, seq) first. Throws storage_error when the directory
// cannot be read.
std::vector<snapshot_file> list_snapshots(const std::string& dir);


}  // namespace eventserver::storage
