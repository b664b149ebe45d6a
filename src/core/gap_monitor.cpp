#include "eventserver/core/gap_monitor.hpp"

namespace eventserver {

void gap_monitor::observe(sequence_number next_expected, bool blocked, clock::time_point now) noexcept {
  if (!blocked) {
    since_.reset();
    return;
  }
  // A new missing number starts its own clock; the same one keeps the old start.
  if (!since_ || watched_ != next_expected) {
    watched_ = next_expected;
    since_ = now;
  }
}

std::optional<gap_monitor::clock::time_point> gap_monitor::deadline() const noexcept {
  if (!enabled() || !since_) return std::nullopt;
  return *since_ + timeout_;
}

bool gap_monitor::expired(clock::time_point now) const noexcept {
  const auto due = deadline();
  return due && now >= *due;
}

}  // namespace eventserver
