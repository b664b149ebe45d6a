#pragma once
// The daemon's configuration: one JSON object, every key optional. An unknown key, a value of
// the wrong type or out of range stops start-up with a config_error naming the key.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/core/stream_settings.hpp"

namespace eventserver {

// The string policies of the config file, each parsed once into an enum (as spdlog does with
// async_overflow_policy); their names are read back for /status and the error lines.
namespace storage {
enum class fsync_policy : std::uint8_t;  // logFsync: storage/file_log.hpp
}
enum class token_algorithm : std::uint8_t;  // jwtAlgorithm: auth/token.hpp

// clientAuth.
enum class client_auth_mode : std::uint8_t {
  none,  // the classic handshake
  jwt,   // every client presents a token whose sub is its user
};
// logFormat.
enum class diagnostics_format_kind : std::uint8_t {
  text,
  json,  // one JSON object per line
};

// cluster.role (docs/cluster.md).
enum class cluster_role_kind : std::uint8_t {
  standalone,  // one daemon: sources, log and clients in one process
  ingest,      // sequences the sources and publishes the stream to JetStream; no clients
  edge,        // follows the stream from JetStream into its own log and serves clients; no sources
};

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct config {
  // The documented defaults: every key's default, like its range, is in one table (config.cpp,
  // the rows that config_key_table() lists), and this constructor applies it.
  config();

  // Ports 0 mean "any free port" (tests use that); the daemon logs the one it got.
  std::string event_listener_address;  // the event source is a trusted producer
  std::uint16_t event_listener_port{};
  std::string client_listener_address;
  std::uint16_t client_listener_port{};
  std::string diagnostics_level;
  std::size_t max_line_bytes{};
  std::size_t max_pending_events{};
  std::uint64_t max_sequence_jump{};  // 0: no limit; at least max_pending_events
  std::chrono::milliseconds gap_timeout{};
  std::size_t max_client_queue_bytes{};
  // While the event source keeps the daemon busy, a client's notifications are written once
  // this many bytes are queued, or else together with everyone's once client_write_delay (or
  // the length of the last round of writes, if longer; 0 turns holding back off) has passed.
  // As soon as the source has nothing more to read, everything queued is written.
  std::size_t client_write_batch_bytes{};
  std::chrono::milliseconds client_write_delay{};
  std::chrono::milliseconds client_handshake_timeout{};
  std::size_t max_clients{};
  std::size_t max_event_sources{};
  std::chrono::milliseconds shutdown_timeout{};

  // WebSocket client listener (docs/protocol.md, "WebSocket"). Off by default: in JSON, port 0
  // disables it (9098 is its conventional port). Open to any address when on, like the client
  // port: browsers reach it from anywhere.
  bool ws_enabled{};
  std::string ws_listener_address;
  std::uint16_t ws_listener_port{};
  std::chrono::milliseconds ws_ping_interval{};  // 0: no pings
  std::chrono::milliseconds ws_pong_timeout{};  // no pong within this after a ping: closed (4001)
  // Origins ("https://example.com") whose pages may open a WebSocket; empty: any.
  std::vector<std::string> ws_allowed_origins;

  // TLS (docs/security.md): on the client port (clientTls) and the WebSocket port (wsTls),
  // with one certificate and key; a client CA makes every client show a certificate. The
  // files are re-read on SIGHUP.
  bool client_tls{};
  bool ws_tls{};
  std::string tls_cert_file;  // PEM: the certificate, then any intermediates
  std::string tls_key_file;  // PEM, unencrypted
  std::string tls_client_ca_file;  // "": clients are not asked for a certificate
  std::string tls_min_version;

  // Client authentication: "none" (the classic handshake) or "jwt" (every client presents a
  // token whose sub is its user; docs/protocol.md, "Authentication").
  client_auth_mode client_auth{};
  token_algorithm jwt_algorithm{};  // HS256, RS256 or ES256
  std::string jwt_key_file;  // HS256: the secret; RS256/ES256: the PEM public key
  std::string jwt_audience;  // "": aud is not checked
  std::string jwt_issuer;  // "": iss is not checked

  // The admin port's bearer token, from this file. Required when the admin listener is bound
  // to anything but loopback (the daemon refuses to start without it: protected mode).
  std::string admin_token_file;

  // Admin HTTP listener (/metrics, /healthz, /readyz, /connz). In JSON, port 0 disables it.
  bool admin_enabled{};
  std::string admin_listener_address;
  std::uint16_t admin_listener_port{};
  // /readyz fails once a gap has held events back for longer than this.
  std::chrono::milliseconds ready_max_gap_age{};

  diagnostics_format_kind diagnostics_format{};
  std::string diagnostics_file;  // empty: standard output; reopened on SIGHUP

  // The event log (storage/). Empty dataDir: no log, nothing survives a restart.
  std::string data_dir;
  storage::fsync_policy log_fsync{};  // always (group commit), interval (logFsyncIntervalMs), never
  std::chrono::milliseconds log_fsync_interval{};
  std::uint64_t log_segment_bytes{};
  std::uint64_t log_retention_bytes{};  // 0: no size limit
  std::chrono::milliseconds log_retention{};  // 0: no age limit
  std::uint64_t snapshot_every_events{};  // 0: only at shutdown
  new_stream_mode new_stream_policy{};  // "restart" or "continue"

  // Catch-up and resume. Without a dataDir, the most recent historyBytes of the stream are
  // kept in memory for them (0: none; a client over its queue bound is then cut off).
  std::uint64_t history_bytes{};
  // With a dataDir: a client over its queue bound keeps its own notifications in a file of
  // its own, read back as it drains, rather than reading the whole log again; this many bytes
  // for all clients together (0: off; past it, clients read the log as before). No effect
  // without a dataDir.
  std::uint64_t client_spill_bytes{};
  // A client whose socket takes nothing for this long while bytes wait for it is disconnected
  // (0: never).
  std::chrono::milliseconds client_write_timeout{};
  // SO_SNDBUF of every client socket: the kernel's share of what one client may cost (it
  // charges up to twice this). 0 leaves the kernel's autotuning, which grows a stuck
  // client's buffer to tcp_wmem's maximum (4 MiB on Debian). docs/configuration.md sizes it.
  std::size_t client_send_buffer_bytes{};

  // Scale-out on NATS JetStream (docs/cluster.md): the "cluster" section. Standalone unless its
  // role says otherwise; the other cluster keys matter only then.
  cluster_role_kind cluster_role{};
  std::string cluster_servers;  // comma-separated NATS URLs (the section's array, joined)
  std::string cluster_stream;   // the JetStream stream's name
  std::string cluster_subject;  // the one subject its batches are published on
  std::size_t cluster_replicas{};  // the stream's replicas when the ingest creates it; checked otherwise
  std::string cluster_creds_file;  // a NATS credentials file; "": none
  // How long JetStream remembers a batch's Msg-Id: at least as long as a publish is retried.
  std::chrono::milliseconds cluster_duplicates_window{};
  std::chrono::milliseconds cluster_request_timeout{};  // one NATS request (publish, get)
  // Edge: a client resuming past what this edge has applied waits this long for it.
  std::chrono::milliseconds cluster_resume_wait{};

  // What the core reads of it.
  stream_settings stream() const {
    stream_settings s;
    s.max_pending_events = max_pending_events;
    s.gap_timeout = gap_timeout;
    s.max_sequence_jump = max_sequence_jump;
    s.new_stream = new_stream_policy;
    return s;
  }

  // Whether clients past their queue bound spill: a budget, a dataDir to hold the files, and
  // clients to serve (an ingest has none).
  bool spills() const noexcept {
    return client_spill_bytes != 0 && !data_dir.empty() && cluster_role != cluster_role_kind::ingest;
  }
};

// Every key a config file may hold, in the reader's order. A key of a section is named with its
// path: "cluster.role" is "role" inside the object "cluster".
std::vector<std::string_view> config_keys();

// One row of the key table: what the README, docs/configuration.md, config/config.json and the
// tests are checked against.
struct config_key_info {
  std::string_view key;
  std::string default_json;  // the default, as JSON text ("9090", "\"info\"", "[]")
  bool integer = false;  // an integer key (milliseconds included): [min, max] applies
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  std::string_view alias;  // a section's key: the flat name older configs use ("clusterRole"); "": none
};
std::vector<config_key_info> config_key_table();

// The value `settings` holds for `key` (a documented name or an alias), as JSON text: what a
// config file would say under the documented name to get it. Throws config_error for a key
// that does not exist.
std::string config_value_json(const config& settings, std::string_view key);

// Parses the JSON text of a config file; `origin` names it in error messages.
config parse_config(std::string_view json_text, std::string_view origin = "config");

// The largest config file read. A config is a few hundred bytes; the bound keeps a mistaken
// path (a log, a device) from costing memory.
inline constexpr std::size_t max_config_file_bytes = 1024 * 1024;

// Reads and parses a config file. Only a regular file of at most max_config_file_bytes is
// read: the file is opened without blocking (a FIFO nobody writes cannot hang start-up) and
// checked with fstat before a byte is read, so /dev/zero or a pipe is an error, not a hang
// or an allocation without end.
config load_config_file(const std::filesystem::path& path);
// The same bounded read, for any small file the daemon reads (keys, tokens).
std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes, std::string_view what);

}  // namespace eventserver
