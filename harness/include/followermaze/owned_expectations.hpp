#pragma once
// The expectations of a connection that may fall far behind the stream (a slow reader, a client
// that drops its connection and resumes), held as copies of the lines rather than references
// into the source's chunks: a reference pins its whole chunk until checked, so one reader half
// a stream behind would hold half the stream's chunks (64 bytes a line plus its staging), and
// the source's in-flight bound would throttle everyone to that reader's pace. A copy costs the
// line's own bytes plus 16.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "followermaze/wire.hpp"

namespace followermaze {

class owned_expectations {
 public:
  void push(std::string_view line, event_kind kind, std::uint64_t sent_ns);

  bool empty() const noexcept { return head_ == entries_.size(); }
  std::size_t size() const noexcept { return entries_.size() - head_; }
  // Line bytes held, for the report.
  std::size_t bytes() const noexcept { return text_.size() - text_head_; }

  // The oldest expectation; only when not empty.
  std::string_view front_line() const noexcept {
    return {text_.data() + text_head_, entries_[head_].length};
  }
  event_kind front_kind() const noexcept { return entries_[head_].kind; }
  std::uint64_t front_sent_ns() const noexcept { return entries_[head_].sent_ns; }
  void pop() noexcept;

 private:
  struct entry {
    std::uint64_t sent_ns;
    std::uint8_t length;  // a formatted line is at most max_event_line_bytes
    event_kind kind;
  };

  void compact();

  std::vector<char> text_;  // the lines back to back, from text_head_
  std::size_t text_head_ = 0;
  std::vector<entry> entries_;
  std::size_t head_ = 0;
};

// How far a slow reader may have read by `now`: `fraction` of the bytes the harness has
// published to it while the stream runs, and after the stream ends (the source is done) the
// same fraction of its average rate over the stream, without bound. So the
// pause between two reads follows the rate its notifications are sent at, whatever the
// daemon's speed, and the reader always falls behind by (1 - fraction) of its traffic.
class read_pacer {
 public:
  explicit read_pacer(double fraction) noexcept : fraction_(fraction) {}

  void published(std::uint64_t bytes) noexcept { published_ += bytes; }
  std::uint64_t total_published() const noexcept { return published_; }

  // Bytes it may have read in all by `now`. stream_start_ns: when the stream began; end_ns: when
  // it ended, 0 while it runs.
  std::uint64_t allowance(std::uint64_t now, std::uint64_t stream_start_ns, std::uint64_t end_ns) const noexcept;

 private:
  double fraction_;
  std::uint64_t published_ = 0;
};

}  // namespace followermaze
