#pragma once
// Frames a byte stream into lines without copying them: the socket reads straight into
// the reader's buffer and each line is a view into it, valid until the next prepare().
// Only prepare() moves the end of the buffered bytes back: a read into the span it returned
// may still be under way while lines are taken (a session paused on a full window).
//
// Bound: the buffer holds at most one partial line (<= max_line_bytes) plus one read chunk.
// A line longer than max_line_bytes is skipped up to its end of line and counted; the
// bytes in between are never stored.
//
// Slack: `slack_bytes` zero bytes follow the part reads go into and are never written. So
// at least that many bytes may be read from the start of any line the reader hands out: the
// line_ref it makes (take_line, next_event_line, ref) says so, and the sequencer copies a
// short one in one fixed-size move. A caller's own scan of the buffered bytes (take_line)
// always meets a '\0' before the end of the buffer.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/core/line_ref.hpp"

namespace eventserver {

class line_reader {
 public:
  line_reader(std::size_t max_line_bytes, std::size_t read_chunk_bytes);

  // Room for the next read; at least read_chunk_bytes long.
  std::span<char> prepare();
  // `n` bytes were written at the start of the span returned by prepare().
  void commit(std::size_t n);

  // The next complete line, terminator ("\n" or "\r\n") removed; nullopt when none is buffered.
  std::optional<std::string_view> next_line();
  // Puts the line last returned by next_line() or take_line() back, to be returned again later.
  void unread_last_line() noexcept { begin_ = last_line_begin_; }

  // For a caller that frames and parses in one pass: the first unconsumed byte. A scan from
  // here that stops at the first byte it does not expect stops within the buffer (at the
  // latest at the slack's '\0'); it may read past the buffered bytes into stale ones.
  const char* unconsumed() const noexcept { return buffer_.data() + begin_; }
  // Takes the line from unconsumed() to `newline`, the '\n' the caller's scan ended on, into
  // `line` as next_line() would return it (terminator removed). Takes nothing (false) when
  // that '\n' is not among the buffered bytes, the line is longer than max_line_bytes, or the
  // reader is skipping an overlong line: next_line() then decides. (An out-parameter, not an
  // optional: this runs once per event, and g++ returns the optional through memory.)
  bool take_line(const char* newline, line_ref& line) noexcept;

  // Offers every complete buffered line, in order, to `take(line)` (terminator removed;
  // overlong lines are left for next_line to count and skip). The lines it takes leave the
  // buffer; the others stay, in their order, ahead of any partial line. Returns how many were
  // taken. For the rare case of a source whose next line cannot enter the reorder window:
  // the lines behind it that can still go in. O(buffered bytes); never moves the end of the
  // buffered bytes, so a read under way is unaffected.
  template <class Take>
  std::size_t take_all(Take&& take);

  std::uint64_t overlong_lines() const noexcept { return overlong_lines_; }
  std::size_t buffered_bytes() const noexcept { return end_ - begin_; }
  // Bytes a read could still add once prepare() has moved the unconsumed ones to the front.
  std::size_t free_bytes() const noexcept { return capacity() - buffered_bytes(); }
  std::size_t capacity() const noexcept { return buffer_.size() - slack_bytes; }
  // `line`, a line this reader handed out (or a part of one), with the bytes that may be read
  // from its start: to the end of the buffer, slack included.
  line_ref ref(std::string_view line) const noexcept {
    return {line.data(), line.size(), static_cast<std::size_t>(buffer_.data() + buffer_.size() - line.data())};
  }

  static constexpr std::size_t slack_bytes = 64;
  static_assert(slack_bytes >= line_ref::readable_margin, "a line handed out is padded as a line_ref promises");
  static_assert(slack_bytes >= parse_event_line_padding, "parse_event_line may read a word past the last byte");

 private:
  std::size_t max_line_bytes_;
  std::size_t read_chunk_bytes_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
  std::size_t last_line_begin_ = 0;
  bool discarding_ = false;  // inside an overlong line: drop bytes up to the next '\n'
  struct extent {
    std::size_t offset;
    std::size_t length;  // terminator included
  };
  std::vector<extent> kept_;  // take_all's scratch, kept to reuse its capacity
  std::uint64_t overlong_lines_ = 0;
};

inline bool line_reader::take_line(const char* newline, line_ref& line) noexcept {
  const char* const start = buffer_.data() + begin_;
  if (newline == nullptr || discarding_ || newline < start || newline >= buffer_.data() + end_) return false;
  const auto length = static_cast<std::size_t>(newline - start);
  const std::string_view taken = strip_cr(std::string_view(start, length));
  if (taken.size() > max_line_bytes_) return false;
  last_line_begin_ = begin_;
  begin_ += length + 1;
  line = ref(taken);
  return true;
}

template <class Take>
std::size_t line_reader::take_all(Take&& take) {
  if (discarding_) return 0;  // inside an overlong line: no complete line is buffered
  kept_.clear();
  std::size_t taken = 0;
  std::size_t at = begin_;
  while (at < end_) {
    char* const start = buffer_.data() + at;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - at));
    if (newline == nullptr) break;  // the partial line stays where it is
    const auto length = static_cast<std::size_t>(newline - start);
    std::string_view line(start, length);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() <= max_line_bytes_ && take(line)) {
      ++taken;
    } else {
      kept_.push_back({at, length + 1});
    }
    at += length + 1;
  }
  if (taken == 0) return 0;
  // Pack the kept lines, last first, against the partial line at `at`: each moves right, over
  // bytes already taken or already moved, so nothing is overwritten before it is copied.
  std::size_t to = at;
  for (auto kept = kept_.rbegin(); kept != kept_.rend(); ++kept) {
    to -= kept->length;
    std::memmove(buffer_.data() + to, buffer_.data() + kept->offset, kept->length);
  }
  begin_ = to;
  last_line_begin_ = begin_;
  return taken;
}

// The next buffered event line and its parse, as an event source's lines are taken: a
// well-formed line is framed and parsed in one pass (parse_event_line, then take_line);
// anything else is framed by next_line() and parsed by parse_event, which applies the input
// policies to it. False when no complete line is buffered.
inline bool next_event_line(line_reader& reader, parse_result& parsed, line_ref& line) {
  if (reader.take_line(parse_event_line(reader.unconsumed(), parsed), line)) return true;
  const auto framed = reader.next_line();
  if (!framed) return false;
  line = reader.ref(*framed);
  parsed = parse_event(line);
  return true;
}

}  // namespace eventserver
