#include "eventserver/storage/batch_builder.hpp"

#include <algorithm>
#include <cassert>

#include "eventserver/storage/crc32c.hpp"
#include "eventserver/storage/endian.hpp"

namespace eventserver::storage {

batch_builder::batch_builder(std::size_t max_body_bytes)
    : max_body_(std::clamp<std::size_t>(max_body_bytes, 2, max_batch_body_bytes)) {
  capacity_ = batch_header_size + max_body_ + short_block;
  buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
}

void batch_builder::reset(sequence_number next_seq) noexcept {
  first_seq_ = next_seq;
  body_size_ = 0;
  count_ = 0;
  kind_ = batch_kind::events;
}

bool batch_builder::append_long(std::string_view notification) {
  // Only an empty batch takes a line past its bound, and no line past the format's.
  if (count_ != 0 || notification.size() > max_batch_body_bytes) return false;
  const std::size_t needed = batch_header_size + notification.size() + short_block;
  if (needed > capacity_) {
    buffer_ = std::make_unique_for_overwrite<char[]>(needed);
    capacity_ = needed;
  }
  std::memcpy(buffer_.get() + batch_header_size, notification.data(), notification.size());
  body_size_ = notification.size();
  count_ = 1;
  return true;
}

bool batch_builder::append_skip(std::uint64_t count) noexcept {
  if (count == 0) return true;
  if (count_ != 0 && kind_ != batch_kind::skipped) return false;
  if (count > UINT32_MAX - count_) return false;
  kind_ = batch_kind::skipped;
  count_ += static_cast<std::uint32_t>(count);
  return true;
}

std::span<const char> batch_builder::seal() noexcept {
  assert(count_ != 0);
  return seal_batch(buffer_.get(), kind_, first_seq_, count_, body_size_);
}

void batch_builder::clear() noexcept { reset(next_seq()); }

}  // namespace eventserver::storage
