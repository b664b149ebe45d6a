#pragma once
// A line on the hot path: its bytes, and how many bytes from its start may be read.
//
// Contract: readable() >= size(). The bytes past size() (up to readable()) belong to whoever
// made the line (a line_reader's buffer and its zeroed slack, a sequencer slot, a log batch's
// slack); they may be read, never written, and mean nothing. Like a string_view, a line_ref
// owns nothing and is valid as long as its maker says (line_reader: until its next prepare();
// sequencer::drain: during the call; a log batch: until it is reused).
//
// Why: event lines of 13 to 19 bytes alternate at random, and memcpy's branch on the length
// mispredicts. A consumer that knows enough bytes may be read copies a short line as one
// fixed-size block (copy_line) and keeps only the line's bytes. Every maker on the daemon's
// path from a source to the clients promises at least `readable_margin` bytes; a line made
// from a plain string_view promises only its own size, and is copied exactly.
//
// 16 bytes, so that it travels in two registers like the string_view it replaces.

#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace eventserver {

class line_ref {
 public:
  // What the daemon's line makers promise: the bytes a sequencer slot holds inline (a 64-byte
  // slot less its event), which a line_reader's slack and a log batch's slack also cover.
  static constexpr std::size_t readable_margin = 45;
  // The block a client queue (send_buffer) or a stored batch (batch_builder) copies a short
  // line in: two 16-byte moves; the lines of a typical stream are shorter.
  static constexpr std::size_t short_block = 32;
  static_assert(short_block <= readable_margin, "a padded line must cover a short block");

  constexpr line_ref() noexcept = default;
  // Exactly its bytes may be read.
  constexpr line_ref(std::string_view bytes) noexcept  // NOLINT(google-explicit-constructor): a view is a line_ref
      : data_(bytes.data()), size_(static_cast<std::uint32_t>(bytes.size())), readable_(size_) {}
  template <class S>
    requires(std::convertible_to<const S&, std::string_view> && !std::same_as<S, std::string_view>)
  constexpr line_ref(const S& bytes) noexcept  // NOLINT(google-explicit-constructor)
      : line_ref(std::string_view(bytes)) {}
  // `readable` bytes from `data` may be read. The maker vouches for readable >= size and for
  // readable < 4 GiB (a line_reader's buffer, a slot, a batch): no check on the hot path.
  constexpr line_ref(const char* data, std::size_t size, std::size_t readable) noexcept
      : data_(data), size_(static_cast<std::uint32_t>(size)), readable_(static_cast<std::uint32_t>(readable)) {
    assert(readable >= size && readable <= UINT32_MAX);
  }

  constexpr const char* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr std::size_t readable() const noexcept { return readable_; }
  constexpr std::string_view view() const noexcept { return {data_, size_}; }
  constexpr operator std::string_view() const noexcept { return view(); }  // NOLINT(google-explicit-constructor)

  // The first `n` bytes (n <= size()); as many bytes stay readable.
  constexpr line_ref prefix(std::size_t n) const noexcept { return {data_, n, readable_}; }
  // `block` bytes from the start may be read and the line is no longer: copy_line's fast case.
  constexpr bool fits_block(std::size_t block) const noexcept { return size_ <= block && readable_ >= block; }

 private:
  // A line is at most 16 MiB (a stored batch's body, max_batch_body_bytes): 32 bits suffice.
  const char* data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t readable_ = 0;
};
static_assert(sizeof(line_ref) == 16, "two registers, as a string_view");

// Copies `line` to `to`, which has room for max(line.size(), Block) bytes: as one Block-byte
// move when the line fits it and that much of it may be read (no branch on its length), else
// exactly. The bytes past the line at `to` are then garbage, for the next append to overwrite.
template <std::size_t Block>
inline void copy_line(char* to, line_ref line) noexcept {
  static_assert(Block <= line_ref::readable_margin, "the daemon's lines promise no more");
  if (line.fits_block(Block)) {
    std::memcpy(to, line.data(), Block);
  } else {
    std::memcpy(to, line.data(), line.size());
  }
}

}  // namespace eventserver
