#pragma once
// The harness's settings. Same environment variables and defaults as the original follower-maze
// test program; a command-line flag of the same name overrides its variable
// (`--totalEvents=1000` or `--totalEvents 1000`); the harness's own additions are flags, a few
// also read from the environment. Precedence: default < environment < flag.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "followermaze/event_generator.hpp"

namespace followermaze {

struct options {
  // The original follower-maze variables.
  std::string log_level = "info";
  std::uint16_t event_listener_port = 9090;
  std::uint16_t client_listener_port = 9099;
  std::uint64_t total_events = 10'000'000;
  std::uint32_t concurrency_level = 100;
  std::uint32_t number_of_users = 1000;  // concurrency_level * 10 unless set
  std::uint64_t random_seed = 666;
  std::uint32_t timeout_ms = 20'000;
  std::uint32_t max_event_source_batch_size = 100;
  std::uint32_t log_interval_ms = 1000;

  // The harness's own.
  std::string host = "127.0.0.1";
  std::optional<int> daemon_pid;
  std::string daemon_config;  // read the ports and clientWriteTimeoutMs from the daemon's JSON config
  std::string mix_name = "default";
  event_mix mix = named_mixes[0].mix;
  std::uint32_t avg_follows = 10;
  std::optional<std::uint32_t> settle_ms;  // unset: 200 ms + 50 us per connection
  std::uint32_t quiet_ms = 300;
  std::uint32_t connect_timeout_ms = 5000;
  std::uint64_t max_rate = 0;  // events per second; 0: as fast as the daemon reads
  std::uint64_t max_in_flight = 1'000'000;  // notifications published and not yet verified

  // Chaos modes, all off by default.
  std::uint32_t chaos_stuck_readers = 0;
  std::optional<std::uint64_t> chaos_stuck_bytes;  // traffic each stuck reader is sent; see stuck_bytes_per_reader
  std::uint64_t chaos_queue_bound = 256 * 1024;    // the daemon's maxClientQueueBytes
  std::uint64_t chaos_kernel_slack = 1ULL << 20;   // what kernel buffers may hold for a stuck reader besides
  // The daemon's clientWriteTimeoutMs: nonzero, every stuck reader must be disconnected within it
  // (plus stuck_reader_slack_ns) of the last private message sent to it; 0, the queue-bound rule.
  // --chaos-stuck-timeout, else --daemonConfig's clientWriteTimeoutMs, else the daemon's default.
  std::uint32_t chaos_stuck_timeout_ms = 30'000;
  std::uint32_t chaos_bad_clients = 0;
  std::uint32_t chaos_handshake_timeout_ms = 5000;  // the daemon's clientHandshakeTimeoutMs; 0: don't wait for it
  std::uint32_t chaos_duplicate_connections = 0;
  double chaos_garbage = 0.0;
  std::uint32_t chaos_reconnect = 0;
  std::uint32_t chaos_slow_readers = 0;
  double slow_read_fraction = 0.5;  // of the rate each slow reader is sent notifications at
  std::uint32_t chaos_client_reconnect = 0;
  std::uint32_t chaos_client_reconnect_times = 1;

  // WebSocket clients (docs/protocol.md, "WebSocket"): that many of the verified connections.
  std::uint32_t ws_clients = 0;
  std::uint16_t ws_listener_port = 9098;

  // Several daemons serving one stream (a cluster's edges): the clients are spread over these
  // ports, and a client whose connection breaks resumes on the next one. Empty: the one port.
  std::vector<std::uint16_t> client_ports;
  std::vector<std::uint16_t> ws_ports;

  // Several harness processes verifying one stream, to hold more connections than one process
  // may open (bench/cluster/clients.sh): this one connects every shard_count-th user of the
  // seeded choice of concurrency_level, from the shard_index-th. With observe it sends nothing:
  // another process (the same stream options) sends the stream, and this one generates the same
  // stream, in step with its own clients, to know what each of them must receive.
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
  bool observe = false;

  // TLS on every client connection (TCP and WebSocket); the event source stays plain TCP.
  bool tls = false;
  std::string tls_ca_file;
  std::string tls_cert_file;  // a client certificate, with tls_key_file
  std::string tls_key_file;
  std::string tls_server_name;  // checked against the certificate; empty: `host`, as an IP address

  // Client tokens (clientAuth "jwt"): signed with the secret the daemon reads from its jwtKeyFile (jwtAlgorithm HS256).
  std::string jwt_secret_file;
  std::string jwt_secret;  // the file's bytes less one trailing line end, read while parsing
  std::uint32_t jwt_ttl_s = 3600;
  std::string jwt_audience;
  std::string jwt_issuer;
  std::uint32_t chaos_bad_tokens = 0;

  // Surviving a daemon restart (kill -9 and start on the same data directory).
  bool survive_restarts = false;
  std::uint32_t restart_timeout_ms = 30'000;      // how long a broken connection keeps retrying
  std::uint64_t restart_buffer = 256ULL << 20;    // bytes sent and not yet reported durable, at most

  bool help = false;
};

struct parse_outcome {
  options opts;
  std::string error;  // empty on success
};

// Looks an environment variable up; nullptr when unset. Injected so tests need no real env.
using env_lookup = std::function<const char*(const char*)>;

// args excludes argv[0].
parse_outcome parse_options(const env_lookup& env, std::span<const std::string_view> args);

std::string usage_text();

// The private-message traffic each stuck reader is sent: --chaos-stuck-bytes, or by default
// half as much again as a daemon that honours its queue bound can let through before cutting
// the reader off (queue bound + kernel slack), so the cut-off is proven with room to spare.
std::uint64_t stuck_bytes_per_reader(const options& o) noexcept;

// --chaos-stuck-timeout: how long after the last private message to a stuck reader was written
// (its batch accepted by the kernel) the daemon may take to disconnect it: its write timeout,
// plus 2 s for its timer and the scheduler, plus `load_ns`, how far behind the source the daemon
// was seen to run (the verified clients' worst latency: the daemon may have handled that message
// that much later). 0 when the timeout is 0 (the queue-bound rule applies instead).
std::uint64_t stuck_reader_slack_ns(std::uint64_t load_ns) noexcept;
std::uint64_t stuck_reader_deadline_ns(const options& o, std::uint64_t last_sent_ns, std::uint64_t load_ns) noexcept;

}  // namespace followermaze
