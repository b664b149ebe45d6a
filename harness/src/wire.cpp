#include "followermaze/wire.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <limits>

namespace followermaze {

namespace {

constexpr std::array<char, 200> make_digit_pairs() {
  std::array<char, 200> pairs{};
  for (int i = 0; i < 100; ++i) {
    pairs[static_cast<std::size_t>(2 * i)] = static_cast<char>('0' + i / 10);
    pairs[static_cast<std::size_t>(2 * i + 1)] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}

constexpr std::array<char, 200> digit_pairs = make_digit_pairs();

constexpr std::array<std::uint64_t, 20> powers_of_ten = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL,
    10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
    1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
    10000000000000000000ULL};

int decimal_digits(std::uint64_t value) noexcept {
  // log10 from log2 (1233/4096 ~ log10(2)), corrected by one comparison.
  // `| 1` makes 0 count as one digit and changes no other count.
  value |= 1;
  const auto guess = static_cast<std::size_t>((std::bit_width(value) * 1233) >> 12);
  return static_cast<int>(guess) + (value >= powers_of_ten[guess] ? 1 : 0);
}

char* put(char* out, std::string_view text) noexcept {
  std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

char* put_pair(char* out, std::size_t pair) noexcept {
  std::memcpy(out, &digit_pairs[2 * pair], 2);
  return out + 2;
}

// "|" and an id. Ids are mostly under 10000: those take a branch per digit-count class and no
// loop; the rest go through write_u64.
char* put_bar_u64(char* out, std::uint64_t value) noexcept {
  *out++ = '|';
  if (value < 100) {
    if (value < 10) {
      *out++ = static_cast<char>('0' + value);
      return out;
    }
    return put_pair(out, static_cast<std::size_t>(value));
  }
  if (value < 10000) {
    const auto high = static_cast<std::size_t>(value / 100);
    const auto low = static_cast<std::size_t>(value % 100);
    if (high < 10) {
      *out++ = static_cast<char>('0' + high);
    } else {
      out = put_pair(out, high);
    }
    return put_pair(out, low);
  }
  return write_u64(out, value);
}

}  // namespace

char* write_u64(char* out, std::uint64_t value) noexcept {
  const int digits = decimal_digits(value);
  char* end = out + digits;
  char* p = end;
  while (value >= 100) {
    const auto pair = static_cast<std::size_t>(value % 100) * 2;
    value /= 100;
    *--p = digit_pairs[pair + 1];
    *--p = digit_pairs[pair];
  }
  if (value >= 10) {
    const auto pair = static_cast<std::size_t>(value) * 2;
    *--p = digit_pairs[pair + 1];
    *--p = digit_pairs[pair];
  } else {
    *--p = static_cast<char>('0' + value);
  }
  return end;
}

char event_type_letter(event_kind kind) noexcept {
  switch (kind) {
    case event_kind::follow: return 'F';
    case event_kind::unfollow: return 'U';
    case event_kind::broadcast: return 'B';
    case event_kind::private_message: return 'P';
    case event_kind::status_update: return 'S';
    case event_kind::bad_body: return 'X';
  }
  return '?';
}

std::string_view to_string(event_kind kind) noexcept {
  switch (kind) {
    case event_kind::follow: return "follow";
    case event_kind::unfollow: return "unfollow";
    case event_kind::broadcast: return "broadcast";
    case event_kind::private_message: return "private";
    case event_kind::status_update: return "status";
    case event_kind::bad_body: return "bad-body";
  }
  return "unknown";
}

char* write_payload(char* out, const event& e) noexcept { return write_body(write_u64(out, e.seq), e); }

char* write_body(char* out, const event& e) noexcept {
  *out++ = '|';
  switch (e.kind) {
    case event_kind::follow:
    case event_kind::unfollow:
    case event_kind::private_message:
      *out++ = event_type_letter(e.kind);
      out = put_bar_u64(out, e.from);
      return put_bar_u64(out, e.to);
    case event_kind::broadcast:
      *out++ = 'B';
      return out;
    case event_kind::status_update:
      *out++ = 'S';
      return put_bar_u64(out, e.from);
    case event_kind::bad_body:
      // Each body is malformed per SPEC.md: unknown type, wrong number of fields, or an id
      // that is not a number. The server must consume the slot and notify nobody.
      switch (e.variant % bad_body_variants) {
        case 0:  // unknown type
          *out++ = 'X';
          out = put_bar_u64(out, e.from);
          return put_bar_u64(out, e.to);
        case 1:  // follow without its `to`
          *out++ = 'F';
          return put_bar_u64(out, e.from);
        case 2:  // private message whose `to` is not a number
          *out++ = 'P';
          out = put_bar_u64(out, e.from);
          out = put(out, "|a");
          return write_u64(out, e.to);
        case 3:  // status update with a second id
          *out++ = 'S';
          out = put_bar_u64(out, e.from);
          return put_bar_u64(out, e.to);
        case 4:  // no type at all: "123|"
          return out;
        case 5:  // two-letter type
          out = put(out, "FF");
          out = put_bar_u64(out, e.from);
          return put_bar_u64(out, e.to);
        case 6:  // unfollow with a third id
          *out++ = 'U';
          out = put_bar_u64(out, e.from);
          out = put_bar_u64(out, e.to);
          return put_bar_u64(out, e.to);
        default:  // broadcast with an empty extra field: "123|B|"
          return put(out, "B|");
      }
  }
  return out;
}

char* write_line(char* out, const event& e) noexcept {
  out = write_payload(out, e);
  *out++ = '\r';
  *out++ = '\n';
  return out;
}

char* write_garbage(char* out, garbage_kind kind) noexcept {
  switch (kind) {
    case garbage_kind::empty: break;
    case garbage_kind::not_a_number: out = put(out, "abc|B"); break;
    case garbage_kind::negative: out = put(out, "-5|B"); break;
    case garbage_kind::overflow: out = put(out, "18446744073709551616|B"); break;
    case garbage_kind::huge: out = put(out, "99999999999999999999999|P|1|2"); break;
    case garbage_kind::empty_sequence: out = put(out, "|B"); break;
    case garbage_kind::leading_space: out = put(out, " 5|B"); break;
    case garbage_kind::zero: out = put(out, "0|B"); break;
    case garbage_kind::overlong:
      std::memset(out, 'x', overlong_garbage_bytes);
      out += overlong_garbage_bytes;
      break;
  }
  *out++ = '\r';
  *out++ = '\n';
  return out;
}

std::string printable(std::string_view line, std::size_t max_bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  const bool cut = line.size() > max_bytes;
  if (cut) line = line.substr(0, max_bytes);
  for (const char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\r') {
      text += "\\r";
    } else if (c == '\n') {
      text += "\\n";
    } else if (byte < 0x20 || byte >= 0x7f) {
      text += "\\x";
      text += hex[byte >> 4];
      text += hex[byte & 0xf];
    } else {
      text += c;
    }
  }
  if (cut) text += "...";
  return text;
}

std::optional<std::uint64_t> parse_u64(std::string_view digits) noexcept {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::uint64_t> leading_sequence(std::string_view line) noexcept {
  return parse_u64(line.substr(0, line.find('|')));
}

}  // namespace followermaze
