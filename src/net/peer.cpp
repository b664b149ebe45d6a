#include "eventserver/net/peer.hpp"

namespace eventserver {

std::string describe_peer(const tcp::socket& socket) {
  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return remote.address().to_string() + ":" + std::to_string(remote.port());
}

}  // namespace eventserver
