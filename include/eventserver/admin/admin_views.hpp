#pragma once
// What the admin endpoints say, rendered from plain snapshots: no sockets, so the exact text
// of /metrics and /connz is unit-tested.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eventserver/core/counters.hpp"
#include "eventserver/core/event.hpp"
#include "eventserver/net/connection_info.hpp"

namespace eventserver {

struct server_snapshot {
  counters stats;
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
};

// Prometheus text exposition format, version 0.0.4.
std::string render_metrics(const server_snapshot& snapshot);


// {"head":..., "next_expected":..., "total":N, "offset":..., "connections":[...]}
std::string render_connz(const std::vector<connection_info>& page, std::size_t total, std::size_t offset,
                         sequence_number processed_head);

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

}  // namespace eventserver
