#include "followermaze/options.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "followermaze/jwt.hpp"
#include "followermaze/wire.hpp"

namespace followermaze {

namespace {

using setter = std::function<std::string(options&, std::string_view)>;

struct option_spec {
  std::string_view name;       // flag --name; also the environment variable when it is one
  std::string_view value_hint;  // empty: a switch, `--name` alone (or `--name=true|false`)
  std::string_view help;
  setter apply;
};

template <class T>
std::string set_integer(T& field, std::string_view value, std::uint64_t min, std::uint64_t max) {
  const auto n = parse_u64(value);
  if (!n || *n < min || *n > max) {
    return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got \"" +
           std::string(value) + "\"";
  }
  field = static_cast<T>(*n);
  return {};
}

template <class T>
setter integer(T options::*field, std::uint64_t min, std::uint64_t max = std::numeric_limits<T>::max()) {
  return [field, min, max](options& o, std::string_view v) { return set_integer(o.*field, v, min, max); };
}

template <class T>
setter optional_integer(std::optional<T> options::*field, std::uint64_t min, std::uint64_t max) {
  return [field, min, max](options& o, std::string_view v) {
    T value{};
    auto error = set_integer(value, v, min, max);
    if (error.empty()) o.*field = value;
    return error;
  };
}

std::string set_rate(double& field, std::string_view value) {
  double rate = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), rate);
  if (ec != std::errc{} || end != value.data() + value.size() || !(rate >= 0.0 && rate <= 0.5)) {
    return "must be a number from 0 to 0.5, got \"" + std::string(value) + "\"";
  }
  field = rate;
  return {};
}

std::string set_fraction(double& field, std::string_view value) {
  double fraction = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), fraction);
  if (ec != std::errc{} || end != value.data() + value.size() || !(fraction >= 0.01 && fraction < 1.0)) {
    return "must be a number from 0.01 to below 1, got \"" + std::string(value) + "\"";
  }
  field = fraction;
  return {};
}

setter boolean(bool options::*field) {
  return [field](options& o, std::string_view v) -> std::string {
    if (v == "true" || v == "1") {
      o.*field = true;
    } else if (v == "false" || v == "0") {
      o.*field = false;
    } else {
      return "is a switch: give it alone, or as =true, =false, =1 or =0, got \"" + std::string(v) + "\"";
    }
    return {};
  };
}

// A comma-separated list of ports: --clientPorts=9099,9199,9299.
setter port_list(std::vector<std::uint16_t> options::*field) {
  return [field](options& o, std::string_view v) -> std::string {
    std::vector<std::uint16_t> ports;
    while (true) {
      const auto comma = v.find(',');
      const std::string_view item = v.substr(0, comma);
      std::uint32_t port = 0;
      const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), port);
      if (ec != std::errc{} || end != item.data() + item.size() || port == 0 || port > 65535) {
        return "must be ports from 1 to 65535 separated by commas, got \"" + std::string(item) + "\"";
      }
      ports.push_back(static_cast<std::uint16_t>(port));
      if (comma == std::string_view::npos) break;
      v = v.substr(comma + 1);
    }
    o.*field = std::move(ports);
    return {};
  };
}

// --shard=K/N: 0 <= K < N.
std::string set_shard(options& o, std::string_view value) {
  const auto slash = value.find('/');
  const auto index = parse_u64(value.substr(0, slash));
  const auto count = slash == std::string_view::npos ? std::nullopt : parse_u64(value.substr(slash + 1));
  if (!index || !count || *count == 0 || *count > 1'000'000 || *index >= *count) {
    return "must be K/N with 0 <= K < N <= 1000000, got \"" + std::string(value) + "\"";
  }
  o.shard_index = static_cast<std::uint32_t>(*index);
  o.shard_count = static_cast<std::uint32_t>(*count);
  return {};
}

setter text(std::string options::*field) {
  return [field](options& o, std::string_view v) {
    o.*field = std::string(v);
    return std::string{};
  };
}

std::string set_log_level(options& o, std::string_view value) {
  constexpr std::array<std::string_view, 7> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const auto level : levels) {
    if (value == level) {
      o.log_level = std::string(value);
      return {};
    }
  }
  return "must be one of trace, debug, info, warn, error, critical, off, got \"" + std::string(value) + "\"";
}

