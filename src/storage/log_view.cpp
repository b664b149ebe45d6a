#include "eventserver/storage/log_view.hpp"

#include <algorithm>
#include <limits>

#include "eventserver/storage/history_reader.hpp"

namespace eventserver::storage {

std::optional<sequence_number> resumable_from(const log_view& view, stream_epoch epoch) noexcept {
  const auto first = first_available_seq(view.segments, epoch);
  if (!first) return std::nullopt;
  sequence_number last = 0;  // the last number of the epoch in the log
  for (const auto& segment : view.segments) {
    if (segment.epoch == epoch) last = segment.last_seq;
  }
  // A base must lie at or after the end of every damaged range (0: no damage).
  sequence_number floor = 0;
  for (const auto& range : view.damage) {
    if (range.epoch != epoch) continue;
    // An unknown end (a sealed segment's damaged end, the last of its epoch) reaches the epoch's end.
    floor = std::max(floor, range.last_lost == 0 ? std::numeric_limits<sequence_number>::max() : range.last_lost);
  }
  std::optional<sequence_number> base;
  if (*first == 1 && floor == 0) base = 0;
  for (const auto& snapshot : view.snapshots) {
    if (snapshot.epoch != epoch || snapshot.seq < floor || snapshot.seq + 1 < *first || snapshot.seq > last) continue;
    if (!base || snapshot.seq < *base) base = snapshot.seq;
  }
  if (!base) return std::nullopt;
  return *base + 1;
}

std::vector<std::size_t> snapshots_to_prune(std::span<const snapshot_mark> snapshots,
                                            std::span<const segment_info> segments) {
  std::vector<std::size_t> prune;
  if (snapshots.empty()) return prune;
  std::size_t newest = 0;
  for (std::size_t i = 1; i < snapshots.size(); ++i) {
    const auto& a = snapshots[i];
    const auto& b = snapshots[newest];
    if (a.epoch > b.epoch || (a.epoch == b.epoch && a.seq > b.seq)) newest = i;
  }
  const stream_epoch current = segments.empty() ? snapshots[newest].epoch : segments.back().epoch;
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    if (i == newest) continue;
    const snapshot_mark& snapshot = snapshots[i];
    const auto first = first_available_seq(segments, snapshot.epoch);
    const bool older_stream = snapshot.epoch < current;
    const bool unreachable = !first || snapshot.seq + 1 < *first;
    if (older_stream || unreachable) prune.push_back(i);
  }
  return prune;
}

}  // namespace eventserver::storage
