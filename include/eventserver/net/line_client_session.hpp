#pragma once
// The classic client: a byte stream whose handshake is one line. Plain TCP here, TLS in
// tls/tls_client_session.hpp: one session template over the stream type, the way
// basic_ws_client_session<NextLayer> serves ws and wss.
//
// The flow, the same on both: the transport's own handshake if it has one (TLS), then the id
// line ("<user>[|<last>[|<epoch>]][ <token>]\r\n"), both within clientHandshakeTimeoutMs; then,
// under clientAuth jwt, each further line is a fresh token; otherwise whatever the client sends
// is read into a small array and dropped, only to see the peer close.
//
// What differs by stream is line_transport<Stream>: how it is made, its handshake, how a
// write goes (TCP: non-blocking and synchronous; TLS: the same, a record at a time through
// OpenSSL), and how it closes. The specialisation for tcp::socket is below;
// TLS's is in tls/, which instantiates the template for tls_socket.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "eventserver/core/counters.hpp"
#include "eventserver/core/event.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/client_session.hpp"
#include "eventserver/net/peer.hpp"
#include "eventserver/net/session_hub.hpp"

namespace eventserver {

// What a line client needs of its stream (the specialisations say it):
//   name                          "tcp", "tls": the transport shown on /connz
//   awaited                       what clientHandshakeTimeoutMs waits for, for the warning
//   has_handshake                 and then handshake(handler), handshake_name ("TLS") and
//                                 handshake_failures(transport_counters&): the counter of failed ones
//   stream(), lowest_socket()     what lines are read from; the TCP socket under it
//   prepare()                     at start(), after the client socket options
//   write(bytes, pending, ec, written)  client_session::write's contract; an asynchronous
//                                 completion calls written(bytes_taken, ec)
//   close(graceful)
template <class Stream>
class line_transport;

// Plain TCP: writes are non-blocking and synchronous; a full socket is waited for.
template <>
class line_transport<tcp::socket> {
 public:
  static constexpr std::string_view name = "tcp";
  static constexpr std::string_view awaited = "id line";
  static constexpr bool has_handshake = false;

  explicit line_transport(tcp::socket socket) : socket_(std::move(socket)) {}

  tcp::socket& stream() noexcept { return socket_; }
  tcp::socket& lowest_socket() noexcept { return socket_; }

  void prepare() {
    error_code ignored;
    socket_.non_blocking(true, ignored);  // writes are synchronous and must not block
  }

  template <class Written>
  std::size_t write(std::span<const char> bytes, bool& pending, error_code& ec, Written&& written) {
    const std::size_t taken = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      // The socket is full: continue when the client has read some.
      pending = true;
      socket_.async_wait(tcp::socket::wait_write, [written = std::forward<Written>(written)](const error_code& wait_ec) {
        written(0, wait_ec);
      });
      return 0;
    }
    return taken;
  }

  void close(bool graceful) {
    error_code ignored;
    if (graceful) socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  tcp::socket socket_;
};

template <class Stream>
class basic_line_client_session final : public client_session {
 public:
  using transport_type = line_transport<Stream>;

  // `args`: what the transport needs besides the socket (TLS: the ssl::context in force when
  // the connection was accepted; a reload does not touch it).
  template <class... Args>
  basic_line_client_session(tcp::socket socket, client_hub& hub, Args&&... args)
      : client_session(hub, describe_peer(socket), std::string(transport_type::name), line_format::crlf),
        transport_(std::move(socket), std::forward<Args>(args)...),
        handshake_timer_(hub.executor()) {}

  void start() override;

 private:
  std::shared_ptr<basic_line_client_session> self() {
    return std::static_pointer_cast<basic_line_client_session>(shared_from_this());
  }
  void on_handshake_timeout(const error_code& ec);
  void on_transport_handshake(const error_code& ec);
  // The id line (`first`), then (under clientAuth jwt) each token line.
  void read_line(bool first);
  void on_line(const error_code& ec, std::size_t bytes, bool first);
  void do_read();
  void on_read(const error_code& ec);

