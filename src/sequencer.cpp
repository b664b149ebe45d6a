#include "eventserver/sequencer.hpp"

#include <algorithm>
#include <bit>
#include <utility>

namespace eventserver {

namespace {
constexpr std::size_t initial_ring = 1024;
}

sequencer::sequencer(std::size_t max_pending, sequence_number first)
    : ring_(std::min(initial_ring, std::bit_ceil(std::max<std::size_t>(max_pending, 1)))),
      mask_(ring_.size() - 1),
      // A full window of consecutive numbers fits; anything further ahead overflows.
      max_ring_(std::bit_ceil(std::max<std::size_t>(max_pending, 1))),
      max_pending_(max_pending),
      next_(first) {}

sequencer::offer_result sequencer::offer(const event& ev, std::string_view payload) {
  if (ev.seq < next_) return offer_result::stale;
  if (in_ring_span(ev.seq)) {
    if (ring_[index(ev.seq)].used) return offer_result::duplicate;
  } else if (ev.seq - next_ < max_ring_) {
    if (overflow_.contains(ev.seq)) return offer_result::duplicate;
    grow_ring(ev.seq - next_ + 1);
  } else if (overflow_.contains(ev.seq)) {
    return offer_result::duplicate;
  }
  store(ev, payload);
  head_ = std::max(head_, ev.seq);
  ++pending_;
  return offer_result::accepted;
}

void sequencer::store(const event& ev, std::string_view payload) {
  if (in_ring_span(ev.seq)) {
    slot& s = ring_[index(ev.seq)];
    s.ev = ev;
    s.payload.assign(payload);  // reuses the slot's capacity
    s.used = true;
    return;
  }
  slot& s = overflow_[ev.seq];
  s.ev = ev;
  s.payload.assign(payload);
  s.used = true;
}

void sequencer::grow_ring(sequence_number needed_span) {
  const std::size_t capacity = std::min(max_ring_, std::bit_ceil(static_cast<std::size_t>(needed_span)));
  std::vector<slot> bigger(capacity);
  const std::size_t new_mask = capacity - 1;
  for (slot& s : ring_) {
    if (s.used) bigger[static_cast<std::size_t>(s.ev.seq) & new_mask] = std::move(s);
  }
  ring_ = std::move(bigger);
  mask_ = new_mask;
  migrate_overflow();
}

void sequencer::migrate_overflow() {
  while (!overflow_.empty() && in_ring_span(overflow_.begin()->first)) {
    auto node = overflow_.extract(overflow_.begin());
    ring_[index(node.key())] = std::move(node.mapped());
  }
}

std::optional<sequencer::gap> sequencer::skip_gap() {
  if (!blocked()) return std::nullopt;
  sequence_number lowest = next_;
  bool found = false;
  for (std::size_t i = 0; i < ring_.size(); ++i) {
    if (ring_[index(next_ + i)].used) {
      lowest = next_ + i;
      found = true;
      break;
    }
  }
  if (!found) lowest = overflow_.begin()->first;  // pending_ != 0, so it is there
  const gap skipped{next_, lowest - 1};
  next_ = lowest;
  migrate_overflow();
  return skipped;
}

}  // namespace eventserver
