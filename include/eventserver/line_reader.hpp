#pragma once
// Frames a byte stream into lines without copying them: the socket reads straight into
// the reader's buffer and each line is a view into it, valid until the next prepare().
//
// Bound: the buffer holds at most one partial line (<= max_line_bytes) plus one read chunk.
// A line longer than max_line_bytes is skipped up to its end of line and counted; the
// bytes in between are never stored.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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

  std::uint64_t overlong_lines() const noexcept { return overlong_lines_; }
  std::size_t buffered_bytes() const noexcept { return end_ - begin_; }
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

}  // namespace eventserver
