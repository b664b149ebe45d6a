#pragma once
// Frames a byte stream into lines without copying them: the socket reads straight into
// the reader's buffer and each line is a view into it, valid until the next prepare().
// Only prepare() moves the end of the buffered bytes back: a read into the span it returned
// may still be under way while lines are taken (a session paused on a full window).
//
// Bound: the buffer holds at most one partial line (<= max_line_bytes) plus one read chunk.
// A line longer than max_line_bytes is skipped up to its end of line and counted; the
// bytes in between are never stored.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  // Puts the line last returned by next_line() back, to be returned again later.
  void unread_last_line() noexcept { begin_ = last_line_begin_; }

  // Looks through the complete lines buffered (terminators removed, overlong ones passed
  // over) for the first that `wanted(line)` picks, takes it out of the buffer and returns a
  // copy; the lines before it stay, in order. For the rare case of a full reorder window,
  // when the one number that can enter is further on in the stream: O(buffered bytes).
  template <class Predicate>
  std::optional<std::string> take_first(Predicate&& wanted);

  std::uint64_t overlong_lines() const noexcept { return overlong_lines_; }
  std::size_t buffered_bytes() const noexcept { return end_ - begin_; }
  // Bytes a read could still add once prepare() has moved the unconsumed ones to the front.
  std::size_t free_bytes() const noexcept { return buffer_.size() - buffered_bytes(); }
  std::size_t capacity() const noexcept { return buffer_.size(); }

 private:
  std::size_t max_line_bytes_;
  std::size_t read_chunk_bytes_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
  std::size_t last_line_begin_ = 0;
  bool discarding_ = false;  // inside an overlong line: drop bytes up to the next '\n'
  std::uint64_t overlong_lines_ = 0;
};

template <class Predicate>
std::optional<std::string> line_reader::take_first(Predicate&& wanted) {
  if (discarding_) return std::nullopt;  // inside an overlong line: no complete line is buffered
  for (std::size_t at = begin_; at < end_;) {
    char* const start = buffer_.data() + at;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - at));
    if (newline == nullptr) return std::nullopt;
    const auto length = static_cast<std::size_t>(newline - start);
    std::string_view line(start, length);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() <= max_line_bytes_ && wanted(line)) {
      std::string taken(line);
      // Close the hole: the lines before it move up by its length, terminator included.
      const std::size_t hole = length + 1;
      std::memmove(buffer_.data() + begin_ + hole, buffer_.data() + begin_, at - begin_);
      begin_ += hole;
      last_line_begin_ = begin_;
      return taken;
    }
    at += length + 1;
  }
  return std::nullopt;
}

}  // namespace eventserver
