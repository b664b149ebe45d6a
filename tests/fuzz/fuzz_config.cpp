// libFuzzer target: parse_config on arbitrary text. It must either return a config whose every
// value is within the range of the key table (config_key_table()), or throw config_error: no crash, no other exception
// (main and the SIGHUP handler catch config_error only). An accepted config, written back as
// JSON, must parse to the same config.

#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include <nlohmann/json.hpp>

#include "eventserver/app/config.hpp"
#include "reference.hpp"

namespace {

using eventserver::config;
using json = nlohmann::json;

bool is_ip_literal(const std::string& text) {
  std::array<unsigned char, 16> scratch{};
  return inet_pton(AF_INET, text.c_str(), scratch.data()) == 1 || inet_pton(AF_INET6, text.c_str(), scratch.data()) == 1;
}

// Every value within the range of the key table (the parser's own, which the config test
// checks against docs/configuration.md): no copy of a bound lives here.
void check_ranges(const config& c) {
  FUZZ_CHECK(is_ip_literal(c.event_listener_address));
  FUZZ_CHECK(is_ip_literal(c.client_listener_address));
  FUZZ_CHECK(is_ip_literal(c.admin_listener_address));
  FUZZ_CHECK(is_ip_literal(c.ws_listener_address));
  for (const auto& row : eventserver::config_key_table()) {
    if (!row.integer) continue;
    const json value = json::parse(eventserver::config_value_json(c, row.key));
    FUZZ_CHECK(value.is_number_integer());
    const auto n = value.get<std::int64_t>();  // every bound is under 2^63
    FUZZ_CHECK(n >= 0 && static_cast<std::uint64_t>(n) >= row.min && static_cast<std::uint64_t>(n) <= row.max);
  }
  FUZZ_CHECK(c.admin_enabled == (c.admin_listener_port != 0));
  FUZZ_CHECK(c.ws_enabled == (c.ws_listener_port != 0));
}

// Every key, as the config holds it (a section's key inside its section: "cluster.role" at
// /cluster/role): parsed again, it must give the same config.
json to_json(const config& c) {
  json document = json::object();
  for (const auto key : eventserver::config_keys()) {
    std::string pointer = std::string(1, '/').append(key);
    for (auto& ch : pointer) ch = ch == '.' ? '/' : ch;
    document[json::json_pointer(pointer)] = json::parse(eventserver::config_value_json(c, key));
  }
  return document;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  config parsed;
  try {
    parsed = eventserver::parse_config(text, "fuzz.json");
  } catch (const eventserver::config_error&) {
    return 0;  // the documented way to refuse
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse_config threw %s, not config_error: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "parse_config threw a non-std exception\n");
    std::abort();
  }
  check_ranges(parsed);
  const std::string written = to_json(parsed).dump();
  try {
    FUZZ_CHECK(to_json(eventserver::parse_config(written, "round-trip")) == to_json(parsed));
  } catch (const eventserver::config_error& e) {
    std::fprintf(stderr, "accepted config does not round-trip: %s\n%s\n", e.what(), written.c_str());
    std::abort();
  }
  return 0;
}
