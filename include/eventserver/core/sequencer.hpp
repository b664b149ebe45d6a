#pragma once
// Puts events back into sequence order. Pending events are keyed by sequence number in a
// ring indexed by `seq & mask`, so accepting and releasing an event is O(1) while events
// arrive within the ring's span of the next expected number. The ring starts small and
// doubles on demand up to the reorder window; the rare event further ahead than that waits
// in an ordered overflow map and moves into the ring as the sequence catches up.
//
// Bound: at most max_pending events are held (ring + overflow); the caller checks full()
// and stops reading its sources.
//
// What is held is the notification itself: the payload with "\r\n" appended, ready to be
// queued to clients in one copy. A slot is one 64-byte cache line with the line inline, so
// a steady stream allocates nothing and an event costs one line of memory; the rare line
// too long for it (only possible with very large numbers or leading zeros) waits in a side
// table. A no-op (bad body) keeps no bytes: nobody is notified of it.

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "eventserver/core/event.hpp"
#include "eventserver/core/line_ref.hpp"

namespace eventserver {

class sequencer {
 public:
  enum class offer_result : std::uint8_t {
    accepted,
    duplicate,  // the same sequence number is already pending
    stale,      // the sequence number was already processed (or skipped)
  };

  struct gap {
    sequence_number first;  // first missing sequence number
    sequence_number last;   // last missing one (inclusive)
  };

  explicit sequencer(std::size_t max_pending, sequence_number first = 1);

  // Holds `ev` with a copy of its payload (the line without its terminator) until its turn.
  // The caller must not offer while full() unless ev.seq == next_expected() (that one never
  // grows the window). A short payload that may be read for line_ref::readable_margin bytes
  // is copied in one fixed-size move, with no branch on its length.
  offer_result offer(const event& ev, line_ref payload);

  // Calls f(const event&, line_ref notification) for every event whose turn has come, in
  // order; `notification` is the payload followed by "\r\n" (empty for a no-op). It is valid
  // only during the call, and may be read for at least line_ref::readable_margin bytes from
  // its start, however short it is (a slot's line, or a longer line's own string). Returns
  // how many were released.
  template <class F>
  std::size_t drain(F&& f);

  // Gives up on the missing numbers before the lowest pending event; drain() then proceeds.
  std::optional<gap> skip_gap();
  // Gives up on every number from next_expected() to target - 1. `target` may not lie past
  // the lowest pending event; nullopt (nothing changes) when target <= next_expected().
  std::optional<gap> skip_to(sequence_number target);
  // The lowest sequence number held, if any.
  std::optional<sequence_number> lowest_pending() const noexcept;

  bool ready() const noexcept { return pending_ != 0 && ring_[index(next_)].used; }
  bool full() const noexcept { return pending_ >= max_pending_; }
  bool blocked() const noexcept { return pending_ != 0 && !ready(); }
  std::size_t pending() const noexcept { return pending_; }
  std::size_t max_pending() const noexcept { return max_pending_; }
  sequence_number next_expected() const noexcept { return next_; }
  // Highest sequence number ever accepted (0 before the first).
  sequence_number head() const noexcept { return head_; }
  std::size_t ring_capacity() const noexcept { return ring_.size(); }

 private:
  // The line bytes a slot holds inline, "\r\n" included: a line of up to 43 bytes. What a
  // slot promises drain()'s caller is what line_ref says every padded line promises.
  static constexpr std::size_t inline_bytes = line_ref::readable_margin;
  // `size` of a slot whose line is in long_lines_.
  static constexpr std::uint8_t long_line = 0xff;

  // The sequence number is not stored: in the ring it is implied by the position, in the
  // overflow map it is the key.
  struct slot {
    user_id from = 0;
    user_id to = 0;
    event_type type = event_type::no_op;
    bool used = false;
    std::uint8_t size = 0;  // bytes of `line` in use, or long_line
    char line[inline_bytes];
  };
  static_assert(sizeof(slot) == 64, "one slot, one cache line");

  std::size_t index(sequence_number seq) const noexcept { return static_cast<std::size_t>(seq) & mask_; }
  bool in_ring_span(sequence_number seq) const noexcept { return seq - next_ < ring_.size(); }
  // offer() for a number past the ring's span: grows the ring or uses the overflow map.
  offer_result offer_beyond_ring(const event& ev, line_ref payload);
  void grow_ring(sequence_number needed_span);
  void accept(slot& s, const event& ev, line_ref payload);
  // accept()'s rare cases: a no-op, a line too long for the slot, a payload without slack.
  [[gnu::noinline]] void accept_uncommon(slot& s, const event& ev, std::string_view payload);
  void migrate_overflow();
  // Calls f with the slot's event and line, then frees the slot.
  template <class F>
  void release(slot& s, sequence_number seq, F& f);

  std::vector<slot> ring_;
  std::size_t mask_;
  std::size_t max_ring_;
  std::map<sequence_number, slot> overflow_;
  boost::unordered_flat_map<sequence_number, std::string> long_lines_;  // lines over inline_bytes
  std::size_t max_pending_;
  std::size_t pending_ = 0;
  sequence_number next_;
  sequence_number head_ = 0;
};

// The common case inline (the dispatcher's hot path): a number within the ring's span.
inline sequencer::offer_result sequencer::offer(const event& ev, line_ref payload) {
  if (ev.seq < next_) return offer_result::stale;
  if (!in_ring_span(ev.seq)) return offer_beyond_ring(ev, payload);
  slot& s = ring_[index(ev.seq)];
  if (s.used) return offer_result::duplicate;
  accept(s, ev, payload);
  return offer_result::accepted;
}

inline void sequencer::accept(slot& s, const event& ev, line_ref payload) {
  s.from = ev.from;
  s.to = ev.to;
  s.type = ev.type;
  s.used = true;
  if (ev.type != event_type::no_op && payload.size() + 2 <= inline_bytes && payload.readable() >= inline_bytes) {
    std::memcpy(s.line, payload.data(), inline_bytes);  // fixed size; the bytes past the payload are unused
    std::memcpy(s.line + payload.size(), "\r\n", 2);
    s.size = static_cast<std::uint8_t>(payload.size() + 2);
  } else {
    accept_uncommon(s, ev, payload);
  }
  head_ = std::max(head_, ev.seq);
  ++pending_;
}

template <class F>
std::size_t sequencer::drain(F&& f) {
  std::size_t released = 0;
  for (;;) {
    while (pending_ != 0) {
      slot& s = ring_[index(next_)];
      if (!s.used) break;
      --pending_;
      ++released;
      release(s, next_++, f);
    }
    if (overflow_.empty() || !in_ring_span(overflow_.begin()->first)) return released;
    migrate_overflow();
    if (!ready()) return released;
  }
}

template <class F>
void sequencer::release(slot& s, sequence_number seq, F& f) {
  s.used = false;
  const event ev{seq, s.type, s.from, s.to};
  if (s.size != long_line) {
    f(static_cast<const event&>(ev), line_ref(s.line, s.size, inline_bytes));
    return;
  }
  const auto it = long_lines_.find(seq);
  f(static_cast<const event&>(ev), line_ref(it->second));  // longer than inline_bytes
  long_lines_.erase(it);
}

}  // namespace eventserver
