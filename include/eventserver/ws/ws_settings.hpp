#pragma once
// The WebSocket listener's settings (wsPingIntervalMs, wsPongTimeoutMs, wsAllowedOrigins), as
// every WebSocket session reads them. The server owns them and outlives every session. Plain
// data, apart from Beast, so the server's header does not pull Beast in.

#include <chrono>
#include <string>
#include <vector>

namespace eventserver {

struct ws_settings {
  std::chrono::milliseconds ping_interval{25000};  // 0: no pings
  std::chrono::milliseconds pong_timeout{10000};
  std::vector<std::string> allowed_origins;  // empty: any origin
};

}  // namespace eventserver
