#pragma once
// What the admin endpoints say, rendered from plain snapshots: no sockets, so the exact text
// of /metrics and /connz is unit-tested.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "eventserver/core/counters.hpp"
#include "eventserver/net/transport_counters.hpp"
#include "eventserver/core/event.hpp"
#include "eventserver/net/connection_info.hpp"
#include "eventserver/storage/event_log.hpp"

namespace eventserver {

// The event log, as the status page and /metrics show it.
struct log_status {
  bool enabled = false;  // a dataDir is configured
  bool recovering = false;
  std::string failing;  // the write error while writing fails; empty when it works
  std::uint64_t bytes = 0;
  std::uint64_t segments = 0;
  sequence_number durable_seq = 0;  // every number up to it applied and in the log
  std::uint64_t epoch = 1;
  std::uint64_t batches_waiting = 0;  // handed to the disk, not yet back
  std::uint64_t batches_written = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t segments_deleted = 0;  // by retention
  std::uint64_t fsyncs = 0;
  double fsync_seconds_sum = 0;
  std::vector<std::pair<double, std::uint64_t>> fsync_buckets;  // (le seconds, cumulative count)
  std::uint64_t snapshots_written = 0;
  std::uint64_t snapshot_failures = 0;
  std::uint64_t snapshots = 0;             // kept on disk (each a base for resumes)
  std::uint64_t snapshots_set_aside = 0;   // at start-up: past the end of the log, renamed .damaged
  std::uint64_t damaged_ranges = 0;        // damage in the kept log, read past at start-up
  std::uint64_t damaged_numbers = 0;       // sequence numbers those ranges lost
  std::optional<sequence_number> resumable_from;  // where history for a resume begins (current epoch)
  double last_snapshot_seconds = 0;        // how long writing the last one took        // how long writing the last one took
  double last_snapshot_pause_seconds = 0;  // the longest the event loop spent on it at once
  double snapshot_age_seconds = -1;        // since the newest snapshot; -1: none
  double recovery_seconds = 0;
  std::uint64_t history_bytes = 0;  // without a dataDir: the stream kept in memory for catch-up
  std::optional<storage::publish_status> publishing;  // an ingest: publishing to the JetStream stream
};

// An edge (cluster role edge): how it follows the stream, as /metrics, /connz and the status
// page show it.
struct edge_status {
  bool enabled = false;
  std::string stream;     // the JetStream stream's name
  bool unreachable = false;  // the cluster cannot be read now (retried)
  bool stopped = false;      // the stream did not continue the local log: nothing more is read
  std::string problem;       // why unreachable or stopped
  bool lag_known = false;    // measured at least once
  std::uint64_t stream_last_seq = 0;   // the stream's last message (JetStream's numbering)
  std::uint64_t taken_stream_seq = 0;  // the last message applied here
  std::uint64_t events_behind = 0;     // events the stream holds past what is applied here
  double seconds_behind = 0;           // age of the oldest message not applied here (0: caught up)
  std::uint64_t batches = 0;            // batches taken from the stream
  std::uint64_t unreachable_total = 0;  // times the cluster became unreachable
};

// A warning or error the daemon logged recently (newest last).
struct recent_warning {
  std::int64_t time_ms = 0;  // Unix epoch milliseconds
  std::string level;
  std::string message;
};

struct server_snapshot {
  counters stats;
  transport_counters transport;  // TLS, tokens, WebSocket
  sequence_number next_expected = 1;
  sequence_number head = 0;  // highest sequence number accepted
  std::size_t pending_events = 0;
  std::size_t max_pending_events = 0;
  std::optional<std::chrono::milliseconds> oldest_gap_age;  // set while a gap holds events back
  std::size_t connected_users = 0;
  std::size_t client_connections = 0;  // registered or handshaking
  std::size_t event_sources = 0;
  std::size_t follow_edges = 0;
  std::size_t queued_bytes = 0;  // all client queues together
  double uptime_seconds = 0;
  // Client handshakes refused for their token, by reason (clientAuth jwt); empty under none.
  std::vector<std::pair<std::string_view, std::uint64_t>> auth_refusals;
  std::size_t ws_connections = 0;              // of client_connections, those over WebSocket
  std::size_t clients_catching_up = 0;
  std::uint64_t spill_bytes = 0;         // held in spill files now (clientSpillBytes)
  std::uint64_t spill_budget_bytes = 0;  // clientSpillBytes (0: spilling is off)
  std::size_t resumes_waiting = 0;             // resumes waiting for a position not applied yet (an edge)
  std::uint64_t catch_up_lag_max = 0;          // events the client furthest behind has yet to read
  std::vector<connection_info> most_behind;    // registered connections, most behind first (at most 10)
  std::vector<recent_warning> recent_warnings;  // the last few, oldest first
  log_status log;
  edge_status edge;
  std::uint64_t log_lines_dropped = 0;  // log lines the log output could not take in time
  bool ready = false;              // /readyz would answer 200
  std::uint64_t open_fds = 0;      // descriptors open, and the soft limit (0: unknown)
  std::uint64_t max_fds = 0;
  // Admin requests refused for a missing or wrong bearer token. Filled in by the admin layer
  // (admin_hub::admin_unauthorized), not by server::snapshot().
  std::uint64_t admin_unauthorized = 0;
  // Admin connections closed before an authorized request: past the first-request deadline
  // (filled in by the admin layer), to make way for a newcomer at the limit, and newcomers
  // refused at the limit because every connection had authenticated (both the server's).
  std::uint64_t admin_first_request_timeouts = 0;
  std::uint64_t admin_made_way = 0;
  std::uint64_t admin_refused_limit = 0;
};

// Prometheus text exposition format, version 0.0.4.
std::string render_metrics(const server_snapshot& snapshot);


// An edge's state and lag as /connz and the status page's /events both give it:
// {"stream", "state", "problem", "lag_known", "lag_events", "lag_seconds", "stream_last_seq",
// "applied_stream_seq"}.
nlohmann::ordered_json edge_json(const edge_status& edge);

// {"connections":[...], "count":..., "offset":..., "processed_head":..., "total":N}: a whole page
// at once (render_connz), or in pieces (the connections one by one, then the tail) for an
// answer built in slices (admin_hub::connz_slice). An edge adds "edge": edge_json(...) after
// "count"; a standalone daemon or an ingest (`edge` null) has no such field.
std::string render_connz(const std::vector<connection_info>& page, std::size_t total, std::size_t offset,
                         sequence_number processed_head, const edge_status* edge = nullptr);
void render_connz_connection(std::string& out, const connection_info& connection, bool first);
void render_connz_tail(std::string& out, std::size_t count, std::size_t total, std::size_t offset,
                       sequence_number processed_head, const edge_status* edge = nullptr);

}  // namespace eventserver

namespace eventserver {

// The query of a /connz request: `offset`, `limit` (default 1000, at most 100000) and `user`.
struct connz_query {
  std::size_t offset = 0;
  std::size_t limit = 1000;
  std::optional<user_id> user;
};

// nullopt (a 400 for the caller) on an unknown parameter or a value that is not a number.
std::optional<connz_query> parse_connz_query(std::string_view query);

// A /connz answer under construction. The event thread builds it a slice at a time
// (admin_hub::connz_slice), oldest connection first, so that one request, however many
// connections it lists, never holds the thread for more than a slice. Connections that come
// or go meanwhile are listed or not, as on a page of a listing that changes.
struct connz_build {
  connz_query query;
  std::uint64_t after = 0;  // the acceptance serial of the last connection looked at (0: none yet)
  std::size_t passed = 0;   // matching connections looked at: skipped by the offset, or listed
  std::size_t listed = 0;
  std::string body;         // the JSON so far
};

}  // namespace eventserver
