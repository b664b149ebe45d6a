#pragma once
// A client over TLS (clientTls): the classic client (client_session: the id line, its token,
// the queue and its bound, catch-up and resume, the stuck-client timeout) on an
// ssl::stream. The TLS handshake and the id line together must finish within
// clientHandshakeTimeoutMs: a peer that stalls mid-handshake, or speaks plain text to the
// port, is closed and counted (transport_counters: tls.handshake_failures), and nobody else waits for it.
//
// Writes: an OpenSSL write may read its plaintext again after the socket was full, so the
// bytes of one write are copied out of the queue (which deliver() may grow and move) into a
// buffer of at most one TLS record (16 KiB) and written whole: one record per flush, not one
// per notification.

#include <array>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/ssl/stream.hpp>

#include "eventserver/net/asio.hpp"
#include "eventserver/net/client_session.hpp"
#include "eventserver/tls/tls_context.hpp"

namespace eventserver {

class tls_client_session final : public client_session {
 public:
  // The largest plaintext of one TLS record (RFC 8446 5.1).
  static constexpr std::size_t max_record_bytes = 16 * 1024;

  // `context` is the one in force when the connection was accepted; a reload does not touch it.
  tls_client_session(tcp::socket socket, client_hub& hub, std::shared_ptr<ssl::context> context);
  void start() override;

 private:
  std::shared_ptr<tls_client_session> self() { return std::static_pointer_cast<tls_client_session>(shared_from_this()); }
  void on_tls_handshake(const error_code& ec);
  void on_handshake_timeout(const error_code& ec);
  void read_line(bool first);
  void on_line(const error_code& ec, std::size_t bytes, bool first);
  void do_read();
  void on_read(const error_code& ec);
  std::size_t write(std::span<const char> bytes, bool& pending, error_code& ec) override;
  void close_transport(bool graceful) override;
  void goodbye(std::uint16_t, std::string_view) override {}
  tcp::socket& lowest_socket() override { return stream_.next_layer(); }

  std::shared_ptr<ssl::context> context_;  // outlives stream_, which uses it
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer handshake_timer_;
  std::string line_buffer_;  // the id line, then (under clientAuth jwt) each token line
  std::string out_;          // the record in flight
  std::array<char, 512> discard_{};
};

}  // namespace eventserver
