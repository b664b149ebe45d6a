#include "eventserver/admin/admin_views.hpp"

#include <fmt/format.h>

#include <span>

#include <nlohmann/json.hpp>

namespace eventserver {

namespace {

class exposition {
 public:
  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    header(name, help, "counter");
    sample(name, "", value);
  }
  // Integers are printed as integers: a double would round counts past 2^53.
  void gauge(std::string_view name, std::string_view help, std::uint64_t value) {
    header(name, help, "gauge");
    sample(name, "", value);
  }
  void gauge_seconds(std::string_view name, std::string_view help, double value) {
    header(name, help, "gauge");
    sample(name, "", value);
  }
  // One metric family with a `reason` label per value.
  void reasons(std::string_view name, std::string_view help,
               std::initializer_list<std::pair<std::string_view, std::uint64_t>> values) {
    reasons(name, help, std::span(values.begin(), values.size()));
  }
  void reasons(std::string_view name, std::string_view help,
               std::span<const std::pair<std::string_view, std::uint64_t>> values) {
    header(name, help, "counter");
    for (const auto& [reason, value] : values) {
      sample(name, fmt::format("{{reason=\"{}\"}}", reason), value);
    }
  }
  // A Prometheus histogram from cumulative bucket counts (le in the unit of `sum`).
  void histogram(std::string_view name, std::string_view help, const std::vector<std::pair<double, std::uint64_t>>& buckets,
                 std::uint64_t count, double sum) {
    header(name, help, "histogram");
    for (const auto& [le, cumulative] : buckets) {
      fmt::format_to(std::back_inserter(out_), "{}_bucket{{le=\"{}\"}} {}\n", name, le, cumulative);
    }
    fmt::format_to(std::back_inserter(out_), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count, name, sum,
                   name, count);
  }
  void histogram(std::string_view name, std::string_view help, const latency_histogram& h) {
    std::vector<std::pair<double, std::uint64_t>> buckets;
    for (std::size_t i = 0; i < latency_histogram::bounds_seconds.size(); ++i) {
      buckets.emplace_back(latency_histogram::bounds_seconds[i], h.cumulative(i));
    }
    histogram(name, help, buckets, h.count(), h.sum_seconds());
  }
  std::string take() { return std::move(out_); }

 private:
  void header(std::string_view name, std::string_view help, std::string_view type) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <class Value>
  void sample(std::string_view name, std::string_view labels, Value value) {
    fmt::format_to(std::back_inserter(out_), "{}{} {}\n", name, labels, value);
  }
  std::string out_;
};

}  // namespace

