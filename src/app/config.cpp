#include "eventserver/app/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <array>
#include <functional>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eventserver/ws/upgrade_request.hpp"

namespace eventserver {

namespace {

using json = nlohmann::json;

// A config file is flat: a value nested deeper than this is a mistake, and refusing it while
// parsing keeps a hostile file from recursing through the stack.
constexpr int max_nesting = 8;

// The offending value as the error line shows it: JSON, cut short so the line stays one line.
std::string shown(const json& value) {
  constexpr std::size_t limit = 80;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > limit) {
    text.resize(limit);
    text += "...";
  }
  return text;
}

[[noreturn]] void fail(std::string_view origin, std::string_view key, std::string_view problem, const json& value) {
  std::ostringstream message;
  message << origin << ": \"" << key << "\" " << problem << ", got " << shown(value);
  throw config_error(message.str());
}

std::uint64_t integer_in(std::string_view origin, std::string_view key, const json& value, std::uint64_t min,
                         std::uint64_t max) {
  std::ostringstream problem;
  problem << "must be an integer from " << min << " to " << max;
  if (!value.is_number_integer()) fail(origin, key, problem.str(), value);
  if (value.is_number_unsigned()) {
    const auto n = value.get<std::uint64_t>();
    if (n < min || n > max) fail(origin, key, problem.str(), value);
    return n;
  }
  const auto n = value.get<std::int64_t>();
  if (n < 0 || static_cast<std::uint64_t>(n) < min || static_cast<std::uint64_t>(n) > max) {
    fail(origin, key, problem.str(), value);
  }
  return static_cast<std::uint64_t>(n);
}

std::string ip_address(std::string_view origin, std::string_view key, const json& value) {
  constexpr std::string_view problem = "must be a numeric IPv4 or IPv6 address such as \"127.0.0.1\" or \"::\"";
  if (!value.is_string()) fail(origin, key, problem, value);
  const auto text = value.get<std::string>();
  std::array<unsigned char, 16> scratch{};
  if (inet_pton(AF_INET, text.c_str(), scratch.data()) != 1 && inet_pton(AF_INET6, text.c_str(), scratch.data()) != 1) {
    fail(origin, key, problem, value);
  }
  return text;
}

std::string log_level(std::string_view origin, std::string_view key, const json& value) {
  constexpr std::array<std::string_view, 7> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  constexpr std::string_view problem = "must be one of trace, debug, info, warn, error, critical, off";
  if (!value.is_string()) fail(origin, key, problem, value);
  const auto text = value.get<std::string>();
  for (const auto level : levels) {
    if (text == level) return text;
  }
  fail(origin, key, problem, value);
}

struct key_rule {
  std::string_view key;
  std::function<void(config&, std::string_view origin, const json&)> apply;
};

template <class T>
key_rule integer_key(std::string_view key, T config::*field, std::uint64_t min, std::uint64_t max) {
  return {key, [key, field, min, max](config& c, std::string_view origin, const json& v) {
            c.*field = static_cast<T>(integer_in(origin, key, v, min, max));
          }};
}

key_rule millis_key(std::string_view key, std::chrono::milliseconds config::*field, std::uint64_t min,
                    std::uint64_t max) {
  return {key, [key, field, min, max](config& c, std::string_view origin, const json& v) {
            c.*field = std::chrono::milliseconds(static_cast<std::int64_t>(integer_in(origin, key, v, min, max)));
          }};
}

// 127.0.0.0/8, ::1, or an IPv4-mapped 127.x (the address is already known to be a literal).
bool loopback_address(const std::string& address) {
  in_addr v4{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

constexpr std::uint64_t port_max = std::numeric_limits<std::uint16_t>::max();

key_rule address_key(std::string_view key, std::string config::*field) {
  return {key, [key, field](config& c, std::string_view o, const json& v) { c.*field = ip_address(o, key, v); }};
}

// A listener's port where 0 turns the listener off.
key_rule optional_port_key(std::string_view key, std::uint16_t config::*port, bool config::*enabled) {
  return {key, [key, port, enabled](config& c, std::string_view o, const json& v) {
            c.*port = static_cast<std::uint16_t>(integer_in(o, key, v, 0, port_max));
            c.*enabled = c.*port != 0;
          }};
}

key_rule bool_key(std::string_view key, bool config::*field) {
  return {key, [key, field](config& c, std::string_view o, const json& v) {
            if (!v.is_boolean()) fail(o, key, "must be true or false", v);
            c.*field = v.get<bool>();
          }};
}

// A file path; "" for none.
key_rule path_key(std::string_view key, std::string config::*field) {
  return {key, [key, field](config& c, std::string_view o, const json& v) {
            if (!v.is_string() || v.get<std::string>().size() > 4096) fail(o, key, "must be a file path (a string; \"\" for none)", v);
            c.*field = v.get<std::string>();
          }};
}

key_rule string_key(std::string_view key, std::string config::*field) {
  return {key, [key, field](config& c, std::string_view o, const json& v) {
            if (!v.is_string() || v.get<std::string>().size() > 1024) fail(o, key, "must be a string of at most 1024 bytes", v);
            c.*field = v.get<std::string>();
          }};
}

key_rule one_of_key(std::string_view key, std::string config::*field, std::initializer_list<std::string_view> choices) {
  std::string problem = "must be one of";
  for (const auto choice : choices) problem.append(problem.back() == 'f' ? " \"" : ", \"").append(choice).append("\"");
  return {key, [key, field, values = std::vector<std::string_view>(choices), problem](config& c, std::string_view origin,
                                                                                    const json& v) {
            if (v.is_string()) {
              const auto text = v.get<std::string>();
              for (const auto value : values) {
                if (text == value) {
                  c.*field = text;
                  return;
                }
              }
            }
            fail(origin, key, problem, v);
          }};
}

const std::vector<key_rule>& rules() {
  static const std::vector<key_rule> table = {
      integer_key("eventListenerPort", &config::event_listener_port, 0, port_max),
      integer_key("clientListenerPort", &config::client_listener_port, 0, port_max),
      address_key("eventListenerAddress", &config::event_listener_address),
      address_key("clientListenerAddress", &config::client_listener_address),
      {"logLevel", [](config& c, std::string_view o, const json& v) { c.log_level = log_level(o, "logLevel", v); }},
      // 64 bytes hold the longest valid event: three 20-digit numbers, a type and separators.
      integer_key("maxLineBytes", &config::max_line_bytes, 64, 1 << 20),
      integer_key("maxPendingEvents", &config::max_pending_events, 1, 10'000'000),
      integer_key("maxSequenceJump", &config::max_sequence_jump, 0, 1ULL << 62),
      millis_key("gapTimeoutMs", &config::gap_timeout, 0, 86'400'000),
      integer_key("maxClientQueueBytes", &config::max_client_queue_bytes, 1024, 1ULL << 30),
      integer_key("clientWriteBatchBytes", &config::client_write_batch_bytes, 1, 1ULL << 30),
      millis_key("clientWriteDelayMs", &config::client_write_delay, 0, 10'000),
      millis_key("clientHandshakeTimeoutMs", &config::client_handshake_timeout, 1, 3'600'000),
      integer_key("maxClients", &config::max_clients, 1, 1'000'000),
      integer_key("maxEventSources", &config::max_event_sources, 1, 1024),
      millis_key("shutdownTimeoutMs", &config::shutdown_timeout, 0, 600'000),
      address_key("adminListenerAddress", &config::admin_listener_address),
      optional_port_key("adminListenerPort", &config::admin_listener_port, &config::admin_enabled),
      millis_key("readyMaxGapAgeMs", &config::ready_max_gap_age, 1, 86'400'000),
      {"logFormat",
       [](config& c, std::string_view o, const json& v) {
         if (!v.is_string() || (v != "text" && v != "json")) fail(o, "logFormat", "must be \"text\" or \"json\"", v);
         c.log_format = v.get<std::string>();
       }},
      {"logFile",
       [](config& c, std::string_view o, const json& v) {
         if (!v.is_string()) fail(o, "logFile", "must be a file path (a string; \"\" for standard output)", v);
         c.log_file = v.get<std::string>();
       }},
      {"dataDir",
       [](config& c, std::string_view o, const json& v) {
         if (!v.is_string()) fail(o, "dataDir", "must be a directory path (a string; \"\" for no event log)", v);
         c.data_dir = v.get<std::string>();
       }},
      one_of_key("logFsync", &config::log_fsync, {"always", "interval", "never"}),
      millis_key("logFsyncIntervalMs", &config::log_fsync_interval, 1, 60'000),
      integer_key("logSegmentBytes", &config::log_segment_bytes, 1ULL << 20, 1ULL << 30),
      integer_key("logRetentionBytes", &config::log_retention_bytes, 0, 1ULL << 50),
      millis_key("logRetentionMs", &config::log_retention, 0, 100ULL * 365 * 86'400'000),
      integer_key("snapshotEveryEvents", &config::snapshot_every_events, 0, 1ULL << 40),
      one_of_key("newStreamPolicy", &config::new_stream_policy, {"restart", "continue"}),
      integer_key("historyBytes", &config::history_bytes, 0, 1ULL << 40),
      address_key("wsListenerAddress", &config::ws_listener_address),
      optional_port_key("wsListenerPort", &config::ws_listener_port, &config::ws_enabled),
      millis_key("wsPingIntervalMs", &config::ws_ping_interval, 0, 3'600'000),
      millis_key("wsPongTimeoutMs", &config::ws_pong_timeout, 100, 3'600'000),
      {"wsAllowedOrigins",
       [](config& c, std::string_view o, const json& v) {
         constexpr std::string_view problem =
             "must be an array of origins such as \"https://example.com\" (scheme, host, optional port; no path)";
         constexpr std::size_t max_origins = 1024;
         if (!v.is_array() || v.size() > max_origins) fail(o, "wsAllowedOrigins", problem, v);
         std::vector<std::string> origins;
         for (const auto& entry : v) {
           if (!entry.is_string() || !valid_origin(entry.get<std::string>())) fail(o, "wsAllowedOrigins", problem, entry);
           origins.push_back(entry.get<std::string>());
         }
         c.ws_allowed_origins = std::move(origins);
       }},
      millis_key("clientWriteTimeoutMs", &config::client_write_timeout, 0, 3'600'000),
      // 0: the kernel's autotuning; otherwise at least what Linux takes (it rounds up to ~4.6 KiB).
      integer_key("clientSendBufferBytes", &config::client_send_buffer_bytes, 0, 64ULL << 20),
      bool_key("clientTls", &config::client_tls),
      bool_key("wsTls", &config::ws_tls),
      path_key("tlsCertFile", &config::tls_cert_file),
      path_key("tlsKeyFile", &config::tls_key_file),
      path_key("tlsClientCaFile", &config::tls_client_ca_file),
      one_of_key("tlsMinVersion", &config::tls_min_version, {"1.2", "1.3"}),
      one_of_key("clientAuth", &config::client_auth, {"none", "jwt"}),
      one_of_key("jwtAlgorithm", &config::jwt_algorithm, {"HS256", "RS256", "ES256"}),
      path_key("jwtKeyFile", &config::jwt_key_file),
      string_key("jwtAudience", &config::jwt_audience),
      string_key("jwtIssuer", &config::jwt_issuer),
      path_key("adminTokenFile", &config::admin_token_file),
  };
  return table;
}

}  // namespace

std::vector<std::string_view> config_keys() {
  std::vector<std::string_view> keys;
  for (const auto& rule : rules()) keys.push_back(rule.key);
  return keys;
}

config parse_config(std::string_view json_text, std::string_view origin) {
  json document;
  try {
    document = json::parse(json_text, [origin](int depth, json::parse_event_t event, json&) {
      if (depth >= max_nesting && (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start)) {
        throw config_error(std::string(origin) + ": nested deeper than " + std::to_string(max_nesting) +
                           " levels; the config is one flat object");
      }
      return true;
    });
  } catch (const json::exception& e) {  // a syntax error, or a number too large for a double
    throw config_error(std::string(origin) + ": not valid JSON: " + e.what());
  }
  if (!document.is_object()) {
    throw config_error(std::string(origin) + ": must be a JSON object, got " + shown(document));
  }

  config result;
  for (const auto& [key, value] : document.items()) {
    const key_rule* rule = nullptr;
    for (const auto& candidate : rules()) {
      if (candidate.key == key) rule = &candidate;
    }
    if (rule == nullptr) throw config_error(std::string(origin) + ": unknown key \"" + key + "\"");
    rule->apply(result, origin, value);
  }
  // Keys checked against each other, once all are known.
  if (result.max_sequence_jump != 0 && result.max_sequence_jump < result.max_pending_events) {
    throw config_error(std::string(origin) + ": \"maxSequenceJump\" (" + std::to_string(result.max_sequence_jump) +
                       ") must be 0 or at least \"maxPendingEvents\" (" + std::to_string(result.max_pending_events) +
                       "): the window's own numbers cannot be too far");
  }
  if (result.ws_ping_interval.count() != 0 && result.ws_ping_interval < std::chrono::milliseconds(100)) {
    throw config_error(std::string(origin) + ": \"wsPingIntervalMs\" (" + std::to_string(result.ws_ping_interval.count()) +
                       ") must be 0 (no pings) or at least 100");
  }
  // Protected mode (as Redis's): /connz names users and addresses, so an admin port others
  // can reach must ask for a token.
  if (result.admin_enabled && result.admin_token_file.empty() && !loopback_address(result.admin_listener_address)) {
    throw config_error(std::string(origin) + ": \"adminListenerAddress\" " + result.admin_listener_address +
                       " is not loopback: set \"adminTokenFile\" (a file holding the bearer token every admin "
                       "request must carry), or bind the admin port to 127.0.0.1");
  }
  // What TLS and authentication need, named before anything is read.
  if ((result.client_tls || result.ws_tls) && (result.tls_cert_file.empty() || result.tls_key_file.empty())) {
    throw config_error(std::string(origin) + ": \"clientTls\" or \"wsTls\" needs \"tlsCertFile\" and \"tlsKeyFile\"");
  }
  if (result.client_auth == "jwt" && result.jwt_key_file.empty()) {
    throw config_error(std::string(origin) + ": \"clientAuth\" \"jwt\" needs \"jwtKeyFile\" (the " + result.jwt_algorithm +
                       (result.jwt_algorithm == "HS256" ? " secret)" : " public key)"));
  }
  return result;
}

std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes, std::string_view what) {
  const std::string name = path.string();
  const auto failure = [&](std::string_view problem) {
    return config_error(name + ": cannot read " + std::string(what) + ": " + std::string(problem));
  };
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw failure(std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw failure(std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw failure("not a regular file");
  if (static_cast<std::uint64_t>(info.st_size) > max_bytes) {
    throw failure("larger than " + std::to_string(max_bytes) + " bytes");
  }
  // Read one byte past the size fstat gave (up to one past the bound): a file that grew since
  // is noticed, and one that grew past the bound refused.
  std::string text(std::min<std::size_t>(static_cast<std::size_t>(info.st_size), max_bytes) + 1, '\0');
  std::size_t size = 0;
  for (;;) {
    if (size == text.size()) {
      if (size > max_bytes) break;
      text.resize(std::min(2 * size, max_bytes + 1));  // it grew: read on, up to the bound
    }
    const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw failure(std::strerror(errno));
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > max_bytes) throw failure("larger than " + std::to_string(max_bytes) + " bytes");
  text.resize(size);
  return text;
}

config load_config_file(const std::filesystem::path& path) {
  return parse_config(read_small_file(path, max_config_file_bytes, "config file"), path.string());
}

}  // namespace eventserver
