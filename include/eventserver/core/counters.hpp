#pragma once
// Every number the daemon keeps about what passed through it. Plain integers: only the
// io_context thread writes them; readers (the shutdown summary, later /metrics) run there too.

#include <cstdint>

#include "eventserver/core/latency_histogram.hpp"

namespace eventserver {

struct counters {
  // Event source side.
  std::uint64_t sources_accepted = 0;
  std::uint64_t sources_rejected_limit = 0;  // over maxEventSources
  std::uint64_t bytes_in = 0;
  std::uint64_t lines_received = 0;
  std::uint64_t events_accepted = 0;          // taken into the reorder window
  std::uint64_t events_processed = 0;         // applied in order (no-op slots included)
  std::uint64_t rejected_no_sequence = 0;     // policy: dropped
  std::uint64_t rejected_bad_body = 0;        // policy: slot consumed as a no-op
  std::uint64_t rejected_duplicate = 0;       // policy: already pending, dropped
  std::uint64_t rejected_stale = 0;           // policy: already processed, dropped
  std::uint64_t rejected_overlong = 0;        // policy: dropped up to its end of line
  std::uint64_t rejected_unterminated = 0;    // source closed mid-line: the fragment is dropped
  std::uint64_t rejected_too_far = 0;         // policy: more than maxSequenceJump past the awaited number, dropped
  std::uint64_t window_full_pauses = 0;       // policy: a source waits for the window (once per move)
  std::uint64_t gaps_skipped = 0;             // policy: gap timeout
  std::uint64_t sequence_numbers_skipped = 0;
  std::uint64_t streams_started = 0;          // policy: a source started over at 1 (newStreamPolicy restart)

  // Delivery side. One notification = one line appended to one connection's queue.
  std::uint64_t notifications_delivered = 0;
  std::uint64_t notifications_dropped_offline = 0;  // recipient user has no connection
  std::uint64_t notifications_dropped_closing = 0;  // connection already being cut off
  std::uint64_t bytes_out = 0;
  std::uint64_t client_writes = 0;  // writes to clients that the kernel took bytes from: bytes_out / this = mean write

  // Client connections.
  std::uint64_t clients_accepted = 0;
  std::uint64_t clients_rejected_limit = 0;     // over maxClients
  std::uint64_t clients_registered = 0;
  std::uint64_t handshake_timeouts = 0;
  std::uint64_t handshake_bad_id = 0;
  std::uint64_t handshake_overlong = 0;
  std::uint64_t handshake_peer_closed = 0;
  std::uint64_t clients_disconnected_slow = 0;  // policy: queue over maxClientQueueBytes with no history to catch up from
  std::uint64_t clients_disconnected_stuck = 0;     // policy: nothing taken for clientWriteTimeoutMs
  std::uint64_t clients_out_of_history = 0;         // policy: catching up, its history was deleted or overwritten
  std::uint64_t catch_up_entered = 0;               // clients that fell behind and read from history
  std::uint64_t catch_up_rejoined = 0;              // ... and caught up with the live stream again
  std::uint64_t history_notifications = 0;          // notifications queued from history (of notifications_delivered)
  std::uint64_t resumes_complete = 0;               // <user>|<last>: everything after <last> was there
  std::uint64_t resumes_incomplete = 0;             // ... history no longer reached back that far
  std::uint64_t clients_disconnected_peer = 0;  // peer closed or reset

  // WebSocket clients. They are client connections too: accepted, registered, the handshake
  // timeouts and the disconnects above count them as well.
  std::uint64_t ws_upgrades = 0;                      // upgrades accepted (101 Switching Protocols)
  std::uint64_t ws_upgrades_refused_bad_request = 0;  // 400 malformed HTTP or handshake, a body; 431 headers too large
  std::uint64_t ws_upgrades_refused_bad_target = 0;   // 400 /users/<id>?... with a bad number or parameter
  std::uint64_t ws_upgrades_refused_not_found = 0;    // 404 a path other than /users/<id>
  std::uint64_t ws_upgrades_refused_method = 0;       // 405 not GET
  std::uint64_t ws_upgrades_refused_not_upgrade = 0;  // 426 a GET without the WebSocket upgrade headers
  std::uint64_t ws_upgrades_refused_origin = 0;       // 403 an Origin not in wsAllowedOrigins
  std::uint64_t ws_pong_timeouts = 0;                 // policy: no pong within wsPongTimeoutMs, closed with 4001
  std::uint64_t ws_protocol_errors = 0;               // policy: the client sent data or broke the framing (1003, 1009, 1002)

  // TLS and client authentication (clientTls, wsTls, clientAuth).
  std::uint64_t tls_handshake_failures = 0;        // policy: a failed TLS handshake (plain text, wrong CA, ...), closed
  std::uint64_t clients_refused_auth = 0;          // policy: no token, or a token refused at the handshake (by reason: the server's)
  std::uint64_t clients_disconnected_auth = 0;     // policy: a refused token sent to refresh a live session
  std::uint64_t clients_disconnected_expired = 0;  // policy: the session's newest token expired (4000)
  std::uint64_t token_refreshes = 0;               // fresh tokens accepted from live sessions

  // Latency the daemon measures itself, from an event's arrival: the read of its source that
  // brought its line, or, for an event that waited in the reorder window, the read that
  // released it (the wait for a missing number is eventserver_oldest_gap_age_seconds).
  latency_histogram durable_latency;   // to its batch being durable: once per batch, weighted by its events
  latency_histogram delivery_latency;  // to a write to a live client: once per write, its oldest notification
};

}  // namespace eventserver
