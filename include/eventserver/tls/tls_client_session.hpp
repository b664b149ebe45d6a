#pragma once
// A client over TLS (clientTls): the classic line client (net/line_client_session.hpp: the id
// line, its token, the discard read; client_session: the queue and its bound, catch-up and
// resume, the stuck-client timeout) on a tls_socket (OpenSSL on the socket's descriptor, no
// buffers of its own: tls/tls_socket.hpp). The TLS handshake and the id line
// together must finish within clientHandshakeTimeoutMs: a peer that stalls mid-handshake, or
// speaks plain text to the port, is closed and counted (transport_counters'
// tls.handshake_failures), and nobody else waits for it.
//
// Writes: as over TCP, from the session's queue with no copy and no wait unless the socket is
// full (tls_socket::try_write_some): each write is one TLS record of up to 16 KiB of what is
// queued, so a flush of a few notifications is one record, not one per notification. When
// the socket is full, OpenSSL keeps the record it made, and the next write (after the wait)
// starts with the same bytes: the queue only grows at its end until written() is told what
// was taken.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "eventserver/core/client_stream.hpp"
#include "eventserver/core/counters.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/line_client_session.hpp"
#include "eventserver/tls/tls_context.hpp"
#include "eventserver/tls/tls_socket.hpp"

namespace eventserver {

template <>
class line_transport<tls_socket> {
 public:
  static constexpr std::string_view name = "tls";
  static constexpr std::string_view awaited = "TLS handshake and id line";
  static constexpr bool has_handshake = true;
  static constexpr std::string_view handshake_name = "TLS";
  // `context` outlives the stream, which uses it.
  line_transport(tcp::socket socket, std::shared_ptr<ssl::context> context)
      : context_(std::move(context)), stream_(std::move(socket), *context_) {}

  tls_socket& stream() noexcept { return stream_; }
  tcp::socket& lowest_socket() noexcept { return stream_.next_layer(); }
  void prepare() {}

  template <class Handler>
  void handshake(Handler&& handler) {
    stream_.async_handshake(ssl::stream_base::server, std::forward<Handler>(handler));
  }
  static std::uint64_t& handshake_failures(transport_counters& stats) noexcept { return stats.tls.handshake_failures; }

  template <class Written>
  std::size_t write(std::span<const char> bytes, bool& pending, error_code& ec, Written&& written) {
    tcp::socket::wait_type wait = tcp::socket::wait_write;
    const std::size_t taken = stream_.try_write_some(asio::buffer(bytes.data(), bytes.size()), wait, ec);
    if (ec == asio::error::would_block) {
      ec = {};
      // The socket is full: continue when the client has read some.
      pending = true;
      stream_.next_layer().async_wait(wait, [written = std::forward<Written>(written)](const error_code& wait_ec) {
        written(0, wait_ec);
      });
      return 0;
    }
    return taken;
  }

  void close(bool) {
    // No close_notify: the peer may never read it, and TCP's FIN (or RST) ends the session as
    // well for a client that only receives. What was written is in the kernel by now.
    error_code ignored;
    auto& socket = stream_.lowest_layer();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

 private:
  std::shared_ptr<ssl::context> context_;
  tls_socket stream_;
};

// Compiled once, in tls_client_session.cpp.
extern template class basic_line_client_session<tls_socket>;
using tls_client_session = basic_line_client_session<tls_socket>;

}  // namespace eventserver
