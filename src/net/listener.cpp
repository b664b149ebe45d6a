#include "eventserver/net/listener.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>

namespace eventserver {

namespace {
// After an accept error such as EMFILE, wait before trying again instead of spinning.
constexpr std::chrono::milliseconds accept_retry_delay{100};
}  // namespace

listener::listener(asio::io_context& io, const tcp::endpoint& endpoint, std::string name, accept_handler on_accept)
    : io_(io),
      acceptor_(io),
      retry_timer_(io),
      name_(std::move(name)),
      on_accept_(std::move(on_accept)),
      error_warnings_(1, std::chrono::seconds(5)) {
  error_code ec;
  const auto fail = [&](const char* step) {
    throw std::runtime_error("cannot " + std::string(step) + " " + name_ + " listener on " +
                             endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) + ": " +
                             ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec)) fail("open");
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec)) fail("configure");
  if (acceptor_.bind(endpoint, ec)) fail("bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec)) fail("listen");
}

void listener::start() { do_accept(); }

void listener::stop() {
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

tcp::endpoint listener::local_endpoint() const {
  error_code ec;
  return acceptor_.local_endpoint(ec);
}

void listener::do_accept() {
  acceptor_.async_accept(io_, [self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void listener::on_accept(const error_code& ec, tcp::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    if (const auto suppressed = error_warnings_.allow(std::chrono::steady_clock::now())) {
      spdlog::warn("{} listener: accept failed: {} (retrying in {} ms){}", name_, ec.message(),
                   accept_retry_delay.count(),
                   suppressed_note(*suppressed));
    }
    retry_timer_.expires_after(accept_retry_delay);
    retry_timer_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && !self->stopped_) self->do_accept();
    });
    return;
  }
  on_accept_(std::move(socket));
  do_accept();
}

}  // namespace eventserver