std::string render_metrics(const server_snapshot& s) {
  const counters& c = s.stats;
  const transport_counters& t = s.transport;
  exposition m;
  m.counter("eventserver_event_lines_received_total", "Event lines read from event sources.", c.lines_received);
  m.counter("eventserver_events_accepted_total", "Events taken into the reorder window.", c.events_accepted);
  m.counter("eventserver_events_processed_total", "Events applied in sequence order (no-op slots included).",
            c.events_processed);
  m.reasons("eventserver_event_lines_rejected_total", "Event lines refused by an input policy.",
            {{"no_sequence", c.rejected_no_sequence},
             {"bad_body", c.rejected_bad_body},
             {"duplicate", c.rejected_duplicate},
             {"stale", c.rejected_stale},
             {"overlong", c.rejected_overlong},
             {"unterminated", c.rejected_unterminated},
             {"too_far", c.rejected_too_far}});
  m.gauge("eventserver_sequence_head", "Highest sequence number accepted.", s.head);
  m.gauge("eventserver_sequence_next_expected", "Sequence number the daemon waits for next.",
          s.next_expected);
  m.gauge("eventserver_reorder_window_events", "Events held waiting for an earlier one.",
          s.pending_events);
  m.gauge("eventserver_reorder_window_capacity", "maxPendingEvents.", s.max_pending_events);
  m.gauge_seconds("eventserver_oldest_gap_age_seconds", "How long the missing next sequence number has held events back.",
          s.oldest_gap_age ? static_cast<double>(s.oldest_gap_age->count()) / 1000.0 : 0.0);
  m.counter("eventserver_reorder_window_full_total", "Times an event source had to wait for the reorder window to move.",
            c.window_full_pauses);
  m.counter("eventserver_gaps_skipped_total", "Gaps skipped by the gap timeout.", c.gaps_skipped);
  m.counter("eventserver_sequence_numbers_skipped_total", "Sequence numbers given up by the gap timeout.",
            c.sequence_numbers_skipped);
  m.counter("eventserver_notifications_delivered_total", "Notifications queued to a client connection.",
            c.notifications_delivered);
  m.reasons("eventserver_notifications_dropped_total", "Notifications not delivered.",
            {{"offline", c.notifications_dropped_offline}, {"closing", c.notifications_dropped_closing}});
  m.gauge("eventserver_connected_users", "Users with at least one registered connection.",
          s.connected_users);
  m.gauge("eventserver_client_connections", "Client connections, handshaking ones included.",
          s.client_connections);
  m.gauge("eventserver_event_sources", "Connected event sources.", s.event_sources);
  m.gauge("eventserver_follow_edges", "Edges in the follower graph.", s.follow_edges);
  m.gauge("eventserver_client_queue_bytes", "Bytes queued for all client connections.",
          s.queued_bytes);
  m.counter("eventserver_clients_accepted_total", "Client connections accepted.", c.clients_accepted);
  m.counter("eventserver_clients_registered_total", "Client connections that sent a valid id.", c.clients_registered);
  m.reasons("eventserver_client_disconnects_total", "Client connections closed by the daemon or the peer.",
            {{"slow", c.clients_disconnected_slow},
             {"handshake_timeout", c.handshake_timeouts},
             {"handshake_bad_id", c.handshake_bad_id},
             {"handshake_overlong", c.handshake_overlong},
             {"handshake_peer_closed", c.handshake_peer_closed},
             {"limit", c.clients_rejected_limit},
             {"peer_closed", c.clients_disconnected_peer},
             {"stuck", c.clients_disconnected_stuck},
             {"out_of_history", c.clients_out_of_history},
             {"spill_failed", c.clients_disconnected_spill},
             {"ws_pong_timeout", t.ws.pong_timeouts},
             {"ws_protocol_error", t.ws.protocol_errors}});
  m.counter("eventserver_tls_handshake_failures_total",
            "TLS handshakes that failed (plain text, an unknown CA, no client certificate, an old version).",
            t.tls.handshake_failures);
  if (!s.auth_refusals.empty()) {
    m.reasons("eventserver_client_auth_refused_total", "Client handshakes refused for their token, by reason.",
              s.auth_refusals);
  }
  m.reasons("eventserver_client_token_events_total", "Tokens of live sessions: refreshed, refused on refresh, expired.",
            {{"refreshed", t.tokens.refreshes}, {"refused", t.tokens.disconnected_refused}, {"expired", t.tokens.disconnected_expired}});
  m.gauge("eventserver_ws_connections", "Client connections over WebSocket (of eventserver_client_connections).",
          s.ws_connections);
  m.counter("eventserver_ws_upgrades_total", "WebSocket upgrades accepted (101 Switching Protocols).", t.ws.upgrades);
  m.reasons("eventserver_ws_upgrades_refused_total", "WebSocket upgrade requests refused, by reason (the HTTP status).",
            {{"bad_request", t.ws.upgrades_refused_bad_request},
             {"bad_target", t.ws.upgrades_refused_bad_target},
             {"not_found", t.ws.upgrades_refused_not_found},
             {"method", t.ws.upgrades_refused_method},
             {"not_upgrade", t.ws.upgrades_refused_not_upgrade},
             {"origin", t.ws.upgrades_refused_origin}});
  m.gauge("eventserver_clients_catching_up", "Client connections reading from history (they fell behind, or resumed).",
          s.clients_catching_up);
  m.gauge("eventserver_catch_up_lag_events", "Events the client furthest behind in catch-up has yet to read.",
          s.catch_up_lag_max);
  m.reasons("eventserver_catch_up_total",
            "Clients that fell behind (entered; spilled: of them, those that kept their own notifications in a spill "
            "file), and that caught up again.",
            {{"entered", c.catch_up_entered}, {"spilled", c.spill_entered}, {"rejoined", c.catch_up_rejoined}});
  m.counter("eventserver_spill_notifications_total", "Notifications kept in spill files for clients over their queue bound.",
            c.spill_notifications);
  m.counter("eventserver_spill_refused_total",
            "Spill blocks refused (clientSpillBytes reached, or too many files): that client reads the log after it.",
            c.spill_refused);
  m.gauge("eventserver_spill_bytes", "Bytes held in spill files now.", s.spill_bytes);
  m.gauge("eventserver_spill_budget_bytes", "clientSpillBytes: what spill files may hold in all (0: off).",
          s.spill_budget_bytes);
  m.counter("eventserver_history_notifications_total", "Notifications sent from history (catch-up and resume).",
            c.history_notifications);
  m.reasons("eventserver_resumes_total", "Resume handshakes, by whether history still reached back far enough.",
            {{"complete", c.resumes_complete}, {"incomplete", c.resumes_incomplete}});
  m.counter("eventserver_event_sources_accepted_total", "Event source connections accepted.", c.sources_accepted);
  m.counter("eventserver_event_sources_rejected_total", "Event source connections refused over maxEventSources.",
            c.sources_rejected_limit);
  m.counter("eventserver_bytes_received_total", "Bytes read from event sources.", c.bytes_in);
  m.counter("eventserver_bytes_sent_total", "Bytes written to clients.", c.bytes_out);
  m.counter("eventserver_client_writes_total", "Writes to clients that moved bytes (bytes_sent / this = mean write size).",
            c.client_writes);
  m.histogram("eventserver_delivery_latency_seconds",
              "From an event line's arrival to a write of its notification to a live client (one observation per "
              "write: the oldest notification it carried).",
              c.delivery_latency);
  m.histogram("eventserver_durable_latency_seconds",
              "From an event line's arrival to its batch being durable in the event log (one observation per event).",
              c.durable_latency);
  m.counter("eventserver_admin_unauthorized_total", "Admin requests refused for a missing or wrong bearer token.",
            s.admin_unauthorized);
  m.reasons("eventserver_admin_connections_closed_total",
            "Admin connections closed by a policy: no authorized request within 2 s, closed to make way for a "
            "newcomer at the limit, or refused at the limit.",
            {{"first_request_timeout", s.admin_first_request_timeouts},
             {"made_way", s.admin_made_way},
             {"limit", s.admin_refused_limit}});
  m.counter("eventserver_log_lines_dropped_total",
            "Log lines dropped because the log output did not take them in time (a stalled pipe or disk).",
            s.log_lines_dropped);
  const log_status& l = s.log;
  m.gauge("eventserver_stream_epoch", "The stream (epoch) the daemon is in; a producer starting over begins the next.",
          l.epoch);
  m.gauge("eventserver_log_durable_sequence", "Every sequence number up to this one is applied (and, with a log, in it).",
          l.durable_seq);
  m.counter("eventserver_streams_started_total", "New streams begun by a source starting over at 1 (newStreamPolicy).",
            c.streams_started);
  m.gauge("eventserver_log_enabled", "1 when the daemon keeps an event log (dataDir).", l.enabled ? 1 : 0);
  if (l.enabled) {
    m.gauge("eventserver_log_recovering", "1 while the event log is being recovered at start-up.", l.recovering ? 1 : 0);
    m.gauge("eventserver_log_write_failing", "1 while writing the event log fails (sources are not read meanwhile).",
            l.failing.empty() ? 0 : 1);
    m.gauge("eventserver_log_bytes", "Bytes of event log on disk.", l.bytes);
    m.gauge("eventserver_log_segments", "Segment files of the event log.", l.segments);
    m.gauge("eventserver_log_batches_waiting", "Batches handed to the disk and not yet durable.", l.batches_waiting);
    m.counter("eventserver_log_batches_written_total", "Batches written to the event log.", l.batches_written);
    m.counter("eventserver_log_bytes_written_total", "Bytes written to the event log.", l.bytes_written);
    m.counter("eventserver_log_write_errors_total", "Failed writes or syncs of the event log (each retried).",
              l.write_errors);
    m.counter("eventserver_log_segments_deleted_total", "Segments deleted by retention.", l.segments_deleted);
    m.histogram("eventserver_log_fsync_seconds", "Time one fsync of the event log took (logFsync always or interval).",
                l.fsync_buckets, l.fsyncs, l.fsync_seconds_sum);
    m.reasons("eventserver_log_snapshots_total", "Snapshots of the follower graph written, by result.",
              {{"ok", l.snapshots_written}, {"failed", l.snapshot_failures}});
    m.gauge("eventserver_log_snapshots", "Snapshots kept on disk, each a point a resume can start from.", l.snapshots);
    m.counter("eventserver_log_snapshots_set_aside_total",
              "Snapshots past the end of the log found at start-up and renamed .damaged (not used).",
              l.snapshots_set_aside);
    m.gauge("eventserver_log_damaged_ranges",
            "Stretches of damage in the kept log, read past at start-up; a resume across one is incomplete.",
            l.damaged_ranges);
    m.gauge("eventserver_log_damaged_numbers", "Sequence numbers lost to damage in the kept log.", l.damaged_numbers);
    if (l.resumable_from) {
      m.gauge("eventserver_log_resumable_from",
              "The first sequence number a resume can be served from exactly (history for resumes begins here).",
              *l.resumable_from);
    }
    m.gauge_seconds("eventserver_log_snapshot_age_seconds", "Seconds since the newest snapshot was written (-1: none).",
                    l.snapshot_age_seconds);
    m.gauge_seconds("eventserver_log_snapshot_duration_seconds", "How long writing the last snapshot took.",
                    l.last_snapshot_seconds);
    m.gauge_seconds("eventserver_log_snapshot_pause_seconds",
                    "The longest the event loop spent on the last snapshot at once.", l.last_snapshot_pause_seconds);
    m.gauge_seconds("eventserver_log_recovery_seconds", "How long recovering the event log took at start-up.",
                    l.recovery_seconds);
  }
  if (l.publishing) {  // an ingest: the log is the JetStream stream
    const storage::publish_status& p = *l.publishing;
    m.counter("eventserver_cluster_batches_published_total",
              "Batches the JetStream stream acknowledged (each one then reported durable to the sources).",
              p.batches_published);
    m.counter("eventserver_cluster_publish_retries_total",
              "Publishes tried again because the stream was unavailable (no answer, no responders, disconnected).",
              p.retries);
    m.counter("eventserver_cluster_publish_duplicates_total",
              "Publishes acknowledged as already stored: a retry whose first acknowledgement was lost.", p.duplicates);
    m.gauge("eventserver_cluster_publish_failing",
            "1 while publishing to the stream fails (sources are not read meanwhile; retried until it works).",
            p.failing ? 1 : 0);
    m.gauge("eventserver_cluster_fenced",
            "1 once another ingest wrote the stream: this one publishes nothing more and stops.", p.fenced ? 1 : 0);
    m.gauge("eventserver_cluster_last_stream_sequence", "The stream sequence of the last batch acknowledged.",
            p.last_stream_seq);
  }
  if (const edge_status& e = s.edge; e.enabled) {
    m.gauge("eventserver_resumes_waiting",
            "Resumes waiting (up to cluster.resumeWaitMs) for a position this edge has not applied yet.",
            s.resumes_waiting);
    m.gauge("eventserver_edge_lag_events", "Events the stream holds past what this edge has applied (as last measured).",
            e.events_behind);
    m.gauge_seconds("eventserver_edge_lag_seconds",
                    "How long ago the stream stored the oldest message this edge has not applied (0: caught up).",
                    e.seconds_behind);
    m.gauge("eventserver_edge_stream_last_sequence", "The stream's last message (JetStream sequence), as last measured.",
            e.stream_last_seq);
    m.gauge("eventserver_edge_stream_applied_sequence", "The last stream message (JetStream sequence) applied here.",
            e.taken_stream_seq);
    m.counter("eventserver_edge_batches_total", "Batches taken from the stream into the local log.", e.batches);
    m.gauge("eventserver_edge_stream_unreachable", "1 while the stream cannot be read (retried; clients keep their connections).",
            e.unreachable ? 1 : 0);
    m.counter("eventserver_edge_stream_unreachable_total", "Times the stream became unreachable.", e.unreachable_total);
    m.gauge("eventserver_edge_stopped",
            "1 once the stream did not continue the local log (a gap, another history): nothing more is read.",
            e.stopped ? 1 : 0);
  }
  m.gauge("eventserver_ready", "1 while /readyz answers 200 (recovered, writing the log, no stall past readyMaxGapAgeMs).",
          s.ready ? 1 : 0);
  m.gauge_seconds("eventserver_uptime_seconds", "Seconds since start-up.", s.uptime_seconds);
  if (s.max_fds != 0) {
    m.gauge("process_open_fds", "Open file descriptors.", s.open_fds);
    m.gauge("process_max_fds", "The soft limit on open file descriptors (RLIMIT_NOFILE).", s.max_fds);
  }
  return m.take();
}

