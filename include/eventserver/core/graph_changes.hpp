#pragma once
// The recent changes to the follower graph, for a client resuming after sequence number N:
// its notifications after N depend on whom its user followed at N, and the graph only knows
// now. Each follow that added an edge and each unfollow that removed one is kept (only
// these: a follow of an edge already there changes nothing), in a ring of fixed size; undoing
// the user's changes after N from its follows now gives its follows at N exactly.
//
// Bound: `capacity` changes of 24 bytes; older ones are overwritten. A resume from further back
// than the ring reaches asks the history instead (history_source::following_at).
//
// The journal: while a snapshot of the graph at N is encoded over several turns of the loop,
// every change is also appended to a journal that nothing overwrites, so the encoder can undo,
// for a user it reaches only later, what changed after N (the snapshot is then exact). Bound:
// the changes applied while one snapshot is encoded; emptied when it ends.

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "eventserver/core/event.hpp"

namespace eventserver {

class graph_changes {
 public:
  explicit graph_changes(std::size_t capacity);

  // `seq` changed the edge from -> to: added (a follow) or removed (an unfollow).
  void record(sequence_number seq, user_id from, user_id to, bool added) {
    if (journaling_) journal_.push_back({seq << 1 | (added ? 1 : 0), from, to});
    slot& s = ring_[next_ % ring_.size()];
    if (next_ >= ring_.size()) covered_after_ = s.seq >> 1;  // the change overwritten is gone
    s.seq = seq << 1 | (added ? 1 : 0);
    s.from = from;
    s.to = to;
    ++next_;
  }
  // Every change after `seq` is recorded from now on: a new stream (0) or the end of a
  // recovery that recorded what it replayed after a snapshot at `seq`.
  void reset(sequence_number seq) noexcept {
    next_ = 0;
    covered_after_ = seq;
  }


  // Whom `user` followed right after `after`, given whom it follows now (`now_following`, at
  // `applied`): nullopt when the ring no longer reaches back to after + 1.
  std::optional<std::vector<user_id>> following_at(user_id user, sequence_number after, sequence_number applied,
                                                   std::span<const user_id> now_following) const;

  std::size_t capacity() const noexcept { return ring_.size(); }

  struct slot {
    sequence_number seq = 0;  // number << 1, low bit: added
    user_id from = 0;
    user_id to = 0;
    bool added() const noexcept { return (seq & 1) != 0; }
  };
  // Starts (emptied) or ends the journal; journal() is every change since it started, in order.
  void start_journal() {
    journal_.clear();
    journaling_ = true;
  }
  void stop_journal() {
    journaling_ = false;
    std::vector<slot>().swap(journal_);
  }
  std::span<const slot> journal() const noexcept { return journal_; }

 private:
  std::vector<slot> ring_;
  std::size_t next_ = 0;                 // changes recorded since the last reset
  sequence_number covered_after_ = 0;    // every change after this number is in the ring
  bool journaling_ = false;
  std::vector<slot> journal_;
};

}  // namespace eventserver
