#pragma once
// Slow, obviously-correct reference implementations the fuzz targets compare the daemon's
// single-pass parsers against. Written from SPEC.md, not from src/: split, then check.

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "eventserver/core/event.hpp"

namespace fuzz {

// Aborts (a libFuzzer crash, with the input saved) when a property does not hold.
#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)

// SPEC: "unsigned 64-bit", strictly decimal: at least one digit, digits only, no overflow.
inline std::optional<std::uint64_t> reference_u64(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

inline std::vector<std::string_view> split(std::string_view line, char separator) {
  std::vector<std::string_view> fields;
  for (;;) {
    const auto at = line.find(separator);
    fields.push_back(line.substr(0, at));
    if (at == std::string_view::npos) return fields;
    line.remove_prefix(at + 1);
  }
}

// seq|type[|from[|to]]: no_sequence unless the first field is a plain u64; ok only for exactly
// the field count the type demands, with numeric ids; bad_body otherwise.
inline eventserver::parse_result reference_parse_event(std::string_view line) {
  using eventserver::event_type;
  using eventserver::parse_status;
  eventserver::parse_result result;
  const auto fields = split(line, '|');
  const auto seq = reference_u64(fields[0]);
  if (!seq) return result;
  result.ev.seq = *seq;
  result.status = parse_status::bad_body;
  if (fields.size() < 2 || fields[1].size() != 1) return result;

  std::size_t ids = 0;
  event_type kind = event_type::no_op;
  switch (fields[1][0]) {
    case 'F': kind = event_type::follow; ids = 2; break;
    case 'U': kind = event_type::unfollow; ids = 2; break;
    case 'P': kind = event_type::private_message; ids = 2; break;
    case 'S': kind = event_type::status_update; ids = 1; break;
    case 'B': kind = event_type::broadcast; ids = 0; break;
    default: return result;
  }
  if (fields.size() != 2 + ids) return result;
  std::uint64_t parsed[2] = {0, 0};
  for (std::size_t i = 0; i < ids; ++i) {
    const auto id = reference_u64(fields[2 + i]);
    if (!id) return result;
    parsed[i] = *id;
  }
  result.status = parse_status::ok;
  result.ev.type = kind;
  result.ev.from = parsed[0];
  result.ev.to = parsed[1];
  return result;
}

// The canonical line of a parsed event: what a well-behaved event source sends.
inline std::string format_event(const eventserver::event& ev) {
  using eventserver::event_type;
  std::string line = std::to_string(ev.seq);
  switch (ev.type) {
    case event_type::follow: line += "|F|"; break;
    case event_type::unfollow: line += "|U|"; break;
    case event_type::private_message: line += "|P|"; break;
    case event_type::status_update: return line + "|S|" + std::to_string(ev.from);
    case event_type::broadcast: return line + "|B";
    case event_type::no_op: std::abort();
  }
  return line + std::to_string(ev.from) + "|" + std::to_string(ev.to);
}

// True when no field carries a redundant leading zero, so formatting gives the bytes back.
inline bool is_canonical(std::string_view line) {
  for (const auto field : split(line, '|')) {
    if (field.size() > 1 && field[0] == '0') return false;
  }
  return true;
}

inline bool same(const eventserver::parse_result& a, const eventserver::parse_result& b) {
  if (a.status != b.status) return false;
  if (a.status == eventserver::parse_status::no_sequence) return true;
  return a.ev.seq == b.ev.seq && a.ev.type == b.ev.type && a.ev.from == b.ev.from && a.ev.to == b.ev.to;
}

// Every property of parse_event on one line, against the reference.
inline void check_parse_event(std::string_view line) {
  using eventserver::parse_status;
  const auto got = eventserver::parse_event(line);
  const auto want = reference_parse_event(line);
  if (!same(got, want)) {
    std::fprintf(stderr, "parse_event(\"%.*s\"): status %d seq %llu type %d from %llu to %llu; reference: status %d\n",
                 static_cast<int>(line.size()), line.data(), static_cast<int>(got.status),
                 static_cast<unsigned long long>(got.ev.seq), static_cast<int>(got.ev.type),
                 static_cast<unsigned long long>(got.ev.from), static_cast<unsigned long long>(got.ev.to),
                 static_cast<int>(want.status));
    std::abort();
  }
  // no_sequence exactly when the first field is not a plain u64.
  FUZZ_CHECK((got.status == parse_status::no_sequence) == !reference_u64(split(line, '|')[0]).has_value());
  // A bad body consumes the slot as a no-op; only ok carries a real type.
  FUZZ_CHECK((got.status == parse_status::ok) == (got.ev.type != eventserver::event_type::no_op));
  if (got.status != parse_status::ok) return;
  // Round trip: the canonical form parses to the same event, and is the input when it was canonical.
  const std::string again = format_event(got.ev);
  FUZZ_CHECK(same(eventserver::parse_event(again), got));
  FUZZ_CHECK(is_canonical(line) == (again == line));
}

// parse_event_line on `line` as a source's buffer holds it: each terminator, then a '\0'. When
// it takes a line, it ends on the first '\n', and parse_event accepts the framed line (one
// '\r' stripped) with the same event. Anything it declines goes to parse_event.
inline void check_parse_event_line(std::string_view line) {
  for (const std::string_view terminator : {"\n", "\r\n", ""}) {
    // The '\0' and the word after it that parse_event_line may read, as line_reader's slack.
    const std::string buffered =
        std::string(line) + std::string(terminator) + std::string(eventserver::parse_event_line_padding, '\0');
    eventserver::parse_result fast;
    const char* newline = eventserver::parse_event_line(buffered.c_str(), fast);
    if (newline == nullptr) continue;
    const auto length = static_cast<std::size_t>(newline - buffered.c_str());
    FUZZ_CHECK(length == buffered.find('\n'));
    const auto want = reference_parse_event(eventserver::strip_cr(std::string_view(buffered).substr(0, length)));
    FUZZ_CHECK(want.status == eventserver::parse_status::ok);
    FUZZ_CHECK(same(fast, want));
  }
}

}  // namespace fuzz
