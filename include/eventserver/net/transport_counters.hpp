#pragma once
// The counters of the client transports, kept by the layers that raise them: TLS handshakes
// (tls/), tokens (the handshake and refresh flow of every client session, clientAuth) and
// WebSocket upgrades and frames (ws/). Core's counters name none of them. Plain integers on
// the io_context's thread, like core's; /metrics prints them under their old names.

#include <cstdint>

namespace eventserver {

struct tls_counters {
  std::uint64_t handshake_failures = 0;  // policy: a failed TLS handshake (plain text, wrong CA, ...), closed
};

// clientAuth.
struct token_counters {
  std::uint64_t refused_at_handshake = 0;  // policy: no token, or a token refused at the handshake (by reason: the server's)
  std::uint64_t disconnected_refused = 0;  // policy: a refused token sent to refresh a live session
  std::uint64_t disconnected_expired = 0;  // policy: the session's newest token expired (4000)
  std::uint64_t refreshes = 0;             // fresh tokens accepted from live sessions
};

// WebSocket clients. They are client connections too: accepted, registered, the handshake
// timeouts and the disconnects of core's counters count them as well.
struct ws_counters {
  std::uint64_t upgrades = 0;                      // upgrades accepted (101 Switching Protocols)
  std::uint64_t upgrades_refused_bad_request = 0;  // 400 malformed HTTP or handshake, a body; 431 headers too large
  std::uint64_t upgrades_refused_bad_target = 0;   // 400 /users/<id>?... with a bad number or parameter
  std::uint64_t upgrades_refused_not_found = 0;    // 404 a path other than /users/<id>
  std::uint64_t upgrades_refused_method = 0;       // 405 not GET
  std::uint64_t upgrades_refused_not_upgrade = 0;  // 426 a GET without the WebSocket upgrade headers
  std::uint64_t upgrades_refused_origin = 0;       // 403 an Origin not in wsAllowedOrigins
  std::uint64_t pong_timeouts = 0;                 // policy: no pong within wsPongTimeoutMs, closed with 4001
  std::uint64_t protocol_errors = 0;               // policy: the client sent data or broke the framing (1003, 1009, 1002)

  std::uint64_t upgrades_refused() const noexcept {
    return upgrades_refused_bad_request + upgrades_refused_bad_target + upgrades_refused_not_found +
           upgrades_refused_method + upgrades_refused_not_upgrade + upgrades_refused_origin;
  }
};

struct transport_counters {
  tls_counters tls;
  token_counters tokens;
  ws_counters ws;
};

}  // namespace eventserver
