#include "followermaze/owned_expectations.hpp"

#include <algorithm>

namespace followermaze {

void owned_expectations::push(std::string_view line, event_kind kind, std::uint64_t sent_ns) {
  if (empty() && head_ != 0) {
    entries_.clear();
    text_.clear();
    head_ = 0;
    text_head_ = 0;
  }
  text_.insert(text_.end(), line.begin(), line.end());
  entries_.push_back({sent_ns, static_cast<std::uint8_t>(line.size()), kind});
}

void owned_expectations::pop() noexcept {
  text_head_ += entries_[head_].length;
  ++head_;
  if (head_ >= 4096 && 2 * head_ >= entries_.size()) compact();
}

void owned_expectations::compact() {
  // Checked entries go, so the memory held follows the backlog, not the stream's length.
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
  text_.erase(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(text_head_));
  head_ = 0;
  text_head_ = 0;
}

std::uint64_t read_pacer::allowance(std::uint64_t now, std::uint64_t stream_start_ns, std::uint64_t end_ns) const noexcept {
  const double published = static_cast<double>(published_);
  double allowed = fraction_ * published;
  if (end_ns != 0 && now > end_ns) {
    const double stream = static_cast<double>(std::max<std::uint64_t>(end_ns - std::min(stream_start_ns, end_ns), 1));
    allowed += fraction_ * published * static_cast<double>(now - end_ns) / stream;
  }
  // Past the end it keeps growing, so status lines (not published) never leave it short.
  constexpr double most = 9.2e18;
  return static_cast<std::uint64_t>(std::min(allowed, most));
}

}  // namespace followermaze
