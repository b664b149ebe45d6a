#include "eventserver/core/line_reader.hpp"

#include <cstring>

#include "eventserver/core/event.hpp"

namespace eventserver {

line_reader::line_reader(std::size_t max_line_bytes, std::size_t read_chunk_bytes)
    : max_line_bytes_(max_line_bytes),
      read_chunk_bytes_(read_chunk_bytes),
      // +2 leaves room for a maximal line's "\r\n" beside a full chunk.
      buffer_(max_line_bytes + 2 + read_chunk_bytes + slack_bytes) {}

std::span<char> line_reader::prepare() {
  if (capacity() - end_ < read_chunk_bytes_) {
    // Only a partial line (bounded by max_line_bytes + 1) is ever left to move.
    const std::size_t live = end_ - begin_;
    if (live != 0) std::memmove(buffer_.data(), buffer_.data() + begin_, live);
    last_line_begin_ = 0;
    begin_ = 0;
    end_ = live;
  }
  return {buffer_.data() + end_, capacity() - end_};
}

void line_reader::commit(std::size_t n) { end_ += n; }

std::optional<std::string_view> line_reader::next_line() {
  while (begin_ < end_) {
    const char* start = buffer_.data() + begin_;
    const std::size_t avail = end_ - begin_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', avail));

    if (discarding_) {
      if (newline == nullptr) {
        begin_ = end_;  // drop everything; still inside the overlong line
        return std::nullopt;
      }
      begin_ += static_cast<std::size_t>(newline - start) + 1;
      discarding_ = false;
      continue;
    }

    if (newline == nullptr) {
      // A partial line may carry its '\r' while it waits for the '\n'.
      if (avail > max_line_bytes_ + 1) {
        ++overlong_lines_;
        discarding_ = true;
        begin_ = end_;
      }
      return std::nullopt;
    }

    const auto length = static_cast<std::size_t>(newline - start);
    last_line_begin_ = begin_;
    begin_ += length + 1;
    const std::string_view line = strip_cr(std::string_view(start, length));
    if (line.size() > max_line_bytes_) {
      ++overlong_lines_;
      continue;
    }
    return line;
  }
  return std::nullopt;
}

}  // namespace eventserver
