#pragma once
// The follower-maze wire format as the harness writes and checks it. Written independently of
// the daemon's parser on purpose: the verifier must not share a bug with what it verifies.
//
// Everything formats into a caller's buffer through a raw pointer and returns the new end:
// the source formats millions of lines into one reusable buffer and the verifier re-formats
// each expected line on its stack, so no line ever costs a heap allocation.

#include <array>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace followermaze {

enum class event_kind : std::uint8_t {
  follow,           // F|from|to: `to` is notified
  unfollow,         // U|from|to: nobody
  broadcast,        // B: every connected user
  private_message,  // P|from|to: `to`
  status_update,    // S|from: every current follower of `from`
  bad_body,         // a fresh sequence number with a malformed body: a no-op slot (chaos)
};

inline constexpr std::size_t event_kind_count = 6;

using user_id = std::uint32_t;

struct event {
  std::uint64_t seq = 0;
  user_id from = 0;
  user_id to = 0;
  event_kind kind = event_kind::broadcast;
  std::uint8_t variant = 0;  // which malformed body, for bad_body
};

// Room for the longest event line this module writes, terminator included: 57 bytes (a
// 20-digit sequence number, three 10-digit ids in a bad body, separators, "\r\n"). 62 makes a
// formatted line with its length and kind exactly one cache line.
inline constexpr std::size_t max_event_line_bytes = 62;

// How many malformed bodies bad_body cycles through (see write_payload).
inline constexpr std::uint8_t bad_body_variants = 8;

char* write_u64(char* out, std::uint64_t value) noexcept;

// The payload, no terminator: "666|F|60|50", "542532|B", "634|S|32", "7|X|1|2", ...
char* write_payload(char* out, const event& e) noexcept;

// The payload after the sequence number: "|F|60|50", "|B", ...
char* write_body(char* out, const event& e) noexcept;

// A decimal number that counts up by one without a division per step: the source numbers
// millions of events a second, and formatting each sequence number from scratch was the
// largest single cost of generating them.
class decimal_counter {
 public:
  explicit decimal_counter(std::uint64_t value) noexcept : value_(value) {
    digits_.fill('0');
    char scratch[24];
    const auto length = static_cast<std::size_t>(write_u64(scratch, value) - scratch);
    begin_ = width - length;
    for (std::size_t i = 0; i < length; ++i) digits_[begin_ + i] = scratch[i];
  }

  void increment() noexcept {
    ++value_;
    std::size_t i = width;
    while (i > 0 && digits_[i - 1] == '9') digits_[--i] = '0';
    if (i == 0) {
      // Wrapped past 2^64 - 1 is impossible for an event count; keep the text consistent anyway.
      *this = decimal_counter(value_);
      return;
    }
    ++digits_[i - 1];
    if (i - 1 < begin_) begin_ = i - 1;
  }

  std::uint64_t value() const noexcept { return value_; }
  std::string_view text() const noexcept { return {digits_.data() + begin_, width - begin_}; }

  // Copies the digits to `out` and returns the end. Always moves `width` bytes (one fixed-size
  // copy instead of a call to memcpy): `out` needs `width` bytes of room.
  char* write(char* out) const noexcept {
    std::memcpy(out, digits_.data() + begin_, width);
    return out + (width - begin_);
  }

  static constexpr std::size_t width = 20;

 private:
  std::array<char, 2 * width> digits_;  // the number right-aligned in the first `width`, '0'-padded
  std::size_t begin_;
  std::uint64_t value_;
};

// Payload + "\r\n": an event line on the source side and, for a notification, exactly the
// line the client must receive.
char* write_line(char* out, const event& e) noexcept;

char event_type_letter(event_kind kind) noexcept;
std::string_view to_string(event_kind kind) noexcept;

// A line as a human can read it in a failure report: control bytes escaped, long ones cut.
std::string printable(std::string_view line, std::size_t max_bytes = 120);

// The leading sequence number of a received line ("634|S|32\r\n" -> 634), for diagnostics.
std::optional<std::uint64_t> leading_sequence(std::string_view line) noexcept;

// Strict decimal u64 for option values: digits only, no sign, no overflow.
std::optional<std::uint64_t> parse_u64(std::string_view digits) noexcept;

// Lines with no usable sequence number, which the server must drop without consuming a slot.
enum class garbage_kind : std::uint8_t {
  empty,            // ""
  not_a_number,     // "abc|B"
  negative,         // "-5|B"
  overflow,         // "18446744073709551616|B" (2^64)
  huge,             // "99999999999999999999999|P|1|2"
  empty_sequence,   // "|B"
  leading_space,    // " 5|B"
  zero,             // "0|B": sequence numbers start at 1, so 0 is never a fresh slot
  overlong,         // 2000 bytes of 'x': past the default line limit, dropped to its end
};
inline constexpr std::uint8_t garbage_kind_count = 9;
inline constexpr std::size_t overlong_garbage_bytes = 2000;
inline constexpr std::size_t max_garbage_line_bytes = overlong_garbage_bytes + 2;

// Writes the garbage line with its "\r\n".
char* write_garbage(char* out, garbage_kind kind) noexcept;

}  // namespace followermaze
