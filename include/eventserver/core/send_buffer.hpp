#pragma once
// A client connection's outgoing bytes: a growable byte array like std::string, minus the
// terminator and the zero-filling, plus one thing std::string cannot do. append_short copies
// a short padded line (line_ref) as one fixed-size block (the line and whatever follows it in
// the caller's memory) and keeps only the line's bytes, so the copy has no branch on the
// line's length. The bytes past the line are overwritten by the next append or never sent.

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

#include "eventserver/core/line_ref.hpp"

namespace eventserver {

class send_buffer {
 public:
  // What append_short copies at once: the lines of a typical stream are shorter.
  static constexpr std::size_t short_block = line_ref::short_block;

  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }

  // Room for `capacity` bytes in all; never shrinks.
  void reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  // The caller has reserved room for `bytes`.
  void append(std::string_view bytes) noexcept {
    std::memcpy(data_.get() + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
  }

  // append(line). The caller has reserved room for the line; with short_block bytes of room
  // and of source, the copy is one fixed-size move.
  void append_short(line_ref line) noexcept {
    if (line.fits_block(short_block) && capacity_ - size_ >= short_block) {
      std::memcpy(data_.get() + size_, line.data(), short_block);
      size_ += line.size();
      return;
    }
    append(line);
  }

  // Drops the first `count` bytes (already sent); the rest moves to the front.
  void consume(std::size_t count) noexcept {
    std::memmove(data_.get(), data_.get() + count, size_ - count);
    size_ -= count;
  }

  void clear() noexcept { size_ = 0; }

  // Gives the memory back.
  void release() noexcept {
    data_.reset();
    size_ = 0;
    capacity_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace eventserver
