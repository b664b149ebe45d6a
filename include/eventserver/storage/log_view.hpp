#pragma once
// What the history readers need to know of the log, as one value the writing thread hands
// out (file_log::view()): the segments, the snapshots and the damage start-up read past. And
// the rule that decides from where a resume can be served exactly, a pure function of it.
//
// A resume after number N needs two things: whom the user followed at N (a *base* at or
// before N: the epoch's start while the log still holds its number 1, or a snapshot at s whose
// next number s + 1 the log still holds, replayed forward to N), and every number after N (no
// damage after the base). So history for a resume begins at the oldest base that lies after
// every damaged range of the epoch: the resumable start. Before it, the log may still hold
// lines (a client already catching up reads them), but no resume is exact there.

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/directory_listing.hpp"

namespace eventserver::storage {

// A snapshot file by its numbers (the graph after `seq` of `epoch`).
struct snapshot_mark {
  stream_epoch epoch = 0;
  sequence_number seq = 0;
};

struct log_view {
  log_view() = default;
  // Segments alone: no snapshots, no damage (tests, tools).
  log_view(std::vector<segment_info> list) : segments(std::move(list)) {}  // NOLINT: implicit on purpose

  std::vector<segment_info> segments;  // oldest first
  std::vector<snapshot_mark> snapshots;
  std::vector<damaged_range> damage;
};

// The first number of `epoch` a resume can be served from exactly (a resume after N is
// complete when N + 1 >= it), or nullopt when there is none (nothing of the epoch left, or no
// base after its damage).
std::optional<sequence_number> resumable_from(const log_view& view, stream_epoch epoch) noexcept;

// Which snapshots no longer serve as a base, given the segments: those of an epoch older than
// the log's current one, and those whose next number retention has deleted. The newest
// snapshot is always kept. `snapshots` in any order; returns indices into it.
std::vector<std::size_t> snapshots_to_prune(std::span<const snapshot_mark> snapshots,
                                            std::span<const segment_info> segments);

}  // namespace eventserver::storage
