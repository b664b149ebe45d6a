#pragma once
// A client over TLS (clientTls): the classic line client (net/line_client_session.hpp: the id
// line, its token, the discard read; client_session: the queue and its bound, catch-up and
// resume, the stuck-client timeout) on a tls_socket (OpenSSL on the socket's descriptor, no
// buffers of its own: tls/tls_socket.hpp). The TLS handshake and the id line
// together must finish within clientHandshakeTimeoutMs: a peer that stalls mid-handshake, or
// speaks plain text to the port, is closed and counted (transport_counters'
// tls.handshake_failures), and nobody else waits for it.
//
// Writes: an OpenSSL write may read its plaintext again after the socket was full, so the
// bytes of one write are copied out of the queue (which deliver() may grow and move) into a
// buffer of at most one TLS record (16 KiB) and written whole: one record per flush, not one
// per notification.

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
  // The largest plaintext of one TLS record (RFC 8446 5.1).
  static constexpr std::size_t max_record_bytes = 16 * 1024;
  // A record buffer larger than this is given back once written: idle connections keep little.
  static constexpr std::size_t keep_out_capacity = 1024;

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
  std::size_t write(std::span<const char> bytes, bool& pending, error_code&, Written&& written) {
    // Whole lines up to one record; a longer single line goes whole.
    out_.assign(bytes.data(), whole_lines_within(std::string_view(bytes.data(), bytes.size()), max_record_bytes));
    pending = true;
    // `this` lives as long as the session, which `written` holds.
    asio::async_write(stream_, asio::buffer(out_),
                      [this, written = std::forward<Written>(written)](const error_code& ec, std::size_t taken) {
                        if (out_.capacity() > keep_out_capacity) std::string().swap(out_);
                        written(ec ? 0 : taken, ec);
                      });
    return 0;
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
  std::string out_;  // the record in flight
};

// Compiled once, in tls_client_session.cpp.
extern template class basic_line_client_session<tls_socket>;
using tls_client_session = basic_line_client_session<tls_socket>;

}  // namespace eventserver
