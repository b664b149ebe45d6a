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
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eventserver/auth/token.hpp"
#include "eventserver/storage/file_log.hpp"

#include "eventserver/ws/upgrade_request.hpp"

namespace eventserver {

namespace {

using json = nlohmann::json;

// A config file is an object of keys and one level of sections ("cluster"): a value nested
// deeper than this is a mistake, and refusing it while parsing keeps a hostile file from
// recursing through the stack.
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

// One row per key: its name, its default, its range (integer keys), how a JSON value is checked
// and stored, and how the stored value reads back as JSON. This table is the one source of
// every key's default and range: config's constructor applies the defaults, parse_config the
// checks, and the tests compare the README, docs/configuration.md, config/config.json and the
// fuzz target's round trip with it. A new key is one more row.
//
// A key of a section is named with its path, "cluster.role": in the file it is "role" inside
// the object "cluster". Such a key may also have an alias, the flat name older configs used
// ("clusterRole"), read as the same setting. Errors name a key as the file spells it, so
// `apply` is told the spelling.
using apply_value = std::function<void(config&, std::string_view origin, std::string_view spelled, const json&)>;
struct key_rule {
  std::string_view key;
  json default_value;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range;  // integer keys: [min, max]
  apply_value apply;
  std::function<json(const config&)> read;
  std::string_view alias = {};  // "": none
  apply_value apply_alias = {};  // the alias's own check where it takes another form; empty: `apply`
};

template <class T>
key_rule integer_key(std::string_view key, T config::*field, std::uint64_t fallback, std::uint64_t min,
                     std::uint64_t max) {
  return {key, fallback, std::pair{min, max},
          [field, min, max](config& c, std::string_view origin, std::string_view spelled, const json& v) {
            c.*field = static_cast<T>(integer_in(origin, spelled, v, min, max));
          },
          [field](const config& c) { return json(static_cast<std::uint64_t>(c.*field)); }};
}

key_rule millis_key(std::string_view key, std::chrono::milliseconds config::*field, std::uint64_t fallback,
                    std::uint64_t min, std::uint64_t max) {
  return {key, fallback, std::pair{min, max},
          [field, min, max](config& c, std::string_view origin, std::string_view spelled, const json& v) {
            c.*field = std::chrono::milliseconds(static_cast<std::int64_t>(integer_in(origin, spelled, v, min, max)));
          },
          [field](const config& c) { return json((c.*field).count()); }};
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

// How a string field reads back.
std::function<json(const config&)> read_string(std::string config::*field) {
  return [field](const config& c) { return json(c.*field); };
}

key_rule address_key(std::string_view key, std::string config::*field, std::string_view fallback) {
  return {key, std::string(fallback), std::nullopt,
          [field](config& c, std::string_view o, std::string_view spelled, const json& v) { c.*field = ip_address(o, spelled, v); },
          read_string(field)};
}

// A listener's port where 0 turns the listener off.
key_rule optional_port_key(std::string_view key, std::uint16_t config::*port, bool config::*enabled,
                           std::uint64_t fallback) {
  return {key, fallback, std::pair{std::uint64_t{0}, port_max},
          [port, enabled](config& c, std::string_view o, std::string_view spelled, const json& v) {
            c.*port = static_cast<std::uint16_t>(integer_in(o, spelled, v, 0, port_max));
            c.*enabled = c.*port != 0;
          },
          [port, enabled](const config& c) { return json(c.*enabled ? c.*port : 0); }};
}

key_rule bool_key(std::string_view key, bool config::*field, bool fallback) {
  return {key, fallback, std::nullopt,
          [field](config& c, std::string_view o, std::string_view spelled, const json& v) {
            if (!v.is_boolean()) fail(o, spelled, "must be true or false", v);
            c.*field = v.get<bool>();
          },
          [field](const config& c) { return json(c.*field); }};
}

// A file path; "" for none (`problem` is the error line's wording).
key_rule path_key(std::string_view key, std::string config::*field, std::string_view problem = "must be a file path (a string; \"\" for none)",
                  std::size_t max_bytes = 4096) {
  return {key, "", std::nullopt,
          [field, problem, max_bytes](config& c, std::string_view o, std::string_view spelled, const json& v) {
            if (!v.is_string() || v.get<std::string>().size() > max_bytes) fail(o, spelled, problem, v);
            c.*field = v.get<std::string>();
          },
          read_string(field)};
}

key_rule string_key(std::string_view key, std::string config::*field, std::string_view fallback = "") {
  return {key, std::string(fallback), std::nullopt,
          [field](config& c, std::string_view o, std::string_view spelled, const json& v) {
            if (!v.is_string() || v.get<std::string>().size() > 1024) fail(o, spelled, "must be a string of at most 1024 bytes", v);
            c.*field = v.get<std::string>();
          },
          read_string(field)};
}

// A JetStream stream name (letters, digits, '-', '_') or, with `dotted`, a subject made of such
// tokens joined by '.': no wildcards, no spaces, nothing NATS would read as more than one name.
key_rule name_key(std::string_view key, std::string config::*field, std::string_view fallback, bool dotted) {
  return {key, std::string(fallback), std::nullopt,
          [field, dotted](config& c, std::string_view o, std::string_view spelled, const json& v) {
            const std::string_view problem = dotted ? "must be a NATS subject of letters, digits, '-' and '_' in tokens "
                                                      "joined by '.' (no wildcards), at most 255 bytes"
                                                    : "must be a stream name of letters, digits, '-' and '_', at most 255 bytes";
            if (!v.is_string()) fail(o, spelled, problem, v);
            const auto text = v.get<std::string>();
            bool token_empty = true;
            for (const char ch : text) {
              const bool word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                                ch == '-' || ch == '_';
              if (word) {
                token_empty = false;
              } else if (dotted && ch == '.' && !token_empty) {
                token_empty = true;
              } else {
                fail(o, spelled, problem, v);
              }
            }
            if (token_empty || text.size() > 255) fail(o, spelled, problem, v);
            c.*field = text;
          },
          read_string(field)};
}

key_rule one_of_key(std::string_view key, std::string config::*field, std::string_view fallback,
                    std::initializer_list<std::string_view> choices, std::string problem = "") {
  if (problem.empty()) {
    problem = "must be one of";
    for (const auto choice : choices) problem.append(problem.back() == 'f' ? " \"" : ", \"").append(choice).append("\"");
  }
  return {key, std::string(fallback), std::nullopt,
          [field, values = std::vector<std::string_view>(choices), problem](config& c, std::string_view origin,
                                                                               std::string_view spelled, const json& v) {
            if (v.is_string()) {
              const auto text = v.get<std::string>();
              for (const auto value : values) {
                if (text == value) {
                  c.*field = text;
                  return;
                }
              }
            }
            fail(origin, spelled, problem, v);
          },
          read_string(field)};
}

// A string policy: one of `choices`, parsed once into its enum.
template <class E>
key_rule enum_key(std::string_view key, E config::*field, std::string_view fallback,
                  std::initializer_list<std::pair<std::string_view, E>> choices, std::string problem = "") {
  if (problem.empty()) {
    problem = "must be one of";
    for (const auto& choice : choices) problem.append(problem.back() == 'f' ? " \"" : ", \"").append(choice.first).append("\"");
  }
  std::vector<std::pair<std::string_view, E>> values(choices);
  return {key, std::string(fallback), std::nullopt,
          [field, values, problem](config& c, std::string_view origin, std::string_view spelled, const json& v) {
            if (v.is_string()) {
              const auto text = v.get<std::string>();
              for (const auto& [name, value] : values) {
                if (text == name) {
                  c.*field = value;
                  return;
                }
              }
            }
            fail(origin, spelled, problem, v);
          },
          [field, values](const config& c) {
            for (const auto& [name, value] : values) {
              if (c.*field == value) return json(name);
            }
            return json();
          }};
}

// The NATS servers: an array of URLs (a section's form), or, under the old flat name, one string
// of comma-separated URLs. Stored comma-separated, as the NATS client takes them; read back as
// the array.
key_rule servers_key(std::string_view key, std::string config::*field, std::string_view fallback) {
  constexpr std::size_t max_bytes = 1024;
  return {key, json::array({std::string(fallback)}), std::nullopt,
          [field](config& c, std::string_view o, std::string_view spelled, const json& v) {
            constexpr std::string_view problem =
                "must be an array of NATS URLs such as [\"nats://10.0.0.1:4222\"] (no commas in one), at most 1024 bytes together";
            if (!v.is_array()) fail(o, spelled, problem, v);
            std::string joined;
            for (const auto& entry : v) {
              if (!entry.is_string() || entry.get<std::string>().empty() ||
                  entry.get<std::string>().find(',') != std::string::npos) {
                fail(o, spelled, problem, entry);
              }
              if (!joined.empty()) joined += ',';
              joined += entry.get<std::string>();
              if (joined.size() > max_bytes) fail(o, spelled, problem, v);
            }
            c.*field = std::move(joined);
          },
          [field](const config& c) {
            json urls = json::array();
            const std::string& text = c.*field;
            for (std::size_t from = 0; from <= text.size();) {
              const std::size_t comma = std::min(text.find(',', from), text.size());
              if (comma > from) urls.push_back(text.substr(from, comma - from));
              from = comma + 1;
            }
            return urls;
          },
          {},
          [field](config& c, std::string_view o, std::string_view spelled, const json& v) {
            if (!v.is_string() || v.get<std::string>().size() > max_bytes) {
              fail(o, spelled, "must be a string of comma-separated NATS URLs, at most 1024 bytes", v);
            }
            c.*field = v.get<std::string>();
          }};
}

// A key of a section, also read under its older flat name.
key_rule with_alias(key_rule rule, std::string_view alias) {
  rule.alias = alias;
  return rule;
}

key_rule allowed_origins_key(std::string_view key, std::vector<std::string> config::*field) {
  return {key, json::array(), std::nullopt,
          [field](config& c, std::string_view o, std::string_view spelled, const json& v) {
            constexpr std::string_view problem =
                "must be an array of origins such as \"https://example.com\" (scheme, host, optional port; no path)";
            constexpr std::size_t max_origins = 1024;
            if (!v.is_array() || v.size() > max_origins) fail(o, spelled, problem, v);
            std::vector<std::string> origins;
            for (const auto& entry : v) {
              if (!entry.is_string() || !valid_origin(entry.get<std::string>())) fail(o, spelled, problem, entry);
              origins.push_back(entry.get<std::string>());
            }
            c.*field = std::move(origins);
          },
          [field](const config& c) { return json(c.*field); }};
}

const std::vector<key_rule>& rules() {
  // key, default, range where it has one.
  static const std::vector<key_rule> table = {
      integer_key("eventListenerPort", &config::event_listener_port, 9090, 0, port_max),
      integer_key("clientListenerPort", &config::client_listener_port, 9099, 0, port_max),
      // The event source is a trusted producer: loopback unless said otherwise.
      address_key("eventListenerAddress", &config::event_listener_address, "127.0.0.1"),
      address_key("clientListenerAddress", &config::client_listener_address, "0.0.0.0"),
      one_of_key("logLevel", &config::diagnostics_level, "info", {"trace", "debug", "info", "warn", "error", "critical", "off"},
                 "must be one of trace, debug, info, warn, error, critical, off"),
      // 64 bytes hold the longest valid event: three 20-digit numbers, a type and separators.
      integer_key("maxLineBytes", &config::max_line_bytes, 1024, 64, 1 << 20),
      integer_key("maxPendingEvents", &config::max_pending_events, 100'000, 1, 10'000'000),
      // 0: no limit; else at least maxPendingEvents (checked below, with both known).
      integer_key("maxSequenceJump", &config::max_sequence_jump, 10'000'000, 0, 1ULL << 62),
      millis_key("gapTimeoutMs", &config::gap_timeout, 0, 0, 86'400'000),
      integer_key("maxClientQueueBytes", &config::max_client_queue_bytes, 256 * 1024, 1024, 1ULL << 30),
      integer_key("clientWriteBatchBytes", &config::client_write_batch_bytes, 8 * 1024, 1, 1ULL << 30),
      millis_key("clientWriteDelayMs", &config::client_write_delay, 50, 0, 10'000),
      millis_key("clientHandshakeTimeoutMs", &config::client_handshake_timeout, 5000, 1, 3'600'000),
      integer_key("maxClients", &config::max_clients, 10'000, 1, 1'000'000),
      integer_key("maxEventSources", &config::max_event_sources, 16, 1, 1024),
      millis_key("shutdownTimeoutMs", &config::shutdown_timeout, 5000, 0, 600'000),
      address_key("adminListenerAddress", &config::admin_listener_address, "127.0.0.1"),
      optional_port_key("adminListenerPort", &config::admin_listener_port, &config::admin_enabled, 9095),
      millis_key("readyMaxGapAgeMs", &config::ready_max_gap_age, 10'000, 1, 86'400'000),
      enum_key("logFormat", &config::diagnostics_format, "text", {{"text", diagnostics_format_kind::text}, {"json", diagnostics_format_kind::json}},
               "must be \"text\" or \"json\""),
      path_key("logFile", &config::diagnostics_file, "must be a file path (a string; \"\" for standard output)",
               std::numeric_limits<std::size_t>::max()),
      path_key("dataDir", &config::data_dir, "must be a directory path (a string; \"\" for no event log)",
               std::numeric_limits<std::size_t>::max()),
      enum_key("logFsync", &config::log_fsync, "interval",
               {{"always", storage::fsync_policy::always},
                {"interval", storage::fsync_policy::interval},
                {"never", storage::fsync_policy::never}}),
      millis_key("logFsyncIntervalMs", &config::log_fsync_interval, 100, 1, 60'000),
      integer_key("logSegmentBytes", &config::log_segment_bytes, 64ULL << 20, 1ULL << 20, 1ULL << 30),
      integer_key("logRetentionBytes", &config::log_retention_bytes, 1ULL << 30, 0, 1ULL << 50),
      millis_key("logRetentionMs", &config::log_retention, 0, 0, 100ULL * 365 * 86'400'000),
      integer_key("snapshotEveryEvents", &config::snapshot_every_events, 5'000'000, 0, 1ULL << 40),
      enum_key("newStreamPolicy", &config::new_stream_policy, "restart",
               {{"restart", new_stream_mode::restart}, {"continue", new_stream_mode::continue_numbering}}),
      integer_key("historyBytes", &config::history_bytes, 16ULL << 20, 0, 1ULL << 40),
      integer_key("clientSpillBytes", &config::client_spill_bytes, 256ULL << 20, 0, 1ULL << 44),
      address_key("wsListenerAddress", &config::ws_listener_address, "0.0.0.0"),
      optional_port_key("wsListenerPort", &config::ws_listener_port, &config::ws_enabled, 0),
      // 0: no pings; else at least 100 (checked below).
      millis_key("wsPingIntervalMs", &config::ws_ping_interval, 25'000, 0, 3'600'000),
      millis_key("wsPongTimeoutMs", &config::ws_pong_timeout, 10'000, 100, 3'600'000),
      allowed_origins_key("wsAllowedOrigins", &config::ws_allowed_origins),
      millis_key("clientWriteTimeoutMs", &config::client_write_timeout, 30'000, 0, 3'600'000),
      // 0: the kernel's autotuning; otherwise at least what Linux takes (it rounds up to ~4.6 KiB).
      integer_key("clientSendBufferBytes", &config::client_send_buffer_bytes, 64 * 1024, 0, 64ULL << 20),
      bool_key("clientTls", &config::client_tls, false),
      bool_key("wsTls", &config::ws_tls, false),
      path_key("tlsCertFile", &config::tls_cert_file),
      path_key("tlsKeyFile", &config::tls_key_file),
      path_key("tlsClientCaFile", &config::tls_client_ca_file),
      one_of_key("tlsMinVersion", &config::tls_min_version, "1.2", {"1.2", "1.3"}),
      enum_key("clientAuth", &config::client_auth, "none", {{"none", client_auth_mode::none}, {"jwt", client_auth_mode::jwt}}),
      enum_key("jwtAlgorithm", &config::jwt_algorithm, "HS256",
               {{"HS256", token_algorithm::hs256}, {"RS256", token_algorithm::rs256}, {"ES256", token_algorithm::es256}}),
      path_key("jwtKeyFile", &config::jwt_key_file),
      string_key("jwtAudience", &config::jwt_audience),
      string_key("jwtIssuer", &config::jwt_issuer),
      path_key("adminTokenFile", &config::admin_token_file),
      // The cluster section (docs/cluster.md): absent, or role "standalone", is one process.
      with_alias(enum_key("cluster.role", &config::cluster_role, "standalone",
                          {{"standalone", cluster_role_kind::standalone}, {"ingest", cluster_role_kind::ingest}, {"edge", cluster_role_kind::edge}}),
                 "clusterRole"),
      with_alias(servers_key("cluster.servers", &config::cluster_servers, "nats://127.0.0.1:4222"), "clusterServers"),
      with_alias(path_key("cluster.credsFile", &config::cluster_creds_file), "clusterCredsFile"),
      with_alias(name_key("cluster.stream", &config::cluster_stream, "EVENTS", false), "clusterStream"),
      with_alias(name_key("cluster.subject", &config::cluster_subject, "eventserver.events", true), "clusterSubject"),
      with_alias(integer_key("cluster.replicas", &config::cluster_replicas, 1, 1, 5), "clusterReplicas"),
      with_alias(millis_key("cluster.duplicatesWindowMs", &config::cluster_duplicates_window, 120'000, 1000, 86'400'000),
                 "clusterDuplicatesWindowMs"),
      with_alias(millis_key("cluster.requestTimeoutMs", &config::cluster_request_timeout, 5000, 100, 600'000),
                 "clusterRequestTimeoutMs"),
      with_alias(millis_key("cluster.resumeWaitMs", &config::cluster_resume_wait, 5000, 0, 600'000), "clusterResumeWaitMs"),
  };
  return table;
}

// By its documented name ("maxLineBytes", "cluster.role") or its alias ("clusterRole").
const key_rule* find_rule(std::string_view key) {
  for (const auto& rule : rules()) {
    if (rule.key == key || (!rule.alias.empty() && rule.alias == key)) return &rule;
  }
  return nullptr;
}

// Whether `name` is a section: the first part of some key's path ("cluster").
bool is_section(std::string_view name) {
  for (const auto& rule : rules()) {
    if (rule.key.size() > name.size() && rule.key.starts_with(name) && rule.key[name.size()] == '.') return true;
  }
  return false;
}

// The settings a file gives, each under the spelling it used: a setting given twice (its
// section's key and its alias) is refused, and errors that concern a key name it as written.
class given_keys {
 public:
  explicit given_keys(std::string_view origin) : origin_(origin) {}
  void apply(config& c, const key_rule& rule, const std::string& spelled, const json& value) {
    const auto [at, fresh] = spelled_.emplace(rule.key, spelled);
    if (!fresh) {
      throw config_error(std::string(origin_) + ": \"" + at->second + "\" and \"" + spelled +
                         "\" are one setting (\"" + std::string(rule.alias) + "\" is the older, flat name of \"" +
                         std::string(rule.key) + "\"): give it once");
    }
    const bool as_alias = spelled == rule.alias;
    (as_alias && rule.apply_alias ? rule.apply_alias : rule.apply)(c, origin_, spelled, value);
  }
  // `key` as the file wrote it; its documented name when the file did not give it.
  std::string operator()(std::string_view key) const {
    const auto at = spelled_.find(key);
    return at != spelled_.end() ? at->second : std::string(key);
  }

 private:
  std::string_view origin_;
  std::map<std::string_view, std::string> spelled_;  // documented name -> as written
};

}  // namespace

config::config() {
  for (const auto& rule : rules()) rule.apply(*this, "the built-in defaults", rule.key, rule.default_value);
}

std::vector<std::string_view> config_keys() {
  std::vector<std::string_view> keys;
  for (const auto& rule : rules()) keys.push_back(rule.key);
  return keys;
}

std::vector<config_key_info> config_key_table() {
  std::vector<config_key_info> table;
  for (const auto& rule : rules()) {
    config_key_info info{rule.key, rule.default_value.dump(), rule.range.has_value(), 0, 0, rule.alias};
    if (rule.range) std::tie(info.min, info.max) = *rule.range;
    table.push_back(std::move(info));
  }
  return table;
}

std::string config_value_json(const config& settings, std::string_view key) {
  const key_rule* rule = find_rule(key);
  if (rule == nullptr) throw config_error("unknown key \"" + std::string(key) + "\"");
  return rule->read(settings).dump();
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
  given_keys named(origin);
  for (const auto& [key, value] : document.items()) {
    if (is_section(key)) {
      if (!value.is_object()) fail(origin, key, "must be an object (a section of keys; docs/configuration.md)", value);
      for (const auto& [member, member_value] : value.items()) {
        const std::string path = key + "." + member;
        const key_rule* rule = find_rule(path);
        if (rule == nullptr || rule->key != path) throw config_error(std::string(origin) + ": unknown key \"" + path + "\"");
        named.apply(result, *rule, path, member_value);
      }
      continue;
    }
    const key_rule* rule = find_rule(key);
    // A section's key is written inside its section ("cluster": {"role": ...}), not as "cluster.role".
    if (rule == nullptr || (rule->key == key && key.find('.') != std::string::npos)) {
      throw config_error(std::string(origin) + ": unknown key \"" + key + "\"");
    }
    named.apply(result, *rule, key, value);
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
  if (result.client_auth == client_auth_mode::jwt && result.jwt_key_file.empty()) {
    throw config_error(std::string(origin) + ": \"clientAuth\" \"jwt\" needs \"jwtKeyFile\" (the " +
                       std::string(to_string(result.jwt_algorithm)) +
                       (result.jwt_algorithm == token_algorithm::hs256 ? " secret)" : " public key)"));
  }
  const auto role = [&] {
    return "\"" + named("cluster.role") + "\" \"" + (result.cluster_role == cluster_role_kind::ingest ? "ingest" : "edge") + "\"";
  };
  if (result.cluster_role != cluster_role_kind::standalone &&
      result.cluster_servers.find_first_not_of(',') == std::string::npos) {
    throw config_error(std::string(origin) + ": " + role() + " needs \"" + named("cluster.servers") + "\" (the NATS URLs)");
  }
  // The ingest's retry horizon: a publish whose acknowledgement was lost goes out again after
  // one request timeout and the retry pause (500 ms); the stream must still remember its id
  // then, so that the retry is recognised as the batch already stored.
  if (result.cluster_role == cluster_role_kind::ingest &&
      result.cluster_duplicates_window < result.cluster_request_timeout + std::chrono::milliseconds(500)) {
    throw config_error(std::string(origin) + ": \"" + named("cluster.duplicatesWindowMs") + "\" (" +
                       std::to_string(result.cluster_duplicates_window.count()) + ") must be at least \"" +
                       named("cluster.requestTimeoutMs") + "\" plus 500 ms (" +
                       std::to_string(result.cluster_request_timeout.count() + 500) +
                       "): a publish is retried within that time and must be recognised as a duplicate");
  }
  // An edge keeps its own copy of the stream: the same files as a standalone daemon's log.
  if (result.cluster_role == cluster_role_kind::edge && result.data_dir.empty()) {
    throw config_error(std::string(origin) + ": " + role() + " needs \"dataDir\" (the edge's copy of the stream)");
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
