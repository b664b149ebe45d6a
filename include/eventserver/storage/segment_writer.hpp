#pragma once
// Appends sealed batches to one segment file and keeps its sparse index beside it.
//
// Invariants: the file holds exactly size() bytes of whole, contiguous batches covering
// [first_seq(), next_seq()); an append that fails is cut back off, so a failed write never
// leaves half a batch behind an open writer. When even that cut fails the tail's state is
// unknown (LevelDB's background error): the writer refuses every later append with that error.
// Durability is the caller's: sync() when its fsync policy says so.

#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/file_io.hpp"
#include "eventserver/storage/segment_index.hpp"

namespace eventserver::storage {

class segment_writer {
 public:
  segment_writer() = default;
  segment_writer(segment_writer&&) noexcept = default;
  // Pending index entries are written before the files close (the destructor too).
  segment_writer& operator=(segment_writer&& other) noexcept;
  ~segment_writer() { flush_index(); }

  // A new, empty segment `<epoch>-<first_seq>.log` in `dir` (EEXIST if present) and its index.
  // The directory entry is not synced here: the caller syncs the directory (sync_directory).
  std::error_code create(const std::string& dir, stream_epoch epoch, sequence_number first_seq);

  // An existing segment, cut to `valid_length` bytes (what recovery found valid; they hold
  // [first_seq, next_seq)), its index rewritten from `index` (the scan's entries).
  std::error_code reopen(const std::string& dir, stream_epoch epoch, sequence_number first_seq,
                         std::uint64_t valid_length, sequence_number next_seq, std::span<const index_entry> index);

  // Appends one sealed batch, which must start at next_seq() (EINVAL otherwise). Partial
  // writes and EINTR are retried; ENOSPC, EIO... come back as the error.
  std::error_code append(std::span<const char> batch);
  // Appends several sealed batches, each following the one before, with one write (pwritev).
  // On failure none of them is kept (the file is cut back to where it was).
  std::error_code append(std::span<const std::span<const char>> batches);

  // fdatasync of the segment. Index entries are written in groups and not synced here: a
  // lost or lagging index of the active segment is rebuilt at start-up.
  std::error_code sync();
  // The segment is complete (a roll): the pending index entries are written and both files
  // synced, since a sealed segment's index is only checked, not rebuilt, at start-up.
  std::error_code finish();

  // Closes the files (no sync; pending index entries are written).
  void close() noexcept;

  bool is_open() const noexcept { return static_cast<bool>(log_); }
  const std::string& path() const noexcept { return path_; }
  stream_epoch epoch() const noexcept { return epoch_; }
  sequence_number first_seq() const noexcept { return first_seq_; }
  sequence_number next_seq() const noexcept { return next_seq_; }
  std::uint64_t size() const noexcept { return size_; }
  // Set when a failed append could not be cut back off; every append returns it.
  std::error_code failure() const noexcept { return failed_; }

 private:
  std::error_code open_files(const std::string& dir, stream_epoch epoch, sequence_number first_seq, int flags);
  void add_index_entry(sequence_number first_seq, std::uint64_t offset) noexcept;
  void flush_index() noexcept;

  unique_fd log_;
  unique_fd index_;  // empty once an index write failed: the index is then rebuilt, not trusted
  std::string path_;
  stream_epoch epoch_ = 0;
  sequence_number first_seq_ = 0;
  sequence_number next_seq_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t index_entries_ = 0;  // written to the index file
  std::vector<char> pending_index_;   // encoded entries not written yet (a few dozen at most)
  std::uint64_t last_index_offset_ = 0;
  std::error_code failed_;
};

}  // namespace eventserver::storage
