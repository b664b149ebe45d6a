#include "eventserver/storage/retention.hpp"

namespace eventserver::storage {

std::size_t segments_to_delete(std::span<const segment_info> segments, const retention_policy& policy,
                               std::chrono::system_clock::time_point now, log_position keep_from) noexcept {
  if (segments.size() < 2) return 0;
  if (policy.retention_bytes == 0 && policy.retention_age.count() == 0) return 0;
  std::uint64_t total = 0;
  for (const auto& segment : segments) total += segment.bytes;

  std::size_t count = 0;
  for (; count + 1 < segments.size(); ++count) {  // the last one is active: never
    const segment_info& segment = segments[count];
    const bool needed = segment.epoch > keep_from.epoch ||
                        (segment.epoch == keep_from.epoch && segment.last_seq >= keep_from.seq);
    if (needed) break;
    const bool over_size = policy.retention_bytes != 0 && total > policy.retention_bytes;
    const bool too_old = policy.retention_age.count() != 0 && now - segment.mtime > policy.retention_age;
    if (!over_size && !too_old) break;
    total -= segment.bytes;
  }
  return count;
}

}  // namespace eventserver::storage
