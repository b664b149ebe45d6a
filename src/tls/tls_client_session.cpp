#include "eventserver/tls/tls_client_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "eventserver/core/event.hpp"
#include "eventserver/net/peer.hpp"

namespace eventserver {

namespace {
// A record buffer larger than this is given back once written: idle connections keep little.
constexpr std::size_t keep_out_capacity = 1024;
}  // namespace

tls_client_session::tls_client_session(tcp::socket socket, client_hub& hub, std::shared_ptr<ssl::context> context)
    : client_session(hub, describe_peer(socket), "tls", line_format::crlf),
      context_(std::move(context)),
      stream_(std::move(socket), *context_),
      handshake_timer_(hub.executor()) {}

void tls_client_session::start() {
  hub().client_opened(*this);
  prepare_socket();

  // The TLS handshake and the id line, together.
  handshake_timer_.expires_after(hub().limits().handshake_timeout);
  handshake_timer_.async_wait([self = self()](const error_code& ec) { self->on_handshake_timeout(ec); });
  stream_.async_handshake(ssl::stream_base::server, [self = self()](const error_code& ec) { self->on_tls_handshake(ec); });
}

void tls_client_session::on_handshake_timeout(const error_code& ec) {
  if (ec || !handshaking()) return;
  refuse(stats().handshake_timeouts, "no TLS handshake and id line within clientHandshakeTimeoutMs");
}

void tls_client_session::on_tls_handshake(const error_code& ec) {
  if (!handshaking()) return;  // timed out or shut down meanwhile
  if (ec) {
    // Plain text on a TLS port, an unknown CA, no client certificate, a version below
    // tlsMinVersion, or a peer that left: OpenSSL's reason says which.
    refuse(hub().transport_stats().tls.handshake_failures, "TLS handshake failed: " + ec.message());
    return;
  }
  read_line(true);
}

void tls_client_session::read_line(bool first) {
  // +2: the line may be max_handshake_bytes long plus its "\r\n".
  asio::async_read_until(stream_, asio::dynamic_buffer(line_buffer_, hub().limits().max_handshake_bytes + 2), '\n',
                         [self = self(), first](const error_code& ec, std::size_t bytes) { self->on_line(ec, bytes, first); });
}

void tls_client_session::on_line(const error_code& ec, std::size_t bytes, bool first) {
  if (first && !handshaking()) return;
  if (ec == asio::error::not_found) {
    if (first) {
      refuse(stats().handshake_overlong, "id line longer than maxLineBytes");
    } else {
      token_line_too_long();
    }
    return;
  }
  if (ec) {
    if (first) {
      ++stats().handshake_peer_closed;
      SPDLOG_DEBUG("TLS client {} left before sending its id: {}", peer(), ec.message());
      close();
    } else {
      peer_gone(ec);
    }
    return;
  }
  const std::string_view line = strip_cr(std::string_view(line_buffer_).substr(0, bytes - 1));
  if (first) {
    handshake_timer_.cancel();
    on_id_line(line);
  } else {
    on_token_line(line);
  }
  if (!registered()) return;
  line_buffer_.erase(0, bytes);
  if (hub().auth_required()) {
    read_line(false);  // fresh tokens
    return;
  }
  std::string().swap(line_buffer_);  // anything sent after the id line is ignored
  do_read();
}

void tls_client_session::do_read() {
  stream_.async_read_some(asio::buffer(discard_), [self = self()](const error_code& ec, std::size_t) { self->on_read(ec); });
}

void tls_client_session::on_read(const error_code& ec) {
  if (!ec) {
    do_read();
    return;
  }
  peer_gone(ec);
}

std::size_t tls_client_session::write(std::span<const char> bytes, bool& pending, error_code&) {
  // Whole lines up to one record; a longer single line goes whole.
  out_.assign(bytes.data(), whole_lines_within(std::string_view(bytes.data(), bytes.size()), max_record_bytes));
  pending = true;
  asio::async_write(stream_, asio::buffer(out_), [self = self()](const error_code& ec, std::size_t written) {
    if (self->out_.capacity() > keep_out_capacity) std::string().swap(self->out_);
    if (self->registered()) self->written(ec ? 0 : written, ec);
  });
  return 0;
}

void tls_client_session::close_transport(bool) {
  // No close_notify: the peer may never read it, and TCP's FIN (or RST) ends the session as
  // well for a client that only receives. What was written is in the kernel by now.
  handshake_timer_.cancel();
  error_code ignored;
  auto& socket = stream_.lowest_layer();
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace eventserver
