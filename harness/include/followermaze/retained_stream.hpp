#pragma once
// What the event source keeps to survive a daemon restart (--survive-restarts): the wire bytes
// of every chunk sent since the daemon's last durable position, so that after reconnecting it
// can resend every batch holding a number above the position the new connection reports.
//
// Chunks are kept whole, as the source built them (shuffled batches, chaos lines and all), and
// moved in rather than copied; a chunk goes when the daemon reports every number in it durable.
// The source bounds the total (--restart-buffer) by waiting for the daemon to catch up.
//
// A resend leaves out the lines at or below the durable position (stale_line_cut). Sent again
// they would be stale, and stale lines are not harmless: under docs/protocol.md's "Starting
// over" a connection whose event lines so far were all stale starts a new stream at the first
// 1 it sends, so a resent first batch ("3, 1, 7" with 5 durable) would begin a new epoch.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace followermaze {

// One batch of a chunk: its bytes end at byte_end; it holds the numbers after the previous
// batch's last_seq up to its own (in the chunk's first batch: from the chunk's first number).
struct sent_batch {
  std::size_t byte_end = 0;
  std::uint64_t last_seq = 0;
};

// The byte offset in a chunk of its first batch holding a number at or above `from`; the end of
// the last batch when there is none.
std::size_t resend_offset(std::span<const sent_batch> batches, std::uint64_t from) noexcept;

// In the first batch of a stream that starts over (docs/protocol.md, "Starting over"), moves the
// line with sequence number 1 to the front when anything before it could stop the daemon from
// starting the new stream: a line that is not stale for the stream it holds (no sequence number,
// or one above `old_position`), or more stale lines than the daemon carries into the new stream
// (`carry_bytes`). The batch's length is unchanged; line boundaries before the moved line shift.
struct moved_line {
  std::size_t offset = 0;  // where the line was
  std::size_t length = 0;  // 0: nothing moved
  // Where a line boundary of the batch is now.
  std::size_t shifted(std::size_t boundary) const noexcept {
    return boundary > 0 && boundary <= offset ? boundary + length : boundary;
  }
};
moved_line bring_sequence_one_forward(std::span<char> batch, std::uint64_t old_position,
                                      std::size_t carry_bytes) noexcept;

// Removes, in place, every line of bytes[begin, end) whose sequence number is below `from` (lines
// without a readable number stay), moving the rest down. Boundaries between lines (a batch's end,
// the chaos reconnect point) move with them: shifted() says where one went.
class stale_line_cut {
 public:
  // Returns the new end.
  std::size_t apply(char* bytes, std::size_t begin, std::size_t end, std::uint64_t from);
  // Where a line boundary of the bytes given to apply() is now; boundaries before `begin` stay.
  std::size_t shifted(std::size_t boundary) const noexcept;
  std::size_t removed_bytes() const noexcept { return cuts_.empty() ? 0 : cuts_.back().removed_through; }

 private:
  struct cut {
    std::size_t old_end;          // the removed line ended here, before the cut
    std::size_t removed_through;  // bytes removed up to and including this line
  };
  std::vector<cut> cuts_;
};

class retained_stream {
 public:
  // Takes bytes[0, used) of a chunk whose every byte was accepted by the kernel, with its
  // batches in order; `bytes` comes back as an emptied buffer to build the next chunk in.
  void push(std::vector<char>& bytes, std::size_t used, std::span<const sent_batch> batches);

  // Drops every chunk whose numbers all lie at or below `durable`.
  void retire(std::uint64_t durable);

  std::uint64_t bytes() const noexcept { return bytes_; }
  std::size_t chunks() const noexcept { return chunks_.size(); }
  // The lowest sequence number still held: everything below it was reported durable.
  std::uint64_t held_from() const noexcept { return retired_through_ + 1; }
  // The number after the last one held (the next chunk's first).
  std::uint64_t next_seq() const noexcept { return next_seq_; }

  // Calls send(const char* data, std::size_t size) with the bytes of every held batch holding a
  // number at or above `from`, oldest first, one call per chunk; stops at the first call that
  // returns false and returns false. The lines numbered below `from` in those batches are
  // removed from the held bytes first, for good: the daemon holds them durably, and a durable
  // position never goes back (plan_resend fails the run if the daemon says otherwise).
  template <class Send>
  bool resend(std::uint64_t from, Send&& send) {
    for (auto& held : chunks_) {
      if (held.batches.back().last_seq < from) continue;
      const std::size_t offset = resend_offset(held.batches, from);
      drop_stale(held, offset, from);
      if (!send(held.bytes.data() + offset, held.used - offset)) return false;
    }
    return true;
  }

  // The bytes of the stream's first batch (the one holding number 1), if still held.
  std::span<char> first_batch() noexcept;

 private:
  struct held_chunk {
    std::vector<char> bytes;
    std::size_t used = 0;
    std::vector<sent_batch> batches;
  };

  void drop_stale(held_chunk& held, std::size_t offset, std::uint64_t from);

  std::deque<held_chunk> chunks_;
  std::vector<std::vector<char>> spare_;  // buffers of dropped chunks, handed back by push()
  std::uint64_t bytes_ = 0;
  std::uint64_t retired_through_ = 0;
  std::uint64_t next_seq_ = 1;
};

}  // namespace followermaze
