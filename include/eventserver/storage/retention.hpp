#pragma once
// Which segments retention deletes: a pure function of the segment list, the limits, the
// time and what recovery still needs, so every rule is tested without files or clocks.
//
// Rules: whole segments only, oldest first, and only a prefix of the list (history stays
// contiguous: an epoch's first available number is its first remaining segment's). A segment
// goes when the log is over retention_bytes (counting every segment, the active one too) or
// its last write is older than retention_age; either limit alone suffices. Never the active
// (last) segment; never a segment holding any number >= keep_from.seq of keep_from.epoch,
// nor any segment of a later epoch. Older epochs go by the same rules.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/directory_listing.hpp"

namespace eventserver::storage {

struct retention_policy {
  std::uint64_t retention_bytes = 0;  // 0: no size limit
  std::chrono::milliseconds retention_age{0};  // 0: no age limit (logRetentionMs as it is: 500 ms is not 0 s)
};

// A point in the log: sequence number `seq` of `epoch`.
struct log_position {
  stream_epoch epoch = 0;
  sequence_number seq = 0;
};

// How many of the oldest `segments` (sorted oldest first, the last one active) to delete.
// keep_from: what recovery still replays, the number after the newest snapshot's (epoch,
// snapshot seq + 1), or (current epoch, 1) when there is no snapshot.
std::size_t segments_to_delete(std::span<const segment_info> segments, const retention_policy& policy,
                               std::chrono::system_clock::time_point now, log_position keep_from) noexcept;

}  // namespace eventserver::storage
