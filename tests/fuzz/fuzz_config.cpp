// libFuzzer target: parse_config on arbitrary text. It must either return a config whose every
// value is within its documented range, or throw config_error: no crash, no other exception
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

template <class T>
bool within(T value, std::uint64_t min, std::uint64_t max) {
  return static_cast<std::uint64_t>(value) >= min && static_cast<std::uint64_t>(value) <= max;
}

// The ranges of the README's configuration table.
void check_ranges(const config& c) {
  FUZZ_CHECK(is_ip_literal(c.event_listener_address));
  FUZZ_CHECK(is_ip_literal(c.client_listener_address));
  FUZZ_CHECK(is_ip_literal(c.admin_listener_address));
  FUZZ_CHECK(c.log_level == "trace" || c.log_level == "debug" || c.log_level == "info" || c.log_level == "warn" ||
             c.log_level == "error" || c.log_level == "critical" || c.log_level == "off");
  FUZZ_CHECK(within(c.max_line_bytes, 64, 1 << 20));
  FUZZ_CHECK(within(c.max_pending_events, 1, 10'000'000));
  FUZZ_CHECK(c.gap_timeout.count() >= 0 && within(c.gap_timeout.count(), 0, 86'400'000));
  FUZZ_CHECK(within(c.max_client_queue_bytes, 1024, 1ULL << 30));
  FUZZ_CHECK(within(c.client_write_batch_bytes, 1, 1ULL << 30));
  FUZZ_CHECK(c.client_write_delay.count() >= 0 && within(c.client_write_delay.count(), 0, 10'000));
  FUZZ_CHECK(c.client_handshake_timeout.count() >= 1 && within(c.client_handshake_timeout.count(), 1, 3'600'000));
  FUZZ_CHECK(within(c.max_clients, 1, 1'000'000));
  FUZZ_CHECK(within(c.max_event_sources, 1, 1024));
  FUZZ_CHECK(c.shutdown_timeout.count() >= 0 && within(c.shutdown_timeout.count(), 0, 600'000));
  FUZZ_CHECK(c.admin_enabled == (c.admin_listener_port != 0));
  FUZZ_CHECK(c.ready_max_gap_age.count() >= 1 && within(c.ready_max_gap_age.count(), 1, 86'400'000));
  FUZZ_CHECK(c.log_format == "text" || c.log_format == "json");
}

json to_json(const config& c) {
  return {
      {"eventListenerAddress", c.event_listener_address},
      {"eventListenerPort", c.event_listener_port},
      {"clientListenerAddress", c.client_listener_address},
      {"clientListenerPort", c.client_listener_port},
      {"logLevel", c.log_level},
      {"maxLineBytes", c.max_line_bytes},
      {"maxPendingEvents", c.max_pending_events},
      {"gapTimeoutMs", c.gap_timeout.count()},
      {"maxClientQueueBytes", c.max_client_queue_bytes},
      {"clientWriteBatchBytes", c.client_write_batch_bytes},
      {"clientWriteDelayMs", c.client_write_delay.count()},
      {"clientHandshakeTimeoutMs", c.client_handshake_timeout.count()},
      {"maxClients", c.max_clients},
      {"maxEventSources", c.max_event_sources},
      {"shutdownTimeoutMs", c.shutdown_timeout.count()},
      {"adminListenerAddress", c.admin_listener_address},
      {"adminListenerPort", c.admin_enabled ? c.admin_listener_port : 0},
      {"readyMaxGapAgeMs", c.ready_max_gap_age.count()},
      {"logFormat", c.log_format},
      {"logFile", c.log_file},
  };
}

bool same(const config& a, const config& b) {
  return a.event_listener_address == b.event_listener_address && a.event_listener_port == b.event_listener_port &&
         a.client_listener_address == b.client_listener_address && a.client_listener_port == b.client_listener_port &&
         a.log_level == b.log_level && a.max_line_bytes == b.max_line_bytes &&
         a.max_pending_events == b.max_pending_events && a.gap_timeout == b.gap_timeout &&
         a.max_client_queue_bytes == b.max_client_queue_bytes &&
         a.client_write_batch_bytes == b.client_write_batch_bytes && a.client_write_delay == b.client_write_delay &&
         a.client_handshake_timeout == b.client_handshake_timeout && a.max_clients == b.max_clients &&
         a.max_event_sources == b.max_event_sources && a.shutdown_timeout == b.shutdown_timeout &&
         a.admin_enabled == b.admin_enabled && a.admin_listener_address == b.admin_listener_address &&
         a.admin_listener_port == b.admin_listener_port && a.ready_max_gap_age == b.ready_max_gap_age &&
         a.log_format == b.log_format && a.log_file == b.log_file;
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
    FUZZ_CHECK(same(eventserver::parse_config(written, "round-trip"), parsed));
  } catch (const eventserver::config_error& e) {
    std::fprintf(stderr, "accepted config does not round-trip: %s\n%s\n", e.what(), written.c_str());
    std::abort();
  }
  return 0;
}
