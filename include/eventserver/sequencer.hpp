#pragma once
// Puts events back into sequence order. Pending events are keyed by sequence number in a
// ring indexed by `seq & mask`, so accepting and releasing an event is O(1) while events
// arrive within the ring's span of the next expected number. The ring starts small and
// doubles on demand up to the reorder window; the rare event further ahead than that waits
// in an ordered overflow map and moves into the ring as the sequence catches up.
//
// Bound: at most max_pending events are held (ring + overflow); the caller checks full()
// and stops reading its sources. Payload bytes are copied into per-slot strings whose
// capacity is reused, so a steady stream allocates nothing.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/event.hpp"

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

  // Holds `ev` with a copy of its payload until its turn. The caller must not offer
  // while full() unless ev.seq == next_expected() (that one never grows the window).
  offer_result offer(const event& ev, std::string_view payload);

  // Calls f(const event&, std::string_view payload) for every event whose turn has come, in
  // order. The payload view is valid only during the call. Returns how many were released.
  template <class F>
  std::size_t drain(F&& f);

  // Gives up on the missing numbers before the lowest pending event; drain() then proceeds.
  std::optional<gap> skip_gap();

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
  struct slot {
    event ev;
    std::string payload;
    bool used = false;
  };

  std::size_t index(sequence_number seq) const noexcept { return static_cast<std::size_t>(seq) & mask_; }
  bool in_ring_span(sequence_number seq) const noexcept { return seq - next_ < ring_.size(); }
  void grow_ring(sequence_number needed_span);
  void store(const event& ev, std::string_view payload);
  void migrate_overflow();

  std::vector<slot> ring_;
  std::size_t mask_;
  std::size_t max_ring_;
  std::map<sequence_number, slot> overflow_;
  std::size_t max_pending_;
  std::size_t pending_ = 0;
  sequence_number next_;
  sequence_number head_ = 0;
};

template <class F>
std::size_t sequencer::drain(F&& f) {
  std::size_t released = 0;
  for (;;) {
    while (pending_ != 0) {
      slot& s = ring_[index(next_)];
      if (!s.used) break;
      s.used = false;
      --pending_;
      ++next_;
      ++released;
      f(static_cast<const event&>(s.ev), std::string_view(s.payload));
    }
    if (overflow_.empty() || !in_ring_span(overflow_.begin()->first)) return released;
    migrate_overflow();
    if (!ready()) return released;
  }
}

}  // namespace eventserver
