// libFuzzer target: eventserver::parse_event on one line of arbitrary bytes, against the
// reference parser (status, every field, no_sequence rule, canonical round trip); and
// parse_event_line, the one-pass path, on the same line as a source's buffer holds it.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  fuzz::check_parse_event(line);
  // What the event-source session passes: the line with its '\r' stripped.
  fuzz::check_parse_event(eventserver::strip_cr(line));
  // The session's one-pass path must take only what parse_event accepts, with the same event.
  fuzz::check_parse_event_line(line);
  return 0;
}
