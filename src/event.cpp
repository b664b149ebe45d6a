#include "eventserver/event.hpp"


namespace eventserver {

namespace {

// Reads a run of decimal digits at `p`. False when there is none or it overflows 64 bits;
// `p` is left on the first byte that is not a digit.
bool read_number(const char*& p, const char* end, std::uint64_t& value) noexcept {
  const char* const first = p;
  std::uint64_t n = 0;
  while (p != end && static_cast<unsigned char>(*p - '0') <= 9) {
    if (__builtin_mul_overflow(n, 10u, &n) || __builtin_add_overflow(n, static_cast<unsigned>(*p - '0'), &n)) {
      return false;
    }
    ++p;
  }
  value = n;
  return p != first;
}

// A whole field: digits up to the next '|' or the end of the line.
bool read_field(const char*& p, const char* end, std::uint64_t& value) noexcept {
  return read_number(p, end, value) && (p == end || *p == '|');
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
  const char type = p[1];
  p += 2;

  int ids = 0;
  event_type kind = event_type::no_op;
  switch (type) {
    case 'F': kind = event_type::follow; ids = 2; break;
    case 'U': kind = event_type::unfollow; ids = 2; break;
    case 'P': kind = event_type::private_message; ids = 2; break;
    case 'S': kind = event_type::status_update; ids = 1; break;
    case 'B': kind = event_type::broadcast; ids = 0; break;
    default: return result;
  }

  user_id parsed[2] = {0, 0};
  for (int i = 0; i < ids; ++i) {
    if (p == end) return result;  // too few fields
    ++p;                          // the '|' before the id
    if (!read_field(p, end, parsed[i])) return result;
  }
  if (p != end) return result;  // trailing fields

  result.ev.type = kind;
  result.ev.from = parsed[0];
  result.ev.to = parsed[1];
  result.status = parse_status::ok;
  return result;
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
