#pragma once
// Builds one batch in memory: appending is a bounds check and a copy into a buffer allocated
// once (a short padded line, line_ref, is copied as one fixed-size block, as
// send_buffer::append_short does), and sealing fills the header and computes the CRC once per
// batch. The daemon's own batches are log_batch (core/log_pipeline.hpp); this one serves the
// tests, the benchmarks and tools that write a log.
//
//   batch_builder batch(1 << 20);
//   batch.reset(next_seq);
//   if (!batch.append(notification)) { write(batch.seal()); batch.clear(); batch.append(notification); }
//
// Invariant: the batch holds sequence numbers [first_seq(), next_seq()) and only one kind.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "eventserver/core/event.hpp"
#include "eventserver/core/line_ref.hpp"
#include "eventserver/storage/batch_format.hpp"

namespace eventserver::storage {

class batch_builder {
 public:
  // Lines up to this long, when as many bytes of them may be read, are copied as one block.
  static constexpr std::size_t short_block = line_ref::short_block;

  // `max_body_bytes` bounds a batch's body (clamped to max_batch_body_bytes); the buffer is
  // allocated here, once.
  explicit batch_builder(std::size_t max_body_bytes = std::size_t{1} << 20);

  // Empties the batch; the next one starts at `next_seq`.
  void reset(sequence_number next_seq) noexcept;

  // Appends the notification ("payload\r\n") of next_seq(). False, with nothing appended, when
  // the batch holds a skip or the line would pass the body bound: seal, write and clear, then
  // append again. An empty batch takes any line up to max_batch_body_bytes (growing its buffer
  // for it, the only allocation after construction). A padded line of up to short_block bytes
  // is copied as one fixed-size move.
  bool append(line_ref notification) {
    if (kind_ != batch_kind::events) return false;
    const std::size_t n = notification.size();
    if (body_size_ + n > max_body_) return append_long(notification);
    // The buffer has short_block bytes of slack past the body bound for this copy.
    copy_line<short_block>(buffer_.get() + batch_header_size + body_size_, notification);
    body_size_ += n;
    ++count_;
    return true;
  }

  // Records that the `count` numbers from next_seq() were given up (gap timeout). False when
  // the batch holds events or the count would pass 2^32 - 1: seal, write, clear, and skip again.
  bool append_skip(std::uint64_t count) noexcept;

  bool empty() const noexcept { return count_ == 0; }
  batch_kind kind() const noexcept { return kind_; }
  std::uint32_t count() const noexcept { return count_; }
  sequence_number first_seq() const noexcept { return first_seq_; }
  sequence_number next_seq() const noexcept { return first_seq_ + count_; }
  std::size_t body_size() const noexcept { return body_size_; }
  // The sealed size: header and body.
  std::size_t size() const noexcept { return batch_header_size + body_size_; }
  std::size_t max_body_bytes() const noexcept { return max_body_; }

  // The batch as stored, header and CRC filled in. Valid until the builder next changes; the
  // batch must not be empty.
  std::span<const char> seal() noexcept;

  // Empties the batch; the next one starts where this one ended.
  void clear() noexcept;

 private:
  bool append_long(std::string_view notification);

  std::unique_ptr<char[]> buffer_;  // header, body, short_block of slack
  std::size_t capacity_ = 0;        // bytes of buffer_
  std::size_t max_body_ = 0;
  std::size_t body_size_ = 0;
  std::uint32_t count_ = 0;
  batch_kind kind_ = batch_kind::events;  // events whenever the batch is empty
  sequence_number first_seq_ = 1;
};

}  // namespace eventserver::storage
