#pragma once
// Every number the core's stream and its connections keep about what passed through them.
// Plain integers: only the io_context thread writes them; readers (the shutdown summary,
// /metrics) run there too. The transports' own counters (TLS, tokens, WebSocket) live with
// their layers: net/transport_counters.hpp.

#include <cstdint>

#include "eventserver/core/latency_histogram.hpp"

namespace eventserver {

// The stream's: what the event sources sent and what became of it. The dispatcher, the router
// and the source sessions write these.
struct stream_counters {
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
  std::uint64_t notifications_dropped_offline = 0;  // the router found no connection for the recipient

  // Latency the daemon measures itself, from an event's arrival: the read of its source that
  // brought its line, or, for an event that waited in the reorder window, the read that
  // released it (the wait for a missing number is eventserver_oldest_gap_age_seconds).
  latency_histogram durable_latency;  // to its batch being durable: once per batch, weighted by its events
};

// The client connections': what they were sent and how they ended. The client sessions write
// these, and only these (client_hub::stats()).
struct client_counters {
  // One notification = one line appended to one connection's queue.
  std::uint64_t notifications_delivered = 0;
  std::uint64_t notifications_dropped_closing = 0;  // connection already being cut off
  std::uint64_t bytes_out = 0;
  std::uint64_t client_writes = 0;  // writes to clients that the kernel took bytes from: bytes_out / this = mean write

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
  std::uint64_t catch_up_entered = 0;               // clients that fell behind (read from history or their spill)
  std::uint64_t catch_up_rejoined = 0;              // ... and caught up with the live stream again
  std::uint64_t history_notifications = 0;          // notifications queued from history (of notifications_delivered)
  std::uint64_t spill_entered = 0;                  // ... of them, those that kept their own notifications (clientSpillBytes)
  std::uint64_t spill_notifications = 0;            // notifications kept so (of notifications_delivered)
  std::uint64_t spill_refused = 0;                  // blocks the spill's budget refused: that client reads the log on
  std::uint64_t clients_disconnected_spill = 0;     // policy: its spill file failed (disk): cut off, it resumes
  std::uint64_t resumes_complete = 0;               // <user>|<last>: everything after <last> was there
  std::uint64_t resumes_incomplete = 0;             // ... history no longer reached back that far
  std::uint64_t clients_disconnected_peer = 0;  // peer closed or reset

  // From an event's arrival (as durable_latency) to a write to a live client: once per write,
  // its oldest notification.
  latency_histogram delivery_latency;
};

// Both, as the server keeps them and /metrics, /status and the shutdown summary read them.
struct counters : stream_counters, client_counters {};

}  // namespace eventserver
