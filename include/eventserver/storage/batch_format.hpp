#pragma once
// The batch: the unit the event log writes, checksums and reads (docs/log_format.md).
//
//   0  u32 body_length
//   4  u32 masked crc32c of bytes [8, 24 + body_length)
//   8  u8  kind: 1 = events, 2 = skipped (numbers the gap timeout gave up; empty body)
//   9  u8  version = 1
//   10 u16 reserved = 0
//   12 u32 count
//   16 u64 first_seq
//   24 body (events): `count` lines, the notifications of first_seq, first_seq + 1, ... in
//      order, each "payload\r\n" exactly as the source sent the payload
//
// Little-endian. The CRC does not cover body_length itself, but a wrong length moves the
// covered range and fails the CRC all the same.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string_view>

#include "eventserver/core/event.hpp"

namespace eventserver::storage {

inline constexpr std::size_t batch_header_size = 24;
inline constexpr std::uint8_t batch_format_version = 1;
// The longest body any reader accepts. It bounds every buffer that holds a batch and is one
// of the checks that tell a header from noise when recovery searches damaged bytes.
inline constexpr std::size_t max_batch_body_bytes = std::size_t{16} << 20;

enum class batch_kind : std::uint8_t {
  events = 1,
  skipped = 2,
};

// A decoded batch; the body points into the caller's buffer.
struct batch_view {
  batch_kind kind = batch_kind::events;
  std::uint32_t count = 0;
  sequence_number first_seq = 0;
  std::string_view body;

  sequence_number last_seq() const noexcept { return first_seq + count - 1; }
  sequence_number next_seq() const noexcept { return first_seq + count; }
  // Header and body: how far the batch reaches in the file.
  std::size_t stored_size() const noexcept { return batch_header_size + body.size(); }
};

enum class decode_status : std::uint8_t {
  ok,
  incomplete,  // the header or the body runs past the bytes available
  corrupt,     // see `reason`
};

struct decode_result {
  decode_status status = decode_status::incomplete;
  // ok: the batch. incomplete with a plausible header: kind, count and first_seq of the
  // batch that runs past the end (what a torn tail loses), body empty.
  batch_view batch;
  bool header_known = false;  // `batch`'s header fields are meaningful
  // incomplete: how many bytes the batch needs from its start (the header's, or header and body).
  std::size_t needed = 0;
  std::string_view reason;  // corrupt: a static string naming the check that failed
};

// Decodes the batch at `data`, checking everything: header fields, CRC, and that the body is
// exactly `count` lines each ending in "\r\n".
decode_result decode_batch(const char* data, std::size_t available) noexcept;

// Writes the header of a batch whose body already follows it at data + batch_header_size
// (length, kind, count, first_seq, and the CRC over the rest): the batch is then ready to be
// stored. Returns the whole batch.
std::span<const char> seal_batch(char* data, batch_kind kind, sequence_number first_seq, std::uint32_t count,
                                 std::size_t body_length) noexcept;

// The header checks alone (no CRC): nullptr when the 24 bytes at `data` could start a batch,
// else the reason they cannot. Fills `header` with the fields (body empty).
const char* check_batch_header(const char* data, batch_view& header, std::uint32_t& body_length) noexcept;

// One stored notification.
struct stored_line {
  sequence_number seq = 0;
  std::string_view bytes;  // "payload\r\n"
  std::string_view payload() const noexcept { return bytes.substr(0, bytes.size() - 2); }
};

// The lines of an events batch with their sequence numbers (none for a skip batch). The body
// must have passed decode_batch.
class batch_lines {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = stored_line;
    using difference_type = std::ptrdiff_t;
    using pointer = const stored_line*;
    using reference = const stored_line&;

    iterator() noexcept = default;
    iterator(std::string_view rest, sequence_number seq) noexcept : rest_(rest) { load(seq); }
    reference operator*() const noexcept { return line_; }
    pointer operator->() const noexcept { return &line_; }
    iterator& operator++() noexcept {
      load(line_.seq + 1);
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.line_.bytes.data() == b.line_.bytes.data();
    }

   private:
    void load(sequence_number seq) noexcept;
    std::string_view rest_;
    stored_line line_;  // bytes.data() == nullptr at the end
  };

  explicit batch_lines(const batch_view& batch) noexcept
      : body_(batch.kind == batch_kind::events ? batch.body : std::string_view{}), first_seq_(batch.first_seq) {}
  iterator begin() const noexcept { return iterator(body_, first_seq_); }
  iterator end() const noexcept { return iterator(); }

 private:
  std::string_view body_;
  sequence_number first_seq_;
};

// The part of a decoded batch from `from_seq` on (all of it when from_seq <= first_seq; an
// empty view, count 0, when from_seq is past its end): what a reader positioned inside a
// batch hands on.
batch_view batch_from(const batch_view& batch, sequence_number from_seq) noexcept;

}  // namespace eventserver::storage
