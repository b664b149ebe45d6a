#include "eventserver/core/write_pacing.hpp"

#include <algorithm>

namespace eventserver {

write_pacing::decision write_pacing::decide(clock::time_point now, bool input_idle) const noexcept {
  if (!input_idle) return {now - flushed_at_ >= busy_hold_, std::nullopt};
  const clock::time_point due = passed_at_ + idle_hold_;
  if (now >= due) return {true, std::nullopt};
  return {false, due};
}

void write_pacing::passed(clock::time_point started, clock::time_point ended) noexcept {
  flushed_at_ = ended;
  passed_at_ = ended;
  if (delay_.count() == 0) return;  // nothing held: both holds stay 0
  const clock::duration took = ended - started;
  busy_hold_ = std::max(delay_, took);
  // Never more than the delay: a pass measured long because the process waited for a core
  // must not hold a quiet source's notifications longer than clientWriteDelayMs.
  idle_hold_ = std::min(delay_, took * idle_hold_passes);
}

}  // namespace eventserver
