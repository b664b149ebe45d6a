#pragma once
// Hands expectations from the source thread (which computes them while generating events) to
// the client thread (which checks received lines against them).
//
// The source fills a chunk: the lines it is about to write, and which connection expects which
// line. Once a batch of the chunk has been accepted by the kernel it publishes that stretch,
// stamped with the time (the start of its latency): a pointer and two indices under the mutex.
// The client thread drains the published stretches into each connection's queue of small
// references to the chunk's lines, so a line sent to a hundred clients is read a hundred times
// but never copied, and nothing per notification is written into memory the other thread
// owns. The client thread counts, per chunk, the references still unchecked; a chunk goes back
// to the free list when its last stretch has been drained and its count is zero.
//
// The consumer may see a line before its expectation is published; it keeps the bytes and
// retries, and only calls a line an unexpected extra once the channel is closed. Per
// connection, published expectations are a prefix of its expected sequence, in sequence order,
// so a line that differs from the head of a non-empty queue is a real mismatch.

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "followermaze/expectation_model.hpp"
#include "followermaze/wire.hpp"

namespace followermaze {

// One event's line exactly as the source formats it for the wire, "\r\n" included (a bare
// "\n" ending is applied at write time). A notification must be these very bytes.
struct formatted_line {
  formatted_line() noexcept {}  // NOLINT: filled in place, not zeroed first

  std::array<char, max_event_line_bytes> text;
  std::uint8_t length = 0;
  event_kind kind = event_kind::broadcast;

  static formatted_line of(const event& e) noexcept {
    formatted_line line;
    line.length = static_cast<std::uint8_t>(write_line(line.text.data(), e) - line.text.data());
    line.kind = e.kind;
    return line;
  }
  // In place, with the sequence number already in text (the source's running counter): this
  // runs once per event, and a returned copy would show.
  void assign(const event& e, const decimal_counter& seq) noexcept {
    char* end = write_body(seq.write(text.data()), e);
    *end++ = '\r';
    *end++ = '\n';
    length = static_cast<std::uint8_t>(end - text.data());
    kind = e.kind;
  }
  std::string_view view() const noexcept { return {text.data(), length}; }
};
static_assert(sizeof(formatted_line) == 64);

// An expectation waiting for its batch to be written: which connection, which line of the chunk.
struct staged_notification {
  connection_index connection = 0;
  std::uint32_t line = 0;
};

// One write's worth of the source's work.
struct expectation_chunk {
  std::vector<formatted_line> lines;        // every event line of the chunk, in sequence order
  std::vector<staged_notification> staged;  // who expects which line, in sequence order
  // The consumer's bookkeeping, touched by the client thread only.
  std::uint64_t unchecked = 0;  // drained references not yet checked
  bool fully_drained = false;   // its last stretch has been drained
};

// What a connection's queue holds: a reference into a live chunk.
struct expectation {
  const formatted_line* line;
  expectation_chunk* chunk;
  std::uint64_t sent_ns;  // when the event's batch was written
};

class expectation_channel {
 public:
  // Producer. An empty chunk, recycled when one is free.
  expectation_chunk* acquire_chunk();
  // Publishes chunk->staged[begin, end), all stamped sent_ns. `last` means the producer
  // touches the chunk no more.
  void publish(expectation_chunk* chunk, std::size_t begin, std::size_t end, std::uint64_t sent_ns, bool last);
  // No more publications will follow.
  void close() noexcept { closed_.store(true, std::memory_order_release); }

  // Consumer. Calls deliver(connection_index, const expectation&) for everything published
  // since the last drain, in publication order; returns how many. deliver returns whether it
  // keeps the reference (and will call checked() for it) or took a copy of what it needs.
  template <class Deliver>
  std::size_t drain(Deliver&& deliver) {
    {
      std::lock_guard lock(mutex_);
      draining_.swap(published_);
    }
    std::size_t delivered = 0;
    for (const auto& s : draining_) {
      expectation_chunk& chunk = *s.chunk;
      const auto& staged = chunk.staged;
      std::uint64_t kept = 0;
      for (std::size_t i = s.begin; i < s.end; ++i) {
        const bool keeps = deliver(staged[i].connection, expectation{&chunk.lines[staged[i].line], &chunk, s.sent_ns});
        kept += keeps ? 1 : 0;
      }
      chunk.unchecked += kept;
      delivered += s.end - s.begin;
      if (s.last) {
        chunk.fully_drained = true;
        release_if_done(chunk);
      }
    }
    draining_.clear();
    return delivered;
  }

  // Consumer: one reference into `e.chunk` has been checked.
  void checked(const expectation& e) {
    --e.chunk->unchecked;
    release_if_done(*e.chunk);
  }

  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  std::uint64_t total_published() const noexcept { return total_published_.load(std::memory_order_acquire); }
  std::size_t chunks_allocated() const;

 private:
  struct segment {
    expectation_chunk* chunk;
    std::size_t begin;
    std::size_t end;
    std::uint64_t sent_ns;
    bool last;
  };

  void release_if_done(expectation_chunk& chunk);

  mutable std::mutex mutex_;
  std::vector<segment> published_;
  std::vector<segment> draining_;  // the consumer's
  std::vector<std::unique_ptr<expectation_chunk>> chunks_;  // owns every chunk
  std::vector<expectation_chunk*> free_;
  std::atomic<std::uint64_t> total_published_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace followermaze