void render_connz_connection(std::string& out, const connection_info& c, bool first) {
  // By hand rather than through a JSON object per connection: a page may list 100,000 of
  // them. Only `remote` is free text (an address, or "unknown peer"): escaped as JSON all the same.
  const nlohmann::json remote = c.remote;
  fmt::format_to(std::back_inserter(out),
                 "{}\n    {{\"behind\": {}, \"connected_since_ms\": {}, \"last_sequence\": {}, \"mode\": \"{}\", "
                 "\"notifications\": {}, \"queued_bytes\": {}, \"remote\": {}, \"state\": \"{}\", \"transport\": \"{}\", "
                 "\"user\": {}}}",
                 first ? "" : ",", c.behind, c.connected_since_ms, c.last_sequence, c.mode, c.notifications,
                 c.queued_bytes, remote.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                 c.registered ? "registered" : "handshake", c.transport,
                 c.registered ? fmt::format("{}", c.user) : std::string("null"));
}

nlohmann::ordered_json edge_json(const edge_status& e) {
  return {{"stream", e.stream},
          {"state", e.stopped ? "stopped" : e.unreachable ? "unreachable" : "following"},
          {"problem", e.problem},
          {"lag_known", e.lag_known},
          {"lag_events", e.events_behind},
          {"lag_seconds", e.seconds_behind},
          {"stream_last_seq", e.stream_last_seq},
          {"applied_stream_seq", e.taken_stream_seq}};
}

