#pragma once
// One client connection as /connz shows it: a plain snapshot, taken on the io thread.

#include <cstddef>
#include <cstdint>
#include <string>

#include "eventserver/core/event.hpp"

namespace eventserver {

struct connection_info {
  user_id user = 0;
  bool registered = false;  // false while handshaking
  std::string remote;
  std::int64_t connected_since_ms = 0;  // Unix epoch milliseconds
  std::size_t queued_bytes = 0;
  std::uint64_t notifications = 0;    // queued for it since it registered
  sequence_number last_sequence = 0;  // of the last notification fully written to it
  std::uint64_t behind = 0;           // processed events not yet sent to it (0 when its queue is empty)
  std::string transport = "tcp";      // tcp, tls, ws, wss
  std::string mode = "live";          // live; catch-up while it reads from history; spill from its spill file
};

}  // namespace eventserver
