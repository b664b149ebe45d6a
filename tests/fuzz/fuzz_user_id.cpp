// libFuzzer target: the client's id line. parse_user_id and parse_u64 against a reference
// (std::from_chars behind an explicit digits-only check), and the decimal round trip.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto got = eventserver::parse_user_id(line);
  const auto want = fuzz::reference_u64(line);
  FUZZ_CHECK(got.has_value() == want.has_value());
  FUZZ_CHECK(!got || *got == *want);
  FUZZ_CHECK(eventserver::parse_u64(line) == got);
  if (got) {
    // The value printed back is the input without its leading zeros.
    const auto first = line.find_first_not_of('0');
    const std::string_view significant = first == std::string_view::npos ? std::string_view("0") : line.substr(first);
    FUZZ_CHECK(std::to_string(*got) == significant);
  }
  return 0;
}