void render_connz_tail(std::string& out, std::size_t count, std::size_t total, std::size_t offset,
                       sequence_number processed_head, const edge_status* edge) {
  // `problem` quotes NATS's error text: replaced, not thrown, where it is not UTF-8.
  const std::string edge_line =
      edge == nullptr ? std::string()
                      : "  \"edge\": " + edge_json(*edge).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ",\n";
  fmt::format_to(std::back_inserter(out),
                 "{}],\n  \"count\": {},\n{}  \"offset\": {},\n  \"processed_head\": {},\n  \"total\": {}\n}}\n",
                 count == 0 ? "" : "\n  ", count, edge_line, offset, processed_head, total);
}

std::string render_connz(const std::vector<connection_info>& page, std::size_t total, std::size_t offset,
                         sequence_number processed_head, const edge_status* edge) {
  std::string out = "{\n  \"connections\": [";
  for (std::size_t i = 0; i < page.size(); ++i) render_connz_connection(out, page[i], i == 0);
  render_connz_tail(out, page.size(), total, offset, processed_head, edge);
  return out;
}

}  // namespace eventserver

namespace eventserver {

std::optional<connz_query> parse_connz_query(std::string_view query) {
  constexpr std::size_t max_limit = 100000;
  connz_query result;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = pair.substr(0, eq);
    const auto value = parse_u64(pair.substr(eq + 1));
    if (!value) return std::nullopt;
    if (key == "offset") {
      result.offset = static_cast<std::size_t>(*value);
    } else if (key == "limit") {
      if (*value > max_limit) return std::nullopt;
      result.limit = static_cast<std::size_t>(*value);
    } else if (key == "user") {
      result.user = *value;
    } else {
      return std::nullopt;
    }
  }
  return result;
}

}  // namespace eventserver