std::string set_mix(options& o, std::string_view value) {
  const auto mix = mix_by_name(value);
  if (!mix) {
    std::string names;
    for (const auto& named : named_mixes) names += (names.empty() ? "" : ", ") + std::string(named.name);
    return "must be one of " + names + ", got \"" + std::string(value) + "\"";
  }
  o.mix_name = std::string(value);
  o.mix = *mix;
  return {};
}

const std::vector<option_spec>& specs() {
  constexpr std::uint64_t port_max = 65535;
  static const std::vector<option_spec> table = {
      {"logLevel", "LEVEL", "trace|debug|info|warn|error|critical|off (default info)", set_log_level},
      {"eventListenerPort", "PORT", "the daemon's event source port (default 9090)",
       integer(&options::event_listener_port, 1, port_max)},
      {"clientListenerPort", "PORT", "the daemon's client port (default 9099)",
       integer(&options::client_listener_port, 1, port_max)},
      {"totalEvents", "N", "events to send (default 10000000)", integer(&options::total_events, 0)},
      {"concurrencyLevel", "N", "connected users (default 100)", integer(&options::concurrency_level, 1, 1'000'000)},
      {"numberOfUsers", "N", "user ids 1..N (default concurrencyLevel*10)",
       integer(&options::number_of_users, 2, 100'000'000)},
      {"randomSeed", "N", "seed of the event stream and of who connects (default 666)", integer(&options::random_seed, 0)},
      {"timeout", "MS", "how long a client waits for its next notification (default 20000)",
       integer(&options::timeout_ms, 1, 86'400'000)},
      {"maxEventSourceBatchSize", "N", "the source sends shuffled batches of 1..N events (default 100)",
       integer(&options::max_event_source_batch_size, 1, 1'000'000)},
      {"logInterval", "MS", "progress line interval (default 1000)", integer(&options::log_interval_ms, 10, 86'400'000)},
      {"host", "ADDR", "the daemon's IPv4 address (default 127.0.0.1)",
       [](options& o, std::string_view v) {
         o.host = std::string(v);
         return std::string{};
       }},
      {"daemonPid", "PID", "report this process's CPU seconds and peak RSS at the end",
       optional_integer(&options::daemon_pid, 1, std::numeric_limits<int>::max())},
      {"daemonConfig", "FILE",
       "take the event, client and ws ports and clientWriteTimeoutMs (for chaos-stuck-timeout) from the daemon's "
       "JSON config (flags still win)",
       [](options& o, std::string_view v) {
         o.daemon_config = std::string(v);
         return std::string{};
       }},
      {"mix", "NAME", "event mix: default, broadcast-heavy, private-heavy, status-heavy", set_mix},
      {"avgFollows", "N", "the follower graph reverts to numberOfUsers*N edges (default 10)",
       integer(&options::avg_follows, 0, 100'000)},
      {"settle", "MS", "pause between registering the clients and the first event (default 200 + 0.05 per connection)",
       optional_integer(&options::settle_ms, 0, 600'000)},
      {"quiet", "MS", "wait after the last expected notification for unexpected extras (default 300)",
       integer(&options::quiet_ms, 0, 600'000)},
      {"connectTimeout", "MS", "keep retrying refused connections this long (default 5000)",
       integer(&options::connect_timeout_ms, 0, 600'000)},
      {"maxRate", "EVENTS_PER_S",
       "pace the source (default 0: as fast as the daemon reads); paced, the latency is the daemon's own rather "
       "than the time spent queued in socket buffers",
       integer(&options::max_rate, 0)},
      {"maxInFlight", "N",
       "the source waits while this many notifications are owed to clients (default 1000000): keeps the "
       "verifier's queues, and the latency, from measuring how far ahead the source ran",
       integer(&options::max_in_flight, 1)},
      {"chaos-stuck-readers", "N",
       "N extra users that register and never read; the daemon must disconnect them (see chaos-stuck-timeout)",
       integer(&options::chaos_stuck_readers, 0, 100'000)},
      {"chaos-stuck-timeout", "MS",
       "the daemon's clientWriteTimeoutMs (default: daemonConfig's, else 30000): each stuck reader must be "
       "disconnected within this, plus 2 s and the run's worst client latency, of the last private message to it, "
       "and the run waits for that; 0 (a daemon without history or write timeout): one sent more than "
       "chaos-queue-bound + chaos-kernel-slack must have been cut off",
       integer(&options::chaos_stuck_timeout_ms, 0, 3'600'000)},
      {"chaos-stuck-bytes", "BYTES",
       "private-message traffic sent to each stuck reader (default 1.5 x (chaos-queue-bound + chaos-kernel-slack))",
       optional_integer(&options::chaos_stuck_bytes, 0, std::numeric_limits<std::uint64_t>::max())},
      {"chaos-queue-bound", "BYTES",
       "the daemon's maxClientQueueBytes (default 262144); with chaos-stuck-timeout=0 a stuck reader sent more "
       "than this plus chaos-kernel-slack must have been cut off",
       integer(&options::chaos_queue_bound, 0)},
      {"chaos-kernel-slack", "BYTES",
       "what the kernel's socket buffers may hold for a stuck reader beyond the daemon's queue (default 1048576; "
       "~50 KB measured with the stuck readers' 536-byte MSS; a daemon that sets a large SO_SNDBUF needs more)",
       integer(&options::chaos_kernel_slack, 0)},
      {"chaos-bad-clients", "N", "N connections that send a bad id, an overlong id, or nothing",
       integer(&options::chaos_bad_clients, 0, 100'000)},
      {"chaos-handshake-timeout", "MS",
       "the daemon's clientHandshakeTimeoutMs (default 5000): silent bad clients must be closed within this "
       "(plus 1 s) of connecting, and the run waits for it; 0 only counts them",
       integer(&options::chaos_handshake_timeout_ms, 0, 3'600'000)},
      {"chaos-duplicate-connections", "N", "N connected users get a second connection; both are verified",
       integer(&options::chaos_duplicate_connections, 0, 1'000'000)},
      {"chaos-garbage", "RATE", "per line: garbage lines, bad-body slots and bare-LF endings at this rate (0..0.5)",
       [](options& o, std::string_view v) { return set_rate(o.chaos_garbage, v); }},
      {"chaos-reconnect", "N", "the event source disconnects and reconnects N times mid-stream",
       integer(&options::chaos_reconnect, 0, 10'000)},
      {"chaos-slow-readers", "N",
       "N verified clients read at slow-read-fraction of the rate they are sent notifications; they must still get "
       "every one, in order (the daemon serves them from history); their latency and finish time are reported apart",
       integer(&options::chaos_slow_readers, 0, 1'000'000)},
      {"slow-read-fraction", "F", "how fast the slow readers read, as a fraction of their stream's rate (default 0.5)",
       [](options& o, std::string_view v) { return set_fraction(o.slow_read_fraction, v); }},
      {"chaos-client-reconnect", "N",
       "N verified clients drop their connection at seeded points mid-stream and resume with <user>|<last>[|<epoch>]: "
       "they must get resumed|<epoch>|<last>|complete, then exactly the notifications after <last>",
       integer(&options::chaos_client_reconnect, 0, 1'000'000)},
      {"chaos-client-reconnect-times", "K", "how many times each of them drops its connection (default 1)",
       integer(&options::chaos_client_reconnect_times, 1, 10'000)},
      {"ws-clients", "N",
       "N of the verified connections are WebSocket clients (GET /users/<id> on the ws port), checked exactly as the "
       "others; their latency is reported apart",
       integer(&options::ws_clients, 0, 1'000'000)},
      {"wsListenerPort", "PORT", "the daemon's WebSocket port (default 9098)",
       integer(&options::ws_listener_port, 1, port_max)},
      {"ws-port", "PORT", "the same as wsListenerPort", integer(&options::ws_listener_port, 1, port_max)},
      {"clientPorts", "PORT,...",
       "several daemons serving one stream (a cluster's edges): the TCP clients are spread over these ports, and a "
       "client whose connection breaks resumes on the next one (instead of clientListenerPort)",
       port_list(&options::client_ports)},
      {"wsPorts", "PORT,...", "the same for the WebSocket clients (instead of wsListenerPort)",
       port_list(&options::ws_ports)},
      {"shard", "K/N",
       "connect only the K-th of N shares of the connected users (every N-th of the seeded choice, from the K-th; "
       "K from 0): N processes with the same stream options hold more connections than one may open",
       set_shard},
      {"observe", "",
       "send no events: another process with the same stream options (seed, totalEvents, numberOfUsers, "
       "concurrencyLevel, avgFollows, mix, chaos-garbage) sends them; verify this process's connections against "
       "the stream generated here (latency is not measured)",
       boolean(&options::observe)},
      {"tls", "",
       "every client connection (TCP and WebSocket) over TLS, the server's certificate checked against --tls-ca and "
       "the host; the event source stays plain TCP",
       boolean(&options::tls)},
      {"tls-ca", "FILE", "with tls: the CA certificates (PEM) the daemon's certificate must chain to",
       text(&options::tls_ca_file)},
      {"tls-cert", "FILE", "with tls: a client certificate chain (PEM), with --tls-key", text(&options::tls_cert_file)},
      {"tls-key", "FILE", "with tls: the client certificate's private key (PEM)", text(&options::tls_key_file)},
      {"tls-server-name", "NAME",
       "with tls: the name the daemon's certificate must hold, also sent as SNI (default: host, checked as an IP "
       "address)",
       text(&options::tls_server_name)},
      {"jwt-secret-file", "FILE",
       "sign an HS256 token for every client (sub = its user id) with the secret the daemon's jwtKeyFile holds (jwtAlgorithm HS256) "
       "(one trailing line end dropped; at least 32 bytes)",
       text(&options::jwt_secret_file)},
      {"jwt-ttl", "S",
       "with jwt-secret-file: tokens expire this long after signing (default 3600); clients send a fresh one at 2/3 "
       "of it",
       integer(&options::jwt_ttl_s, 1, 315'360'000)},
      {"jwt-audience", "AUD", "with jwt-secret-file: the aud claim (the daemon's jwtAudience)",
       text(&options::jwt_audience)},
      {"jwt-issuer", "ISS", "with jwt-secret-file: the iss claim (the daemon's jwtIssuer)", text(&options::jwt_issuer)},
      {"chaos-bad-tokens", "N",
       "with jwt-secret-file: N connections whose token is forged, expired, another user's, garbage, missing or "
       "unsigned; each must be closed without a notification",
       integer(&options::chaos_bad_tokens, 0, 100'000)},
      {"survive-restarts", "",
       "the daemon may be killed and restarted on its data directory at any moment: the source resends from the "
       "durable position the new connection reports, clients resume; the check stays exact",
       boolean(&options::survive_restarts)},
      {"restart-timeout", "MS", "with survive-restarts: how long a broken connection keeps reconnecting (default 30000)",
       integer(&options::restart_timeout_ms, 1, 3'600'000)},
      {"restart-buffer", "BYTES",
       "with survive-restarts: at most this many bytes sent and not yet reported durable are kept for resending; "
       "past it the source waits for the daemon (default 268435456)",
       integer(&options::restart_buffer, 65'536)},
  };
  return table;
}

const option_spec* find_spec(std::string_view name) {
  for (const auto& spec : specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool is_identifier(std::string_view name) {
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Reads eventListenerPort, clientListenerPort, wsListenerPort and clientWriteTimeoutMs from the
// daemon's config file. A key it leaves out keeps the harness's default, which is the daemon's.
std::string apply_daemon_config(options& o, bool event_port_flag, bool client_port_flag, bool ws_port_flag,
                                bool stuck_timeout_flag) {
  std::ifstream in(o.daemon_config, std::ios::binary);
  if (!in) return "daemonConfig: cannot open " + o.daemon_config;
  std::ostringstream text;
  text << in.rdbuf();
  const auto document = nlohmann::json::parse(text.str(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) return "daemonConfig: " + o.daemon_config + " is not a JSON object";
  const auto port = [&](const char* key, std::uint16_t& field, bool flag_wins) -> std::string {
    if (flag_wins || !document.contains(key)) return {};
    const auto& value = document[key];
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() == 0 || value.get<std::uint64_t>() > 65535) {
      return "daemonConfig: " + std::string(key) + " is not a port the harness can connect to";
    }
    field = static_cast<std::uint16_t>(value.get<std::uint64_t>());
    return {};
  };
  if (auto error = port("eventListenerPort", o.event_listener_port, event_port_flag); !error.empty()) return error;
  if (auto error = port("clientListenerPort", o.client_listener_port, client_port_flag); !error.empty()) return error;
  // wsListenerPort 0 is the daemon's "no WebSocket listener" (config/config.json ships it): only
  // a run with WebSocket clients needs the port.
  if (!ws_port_flag && document.contains("wsListenerPort") && document["wsListenerPort"].is_number_unsigned() &&
      document["wsListenerPort"].get<std::uint64_t>() == 0) {
    if (o.ws_clients > 0) {
      return "daemonConfig: wsListenerPort is 0 (no WebSocket listener), and --ws-clients asks for " +
             std::to_string(o.ws_clients) + " WebSocket clients";
    }
  } else if (auto error = port("wsListenerPort", o.ws_listener_port, ws_port_flag); !error.empty()) {
    return error;
  }
  if (!stuck_timeout_flag && document.contains("clientWriteTimeoutMs")) {
    const auto& value = document["clientWriteTimeoutMs"];
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 3'600'000) {
      return "daemonConfig: clientWriteTimeoutMs is not a number of milliseconds from 0 to 3600000";
    }
    o.chaos_stuck_timeout_ms = static_cast<std::uint32_t>(value.get<std::uint64_t>());
  }
  return {};
}

// A stuck reader's user id and its traffic are the source's: with shards they would be connected
// once per process. An observer sends nothing, so the source-side modes have nothing to act on.
std::string check_shards(const options& o) {
  if (o.shard_count > o.concurrency_level) {
    return "shard: " + std::to_string(o.shard_count) + " shares of concurrencyLevel " +
           std::to_string(o.concurrency_level) + " would leave some empty";
  }
  if (o.shard_count > 1 && o.chaos_stuck_readers > 0) return "chaos-stuck-readers cannot be sharded";
  if (!o.observe) return {};
  if (o.chaos_stuck_readers > 0) return "observe: chaos-stuck-readers needs the source";
  if (o.chaos_reconnect > 0) return "observe: chaos-reconnect is the source's";
  if (o.survive_restarts) return "observe: survive-restarts needs the source's durable positions";
  if (o.max_rate > 0) return "observe: maxRate paces the source";
  return {};
}

std::string check_tls(const options& o) {
  if (!o.tls) {
    const std::pair<std::string_view, const std::string*> files[] = {{"tls-ca", &o.tls_ca_file},
                                                                     {"tls-cert", &o.tls_cert_file},
                                                                     {"tls-key", &o.tls_key_file},
                                                                     {"tls-server-name", &o.tls_server_name}};
    for (const auto& [name, value] : files) {
      if (!value->empty()) return std::string(name) + " needs --tls";
    }
    return {};
  }
  if (o.tls_ca_file.empty()) return "tls needs --tls-ca: the daemon's certificate is always checked";
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) return "tls-cert and tls-key go together";
  return {};
}

std::string check_jwt(options& o, bool ttl_set) {
  if (o.jwt_secret_file.empty()) {
    if (ttl_set) return "jwt-ttl needs --jwt-secret-file";
    if (!o.jwt_audience.empty()) return "jwt-audience needs --jwt-secret-file";
    if (!o.jwt_issuer.empty()) return "jwt-issuer needs --jwt-secret-file";
    if (o.chaos_bad_tokens > 0) return "chaos-bad-tokens needs --jwt-secret-file";
    return {};
  }
  std::string error;
  o.jwt_secret = read_jwt_secret(o.jwt_secret_file, error);
  return error.empty() ? std::string{} : "jwt-secret-file: " + error;
}

}  // namespace

parse_outcome parse_options(const env_lookup& env, std::span<const std::string_view> args) {
  parse_outcome outcome;
  options& o = outcome.opts;
  bool users_set = false;
  bool event_port_flag = false;
  bool client_port_flag = false;
  bool ws_port_flag = false;
  bool stuck_timeout_flag = false;
  bool jwt_ttl_set = false;

  const auto apply = [&](const option_spec& spec, std::string_view value, std::string_view origin) {
    auto error = spec.apply(o, value);
    if (!error.empty()) {
      outcome.error = std::string(origin) + " " + std::string(spec.name) + " " + error;
      return false;
    }
    if (spec.name == "numberOfUsers") users_set = true;
    if (spec.name == "jwt-ttl") jwt_ttl_set = true;
    return true;
  };

  for (const auto& spec : specs()) {
    if (!is_identifier(spec.name)) continue;
    const std::string name(spec.name);
    if (const char* value = env(name.c_str()); value != nullptr && *value != '\0') {
      if (!apply(spec, value, "environment variable")) return outcome;
    }
  }

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      outcome.error = "unexpected argument \"" + std::string(arg) + "\" (see --help)";
      return outcome;
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::string_view value;
    const auto eq = arg.find('=');
    if (eq != std::string_view::npos) name = arg.substr(0, eq);
    const option_spec* spec = find_spec(name);
    if (spec == nullptr) {
      outcome.error = "unknown flag --" + std::string(name) + " (see --help)";
      return outcome;
    }
    if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (spec->value_hint.empty()) {
      value = "true";  // a switch never takes the next argument as its value
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      outcome.error = "flag --" + std::string(name) + " needs a value";
      return outcome;
    }
    if (!apply(*spec, value, "flag")) return outcome;
    if (spec->name == "eventListenerPort") event_port_flag = true;
    if (spec->name == "clientListenerPort") client_port_flag = true;
    if (spec->name == "wsListenerPort" || spec->name == "ws-port") ws_port_flag = true;
    if (spec->name == "chaos-stuck-timeout") stuck_timeout_flag = true;
  }

  if (!users_set) {
    const std::uint64_t users = std::max<std::uint64_t>(2, static_cast<std::uint64_t>(o.concurrency_level) * 10);
    if (users > 100'000'000) {
      outcome.error = "concurrencyLevel too large for the default numberOfUsers (concurrencyLevel*10)";
      return outcome;
    }
    o.number_of_users = static_cast<std::uint32_t>(users);
  }
  if (o.number_of_users < o.concurrency_level) {
    outcome.error = "numberOfUsers (" + std::to_string(o.number_of_users) + ") is below concurrencyLevel (" +
                    std::to_string(o.concurrency_level) + ")";
    return outcome;
  }
  if (o.chaos_duplicate_connections > o.concurrency_level) {
    outcome.error = "chaos-duplicate-connections (" + std::to_string(o.chaos_duplicate_connections) +
                    ") exceeds concurrencyLevel (" + std::to_string(o.concurrency_level) + ")";
    return outcome;
  }
  if (const std::uint64_t verified = static_cast<std::uint64_t>(o.concurrency_level) + o.chaos_duplicate_connections;
      static_cast<std::uint64_t>(o.chaos_slow_readers) + o.chaos_client_reconnect > verified) {
    outcome.error = "chaos-slow-readers + chaos-client-reconnect (" +
                    std::to_string(static_cast<std::uint64_t>(o.chaos_slow_readers) + o.chaos_client_reconnect) +
                    ") exceeds the verified connections (" + std::to_string(verified) + ")";
    return outcome;
  }
  if (static_cast<std::uint64_t>(o.number_of_users) + o.chaos_stuck_readers > std::numeric_limits<user_id>::max() - 1) {
    outcome.error = "numberOfUsers + chaos-stuck-readers overflows a user id";
    return outcome;
  }
  if (const std::uint64_t verified = static_cast<std::uint64_t>(o.concurrency_level) + o.chaos_duplicate_connections;
      o.ws_clients > verified) {
    outcome.error = "ws-clients (" + std::to_string(o.ws_clients) + ") exceeds the verified connections (" +
                    std::to_string(verified) + ")";
    return outcome;
  }
  if (auto error = check_shards(o); !error.empty()) {
    outcome.error = std::move(error);
    return outcome;
  }
  if (auto error = check_tls(o); !error.empty()) {
    outcome.error = std::move(error);
    return outcome;
  }
  if (auto error = check_jwt(o, jwt_ttl_set); !error.empty()) {
    outcome.error = std::move(error);
    return outcome;
  }
  if (!o.daemon_config.empty()) {
    if (auto error = apply_daemon_config(o, event_port_flag, client_port_flag, ws_port_flag, stuck_timeout_flag);
        !error.empty()) {
      outcome.error = std::move(error);
      return outcome;
    }
  }
  return outcome;
}

std::uint64_t stuck_bytes_per_reader(const options& o) noexcept {
  if (o.chaos_stuck_bytes) return *o.chaos_stuck_bytes;
  constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
  if (o.chaos_queue_bound > most / 2 || o.chaos_kernel_slack > most / 2) return most;
  const std::uint64_t let_through = o.chaos_queue_bound + o.chaos_kernel_slack;
  return let_through > most / 3 * 2 ? most : let_through + let_through / 2;
}

std::uint64_t stuck_reader_slack_ns(std::uint64_t load_ns) noexcept {
  constexpr std::uint64_t timer_and_scheduler_ns = 2'000'000'000;
  return timer_and_scheduler_ns + std::min<std::uint64_t>(load_ns, std::numeric_limits<std::uint64_t>::max() / 4);
}

std::uint64_t stuck_reader_deadline_ns(const options& o, std::uint64_t last_sent_ns, std::uint64_t load_ns) noexcept {
  if (o.chaos_stuck_timeout_ms == 0) return 0;
  return last_sent_ns + std::uint64_t{o.chaos_stuck_timeout_ms} * 1'000'000 + stuck_reader_slack_ns(load_ns);
}

std::string usage_text() {
  std::ostringstream text;
  text << "followermaze: load generator and verifier for the eventserver follower-maze daemon\n\n"
          "usage: followermaze [--name=value | --name value]...\n\n"
          "Clients connect and register first, then the event source streams totalEvents events\n"
          "in shuffled batches; every notification each client receives is checked, exactly and\n"
          "in order, against the harness's own model of the protocol. Exit 0 and the banner\n"
          "ALL NOTIFICATIONS RECEIVED on success; exit 1 naming the client, the expected and\n"
          "the received line on any mismatch, missing or extra line, or timeout; exit 2 on a\n"
          "usage or set-up error.\n\n"
          "Every option below without a dash in its name is also read from the environment\n"
          "variable of the same name; a flag overrides its variable.\n\n";
  for (const auto& spec : specs()) {
    std::string left = "  --" + std::string(spec.name);
    if (!spec.value_hint.empty()) {
      left += '=';  // appended, not `"=" + ...`: g++ 12 warns falsely (-Wrestrict) on that
      left += spec.value_hint;
    }
    if (left.size() < 34) left.resize(34, ' ');
    text << left << " " << spec.help << "\n";
  }
  text << "  --help                           this text\n\n"
          "Output: progress every logInterval; a final report with wall seconds, events/s,\n"
          "notifications/s, latency p50/p99/max (batch written -> line received), the daemon's\n"
          "CPU seconds and peak RSS (with --daemonPid), and one machine-readable line:\n"
          "  RESULT events=.. notifications=.. wall_s=.. events_per_s=.. notif_per_s=.. p50_us=..\n"
          "         p99_us=.. max_us=.. daemon_cpu_s=.. daemon_peak_rss_kb=..\n"
          "p50/p99/max leave out the slow readers, the chaos-reconnect clients and the WebSocket\n"
          "clients; keys for the modes that add them follow: slow_readers= slow_p50_us=\n"
          "slow_p99_us= slow_max_us= slow_finish_s= (chaos-slow-readers), client_resumes=\n"
          "(chaos-client-reconnect, survive-restarts), source_recoveries= resent_bytes=\n"
          "(survive-restarts), ws_clients= ws_p50_us= ws_p99_us= ws_max_us= (ws-clients: the\n"
          "steady WebSocket clients' latency). With --observe p50_us, p99_us and max_us are na.\n";
  return text.str();
}

}  // namespace followermaze
