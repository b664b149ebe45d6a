#pragma once
// Accepts connections on one endpoint and hands each socket to `on_accept`. Admission
// (connection limits, shutdown) is the owner's business, not the listener's.

#include <functional>
#include <memory>
#include <string>

#include "eventserver/net/asio.hpp"
#include "eventserver/core/warning_limiter.hpp"

namespace eventserver {

class listener : public std::enable_shared_from_this<listener> {
 public:
  using accept_handler = std::function<void(tcp::socket)>;

  // Binds and listens at once; throws std::runtime_error naming `name` and the endpoint.
  listener(asio::io_context& io, const tcp::endpoint& endpoint, std::string name, accept_handler on_accept);

  void start();
  void stop();
  tcp::endpoint local_endpoint() const;

 private:
  void do_accept();
  void on_accept(const error_code& ec, tcp::socket socket);

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::string name_;
  accept_handler on_accept_;
  warning_limiter error_warnings_;
  bool stopped_ = false;
};

}  // namespace eventserver
