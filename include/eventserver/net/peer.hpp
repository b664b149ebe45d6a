#pragma once
// How the log and /connz name a connection's peer: "address:port", or "unknown peer" once
// the socket no longer knows it.

#include <string>

#include "eventserver/net/asio.hpp"

namespace eventserver {

std::string describe_peer(const tcp::socket& socket);

}  // namespace eventserver
