// libFuzzer target: eventserver::parse_event on one line of arbitrary bytes, against the
// reference parser (status, every field, no_sequence rule, canonical round trip).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  fuzz::check_parse_event(line);
  // What the event-source session passes: the line with its '\r' stripped.
  fuzz::check_parse_event(eventserver::strip_cr(line));
  return 0;
}
