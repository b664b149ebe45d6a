#include "eventserver/core/event.hpp"

#include <array>
#include <cstring>

#include "eventserver/core/digit_word.hpp"

namespace eventserver {

namespace {

// Reads a run of decimal digits at `p`. False when there is none or it overflows 64 bits;
// `p` is left on the first byte that is not a digit. Nineteen digits cannot overflow, so
// the usual short number runs without overflow checks; only a 20th digit takes the checked
// step (and a 21st always overflows).
[[gnu::always_inline]] inline bool read_number(const char*& p, const char* end, std::uint64_t& value) noexcept {
  constexpr std::ptrdiff_t safe_digits = 19;
  const char* const first = p;
  const char* const unchecked_end = end - p > safe_digits ? p + safe_digits : end;
  std::uint64_t n = 0;
  while (p != unchecked_end) {
    const unsigned digit = static_cast<unsigned char>(*p) - unsigned{'0'};
    if (digit > 9) break;
    n = n * 10 + digit;
    ++p;
  }
  while (p != end) {
    const unsigned digit = static_cast<unsigned char>(*p) - unsigned{'0'};
    if (digit > 9) break;
    if (__builtin_mul_overflow(n, 10u, &n) || __builtin_add_overflow(n, digit, &n)) return false;
    ++p;
  }
  value = n;
  return p != first;
}

// A whole field: digits up to the next '|' or the end of the line.
[[gnu::always_inline]] inline bool read_field(const char*& p, const char* end, std::uint64_t& value) noexcept {
  return read_number(p, end, value) && (p == end || *p == '|');
}

// What the type byte says: the event type and how many user ids follow it.
struct event_shape {
  event_type type = event_type::no_op;
  std::uint8_t ids = 0;
  bool known = false;
};

constexpr std::array<event_shape, 256> make_shapes() {
  std::array<event_shape, 256> shapes{};
  shapes['F'] = {event_type::follow, 2, true};
  shapes['U'] = {event_type::unfollow, 2, true};
  shapes['P'] = {event_type::private_message, 2, true};
  shapes['S'] = {event_type::status_update, 1, true};
  shapes['B'] = {event_type::broadcast, 0, true};
  return shapes;
}
constexpr std::array<event_shape, 256> shapes = make_shapes();

// One id: the '|' before it, then the digits up to the next '|' or the end.
[[gnu::always_inline]] inline bool read_id(const char*& p, const char* end, user_id& id) noexcept {
  if (p == end) return false;  // too few fields
  ++p;
  return read_field(p, end, id);
}

// parse_event_line's numbers: 1 to 19 digits (so no overflow), ending at the first byte that
// is not a digit. No end pointer: the caller's buffer ends in a '\0', and 8 bytes from `p`
// may be read (parse_event_line's contract).
//
// A number of up to 7 digits (every user id and sequence number of a typical stream) is read
// as one 8-byte word, with no loop and no branch on its length: the digit bytes are found by
// arithmetic on all 8 at once, and converted by three multiplications (the usual SWAR way:
// pairs of digits, then fours, then eight). Longer numbers take the byte loop.
[[gnu::always_inline]] inline bool scan_number(const char*& p, std::uint64_t& value) noexcept {
  constexpr std::ptrdiff_t max_digits = 19;
  bool decided = false;
  const bool taken = detail::scan_number_word(p, value, decided);
  if (decided) return taken;
  const char* const first = p;
  std::uint64_t n = 0;
  for (unsigned digit; (digit = static_cast<unsigned char>(*p) - unsigned{'0'}) <= 9; ++p) n = n * 10 + digit;
  value = n;
  return p != first && p - first <= max_digits;
}

}  // namespace

std::optional<std::uint64_t> parse_u64(std::string_view digits) noexcept {
  const char* p = digits.data();
  const char* const end = p + digits.size();
  std::uint64_t value = 0;
  if (!read_number(p, end, value) || p != end) return std::nullopt;
  return value;
}

std::optional<user_id> parse_user_id(std::string_view line) noexcept { return parse_u64(line); }

// One pass over the line, no searching: the hot path of the whole daemon.
parse_result parse_event(std::string_view line) noexcept {
  parse_result result;
  const char* p = line.data();
  const char* const end = p + line.size();
  if (!read_field(p, end, result.ev.seq)) return result;  // no_sequence
  result.status = parse_status::bad_body;

  // The type: one byte between separators.
  if (end - p < 2 || (p + 2 != end && p[2] != '|')) return result;
  const event_shape shape = shapes[static_cast<unsigned char>(p[1])];
  if (!shape.known) return result;
  p += 2;

  user_id from = 0;
  user_id to = 0;
  if (shape.ids >= 1 && !read_id(p, end, from)) return result;
  if (shape.ids == 2 && !read_id(p, end, to)) return result;
  if (p != end) return result;  // trailing fields

  result.ev.type = shape.type;
  result.ev.from = from;
  result.ev.to = to;
  result.status = parse_status::ok;
  return result;
}

const char* parse_event_line(const char* p, parse_result& parsed) noexcept {
  sequence_number seq = 0;
  if (!scan_number(p, seq) || *p != '|') return nullptr;
  const event_shape shape = shapes[static_cast<unsigned char>(p[1])];
  if (!shape.known) return nullptr;
  p += 2;
  user_id from = 0;
  user_id to = 0;
  if (shape.ids >= 1 && (*p++ != '|' || !scan_number(p, from))) return nullptr;
  if (shape.ids == 2 && (*p++ != '|' || !scan_number(p, to))) return nullptr;
  if (*p == '\r') ++p;
  if (*p != '\n') return nullptr;
  parsed.status = parse_status::ok;
  parsed.ev = event{seq, shape.type, from, to};
  return p;
}

std::string_view to_string(event_type type) noexcept {
  switch (type) {
    case event_type::follow: return "follow";
    case event_type::unfollow: return "unfollow";
    case event_type::broadcast: return "broadcast";
    case event_type::private_message: return "private_message";
    case event_type::status_update: return "status_update";
    case event_type::no_op: return "no_op";
  }
  return "unknown";
}

}  // namespace eventserver