  std::size_t write(std::span<const char> bytes, bool& pending, error_code& ec) override {
    return transport_.write(bytes, pending, ec, [self = self()](std::size_t taken, const error_code& written_ec) {
      if (self->registered()) self->written(taken, written_ec);
    });
  }
  void close_transport(bool graceful) override {
    handshake_timer_.cancel();
    transport_.close(graceful);
  }
  void goodbye(std::uint16_t, std::string_view) override {}
  tcp::socket& lowest_socket() override { return transport_.lowest_socket(); }

  transport_type transport_;
  asio::steady_timer handshake_timer_;
  std::string line_buffer_;  // the id line, then (under clientAuth jwt) each token line
  // Clients should not send after their id; we only watch for close. What they send anyway is
  // read into one buffer all sessions share (the daemon's one thread reads into it, and nobody
  // looks at it): nothing of it is part of an idle connection, TCP or TLS.
  static inline std::array<char, 512> discard_{};
};

template <class Stream>
void basic_line_client_session<Stream>::start() {
  hub().client_opened(*this);
  prepare_socket();
  transport_.prepare();

  // The transport's handshake (if any) and the id line, together.
  handshake_timer_.expires_after(hub().limits().handshake_timeout);
  handshake_timer_.async_wait([self = self()](const error_code& ec) { self->on_handshake_timeout(ec); });
  if constexpr (transport_type::has_handshake) {
    transport_.handshake([self = self()](const error_code& ec) { self->on_transport_handshake(ec); });
  } else {
    read_line(true);
  }
}

template <class Stream>
void basic_line_client_session<Stream>::on_handshake_timeout(const error_code& ec) {
  if (ec || !handshaking()) return;
  refuse(stats().handshake_timeouts, fmt::format("no {} within clientHandshakeTimeoutMs", transport_type::awaited));
}

template <class Stream>
void basic_line_client_session<Stream>::on_transport_handshake(const error_code& ec) {
  if constexpr (transport_type::has_handshake) {
    if (!handshaking()) return;  // timed out or shut down meanwhile
    if (ec) {
      // TLS: plain text on a TLS port, an unknown CA, no client certificate, a version below
      // tlsMinVersion, or a peer that left: OpenSSL's reason says which.
      refuse(transport_type::handshake_failures(hub().transport_stats()),
             fmt::format("{} handshake failed: {}", transport_type::handshake_name, ec.message()));
      return;
    }
    read_line(true);
  } else {
    (void)ec;
  }
}

template <class Stream>
void basic_line_client_session<Stream>::read_line(bool first) {
  // +2: the line may be max_handshake_bytes long plus its "\r\n".
  asio::async_read_until(transport_.stream(), asio::dynamic_buffer(line_buffer_, hub().limits().max_handshake_bytes + 2),
                         '\n', [self = self(), first](const error_code& ec, std::size_t bytes) { self->on_line(ec, bytes, first); });
}

template <class Stream>
void basic_line_client_session<Stream>::on_line(const error_code& ec, std::size_t bytes, bool first) {
  if (first && !handshaking()) return;  // timed out or shut down meanwhile
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
      SPDLOG_DEBUG("{} client {} left before sending its id: {}", transport_type::name, peer(), ec.message());
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
    read_line(false);  // what follows the id line are fresh tokens
    return;
  }
  std::string().swap(line_buffer_);  // anything sent after the id line is ignored
  do_read();
}

template <class Stream>
void basic_line_client_session<Stream>::do_read() {
  transport_.stream().async_read_some(asio::buffer(discard_),
                                      [self = self()](const error_code& ec, std::size_t) { self->on_read(ec); });
}

template <class Stream>
void basic_line_client_session<Stream>::on_read(const error_code& ec) {
  if (!ec) {
    do_read();
    return;
  }
  peer_gone(ec);
}

// Compiled once, in client_session.cpp.
extern template class basic_line_client_session<tcp::socket>;
using tcp_client_session = basic_line_client_session<tcp::socket>;

}  // namespace eventserver
