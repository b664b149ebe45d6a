#pragma once
// The event-source wire format and the client id line, parsed in place.
// Nothing here allocates: a parsed event refers to no memory, and the payload bytes the
// caller already holds are the notification.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace eventserver {

using user_id = std::uint64_t;
using sequence_number = std::uint64_t;
// Names a stream: a producer that starts over at sequence number 1 begins the next epoch
// (newStreamPolicy). Epochs start at 1.
using stream_epoch = std::uint64_t;

enum class event_type : std::uint8_t {
  follow,           // F: `from` follows `to`; `to` is notified
  unfollow,         // U: `from` stops following `to`; nobody is notified
  broadcast,        // B: every connected client is notified
  private_message,  // P: `to` is notified
  status_update,    // S: every current follower of `from` is notified
  no_op,            // a readable sequence number with a bad body: the slot is consumed, nothing else
};

struct event {
  sequence_number seq = 0;
  event_type type = event_type::no_op;
  user_id from = 0;
  user_id to = 0;
};

enum class parse_status : std::uint8_t {
  ok,
  no_sequence,  // empty, not a number, negative, or over 64 bits: the line is dropped
  bad_body,     // sequence readable, the rest is not: the slot becomes a no_op
};

struct parse_result {
  parse_status status = parse_status::no_sequence;
  event ev;  // ev.seq is meaningful unless status == no_sequence
};

// Parses one event line; `line` excludes the line terminator ("\r\n" or "\n").
parse_result parse_event(std::string_view line) noexcept;

// The fast path for a buffer of event lines: parses the line that starts at `p` and finds its
// end in the same pass, where parse_event needs the line framed first. Returns the '\n' that
// ends the line ("\r\n" or "\n") and fills `parsed` (status ok), or nullptr for anything
// but a well-formed event line with numbers of at most 19 digits; such a line is then
// framed and given to parse_event, which gives the same result for every line this one
// takes. Stops at the first byte that does not fit, so the bytes after `p` must hold a '\0';
// and it reads each number as an 8-byte word, so 8 bytes past that '\0' must be readable too
// (line_reader keeps 64 zero bytes after its buffer: parse_event_line_padding suffices).
const char* parse_event_line(const char* p, parse_result& parsed) noexcept;
// The '\0' and the bytes after it that parse_event_line may read past a buffer's last byte.
inline constexpr std::size_t parse_event_line_padding = 9;

// A strictly decimal unsigned 64-bit number: digits only, no sign, no spaces, no overflow.
std::optional<std::uint64_t> parse_u64(std::string_view digits) noexcept;

// The client's registration line, e.g. "2932" (terminator already removed).
std::optional<user_id> parse_user_id(std::string_view line) noexcept;

// A trailing '\r' is part of the terminator, not of the line.
constexpr std::string_view strip_cr(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view to_string(event_type type) noexcept;

}  // namespace eventserver
