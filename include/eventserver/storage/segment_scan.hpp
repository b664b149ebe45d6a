#pragma once
// Recovery's view of one segment: how much of it is valid, and whether what follows is a
// torn tail (the writer died mid-write: cut it off) or damage in the middle (stop, unless the
// operator asks for repair).
//
// The torn-tail rule: at the first invalid batch, at offset X (bad CRC, impossible header,
// zero-filled header, a sequence number that does not continue the previous batch, or a body
// running past the end of the file), look for any valid batch starting anywhere after X whose
// first_seq is greater than the last good sequence number. If there is one, the bytes from X
// to it are damage in the middle; if there is none, everything from X on is a torn tail.

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/reporter.hpp"
#include "eventserver/storage/segment_index.hpp"

namespace eventserver::storage {

enum class scan_outcome : std::uint8_t {
  clean,      // whole, valid batches up to the end of the file
  torn_tail,  // valid up to valid_length, then no valid batch: cut there
  damaged,    // invalid bytes at damage_offset, a valid batch again at resume_offset
  io_error,   // `error`
};

struct segment_scan {
  scan_outcome outcome = scan_outcome::clean;
  std::uint64_t file_size = 0;
  std::uint64_t valid_length = 0;    // bytes of valid, contiguous batches from the start
  sequence_number first_seq = 0;     // the segment's first number (from its name)
  sequence_number last_seq = 0;      // the last valid one; first_seq - 1 when there is none
  std::uint64_t batches = 0;         // valid batches (full scans only)
  std::uint64_t damage_offset = 0;   // torn_tail, damaged: the first invalid byte (== valid_length)
  std::uint64_t resume_offset = 0;   // damaged: the next valid batch
  std::string reason;                // torn_tail, damaged: why the batch at damage_offset is invalid
  std::vector<index_entry> index;    // entries for the valid part (index_entry_due's rule)
  bool index_rebuilt = false;        // check_segment_tail: the index disagreed; `index` is complete
  std::error_code error;
  // scan_segment_through only: each stretch of damage it read past, in order. The outcome,
  // valid_length, last_seq and index then describe the segment after the last of them (valid
  // batches again), and `index` has an entry at each resume_offset, so a reader seeking past
  // the damage starts there.
  struct damaged_stretch {
    std::uint64_t offset = 0;         // the first invalid byte
    std::uint64_t bytes = 0;          // invalid bytes up to the next valid batch
    sequence_number first_lost = 0;   // the numbers between the last good batch and the next
    sequence_number last_lost = 0;
    std::string reason;
  };
  std::vector<damaged_stretch> damage;
};

// Reads the whole segment at `path` (named `<epoch>-<first_seq>.log`; `first_seq` is taken
// from the name, else from the first batch) and applies the torn-tail rule, telling `report`
// what it drops. Reads through a bounded buffer.
segment_scan scan_segment(const std::string& path, reporter& report);
segment_scan scan_segment(const std::string& path, sequence_number first_seq, reporter& report);

// Like scan_segment, but damage in the middle does not end the scan: it is recorded in
// `damage` and the scan reads on from the next valid batch, so the whole segment is checked and
// what follows the damage stays readable. The outcome is torn_tail only for an invalid end of
// the file (no valid batch after it), else clean. What start-up uses on every segment.
segment_scan scan_segment_through(const std::string& path, sequence_number first_seq, reporter& report);

// A sealed segment's extent without reading all of it: from its index's last entry, verified,
// to the end of the file. When the index is missing, disagrees, or misses entries for the
// part read, falls back to scan_segment (index_rebuilt set, `index` the full rebuild). Only
// the part read is checked: the log tool's verify reads everything.
segment_scan check_segment_tail(const std::string& path, sequence_number first_seq, reporter& report);

}  // namespace eventserver::storage
