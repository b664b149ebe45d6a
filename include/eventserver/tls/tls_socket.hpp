#pragma once
// A TLS stream on OpenSSL directly: one SSL object reading and writing the TCP socket's file
// descriptor through a BIO without a buffer (recv, and send with MSG_NOSIGNAL), where Asio's
// ssl::stream puts a BIO pair and two buffers of its own between them (about 68 KiB a
// connection, idle or not). With SSL_MODE_RELEASE_BUFFERS an idle connection here costs the
// SSL object and its session, about 15 KiB: bench/tls_idle measures both.
//
// It is a drop-in for ssl::stream<tcp::socket> as a template argument where only asynchronous
// operations are used (all of the daemon's): async_handshake, async_read_some,
// async_write_some (Asio's AsyncReadStream and AsyncWriteStream), async_shutdown,
// next_layer(), lowest_layer(), get_executor(); Beast's websocket::stream runs over it through
// the async_teardown overload below, and beast::get_lowest_layer finds the socket.
//
// How an operation runs: the OpenSSL call first (SSL_read returns plaintext it already holds
// without the socket being readable); on SSL_ERROR_WANT_READ or WANT_WRITE it waits on the
// socket (async_wait) and calls again with the same arguments, as OpenSSL requires of a
// retried SSL_write. A handler is never called from inside the initiating function.
//
// Errors: a close_notify from the peer is asio::error::eof; a connection that ends without one
// is ssl::error::stream_truncated (as with Asio's ssl::stream, so callers need not change);
// OpenSSL's failures are in asio::error::get_ssl_category() (its message is OpenSSL's reason);
// the socket's own errors (a reset) are system errors.
//
// One read and one write may be in flight at once (a full-duplex stream), not two of either.
// A peer that reset the connection is an error code, never a SIGPIPE (OpenSSL's own socket
// BIO, SSL_set_fd, writes with write(2) and would raise one).

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include "eventserver/net/asio.hpp"

namespace eventserver {

namespace ssl = asio::ssl;

namespace detail {

enum class tls_want { nothing, read, write };

// What one OpenSSL call came to: done (with bytes moved or an error), or wait and call again.
struct tls_step {
  tls_want want = tls_want::nothing;
  std::size_t bytes = 0;
  error_code ec;
};

// What Asio's own streams read into or write from: the first buffer that is not empty.
template <class Buffer, class BufferSequence>
Buffer first_nonempty(const BufferSequence& buffers) {
  for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
    if (Buffer b(*it); b.size() != 0) return b;
  }
  return Buffer();
}

// Calls `step` until it is done, waiting on the socket in between; completes with
// void(error_code, std::size_t) when ReportsBytes, void(error_code) otherwise.
template <class Step, bool ReportsBytes>
class tls_io_op {
 public:
  tls_io_op(tcp::socket& socket, Step step) : socket_(socket), step_(std::move(step)) {}

  template <class Self>
  void operator()(Self& self, error_code ec = {}) {
    if (done_) return finish(self);  // the post below came back
    if (ec) {
      result_ = {tls_want::nothing, 0, ec};
      return finish(self);
    }
    result_ = step_();
    switch (result_.want) {
      case tls_want::read:
        waited_ = true;
        return socket_.async_wait(tcp::socket::wait_read, std::move(self));
      case tls_want::write:
        waited_ = true;
        return socket_.async_wait(tcp::socket::wait_write, std::move(self));
      case tls_want::nothing:
        break;
    }
    if (!waited_) {
      // Done within the initiating function: the handler must still run later.
      done_ = true;
      return asio::post(socket_.get_executor(), std::move(self));
    }
    finish(self);
  }

 private:
  template <class Self>
  void finish(Self& self) {
    if constexpr (ReportsBytes) {
      self.complete(result_.ec, result_.bytes);
    } else {
      self.complete(result_.ec);
    }
  }

  tcp::socket& socket_;
  Step step_;
  tls_step result_;
  bool waited_ = false;
  bool done_ = false;
};

}  // namespace detail

class tls_socket {
 public:
  using executor_type = tcp::socket::executor_type;
  using next_layer_type = tcp::socket;
  using lowest_layer_type = tcp::socket::lowest_layer_type;

  // The largest plaintext of one TLS record (RFC 8446 5.1): what a write of several buffers
  // gathers into one record.
  static constexpr std::size_t max_record_bytes = 16 * 1024;

  // The SSL object holds its own reference to the context's SSL_CTX. Throws
  // boost::system::system_error if OpenSSL cannot make one (out of memory).
  tls_socket(tcp::socket socket, ssl::context& context);
  // An unopened socket, to accept into through next_layer() (as ssl::stream(io, context)).
  template <class ExecutionContextOrExecutor>
  tls_socket(ExecutionContextOrExecutor&& where, ssl::context& context)
      : tls_socket(tcp::socket(std::forward<ExecutionContextOrExecutor>(where)), context) {}
  tls_socket(tls_socket&& other) noexcept;
  tls_socket& operator=(tls_socket&& other) noexcept;
  tls_socket(const tls_socket&) = delete;
  tls_socket& operator=(const tls_socket&) = delete;
  ~tls_socket();

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  tcp::socket& next_layer() noexcept { return socket_; }
  const tcp::socket& next_layer() const noexcept { return socket_; }
  lowest_layer_type& lowest_layer() noexcept { return socket_.lowest_layer(); }
  SSL* native_handle() noexcept { return ssl_; }

  // Handler: void(error_code). The server side unless told otherwise.
  template <class Token>
  auto async_handshake(ssl::stream_base::handshake_type type, Token&& token) {
    auto step = [this, type] { return handshake_step(type); };
    return run<false>(std::move(step), std::forward<Token>(token));
  }
  template <class Token>
  auto async_handshake(Token&& token) {
    return async_handshake(ssl::stream_base::server, std::forward<Token>(token));
  }

  // Handler: void(error_code, std::size_t). Reads into the first non-empty buffer.
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    const auto into = detail::first_nonempty<asio::mutable_buffer>(buffers);
    auto step = [this, into] { return read_step(into.data(), into.size()); };
    return run<true>(std::move(step), std::forward<Token>(token));
  }

  // Handler: void(error_code, std::size_t). Writes from the first non-empty buffer; when that
  // one is short and more follow (Beast's frame header, then its payload), the first record's
  // worth of them is gathered first, so a small header does not cost a record of its own.
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    auto from = detail::first_nonempty<asio::const_buffer>(buffers);
    std::unique_ptr<char[]> gathered;
    if (const std::size_t total = asio::buffer_size(buffers); from.size() < total && from.size() < max_record_bytes) {
      const std::size_t size = std::min(total, max_record_bytes);
      gathered = std::make_unique_for_overwrite<char[]>(size);
      asio::buffer_copy(asio::buffer(gathered.get(), size), buffers);
      from = asio::const_buffer(gathered.get(), size);
    }
    // The same pointer and size on every retry (SSL_write's rule after WANT_WRITE).
    auto step = [this, from, gathered = std::move(gathered)] { return write_step(from.data(), from.size()); };
    return run<true>(std::move(step), std::forward<Token>(token));
  }

  // Without waiting: encrypts and sends a record (up to max_record_bytes) of `bytes` now and
  // returns how many of them OpenSSL took. When the socket cannot take it: 0, `ec`
  // would_block, and `wait` says what to wait for on next_layer() before calling again with
  // the same bytes first (they may have moved, and more may follow them: OpenSSL holds the
  // record it made and sends it before anything else, and counts it in what the call that
  // gets through returns, which may then exceed one record). For a caller that writes from
  // its own queue as it would to a non-blocking socket: no copy, no operation object per
  // write. Not while an async_write_some is in flight.
  std::size_t try_write_some(asio::const_buffer bytes, tcp::socket::wait_type& wait, error_code& ec);

  // Handler: void(error_code). Sends close_notify, then waits for the peer's.
  template <class Token>
  auto async_shutdown(Token&& token) {
    auto step = [this] { return shutdown_step(); };
    return run<false>(std::move(step), std::forward<Token>(token));
  }

 private:
  template <bool ReportsBytes, class Step, class Token>
  auto run(Step step, Token&& token) {
    using signature = std::conditional_t<ReportsBytes, void(error_code, std::size_t), void(error_code)>;
    return asio::async_compose<Token, signature>(detail::tls_io_op<Step, ReportsBytes>(socket_, std::move(step)),
                                                 token, socket_);
  }

  // One OpenSSL call that returns what it moved (or 1 for a finished handshake) when it succeeds.
  template <class Call>
  detail::tls_step transfer(Call call);
  detail::tls_step handshake_step(ssl::stream_base::handshake_type type);
  detail::tls_step read_step(void* data, std::size_t size);
  detail::tls_step write_step(const void* data, std::size_t size);
  detail::tls_step shutdown_step();
  // Points the SSL object at the socket's descriptor (once it is open, and again if it changed).
  bool attach(error_code& ec);
  detail::tls_step outcome(int result, int saved_errno);

  tcp::socket socket_;
  SSL* ssl_;
  int attached_fd_ = -1;  // the descriptor the SSL object's BIO sends to and receives from
};

// For beast::websocket::stream<tls_socket>, found by argument-dependent lookup: close the TLS
// session (close_notify both ways), then the TCP connection as Beast does for a plain socket.
// Only the asynchronous one: tls_socket has no synchronous reads and writes (the daemon makes
// none), so Beast's synchronous calls, the only users of teardown(), cannot compile over it.

namespace detail {

class tls_teardown_op {
 public:
  tls_teardown_op(tls_socket& socket, boost::beast::role_type role) : socket_(socket), role_(role) {}

  template <class Self>
  void operator()(Self& self, error_code ec = {}) {
    switch (stage_) {
      case stage::start:
        stage_ = stage::tls;
        return socket_.async_shutdown(std::move(self));
      case stage::tls:
        stage_ = stage::tcp;
        tls_error_ = ec;
        using boost::beast::websocket::async_teardown;
        return async_teardown(role_, socket_.next_layer(), std::move(self));
      case stage::tcp:
        self.complete(tls_error_ ? tls_error_ : ec);
        return;
    }
  }

 private:
  enum class stage { start, tls, tcp };
  tls_socket& socket_;
  boost::beast::role_type role_;
  stage stage_ = stage::start;
  error_code tls_error_;
};

}  // namespace detail

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, tls_socket& socket, TeardownHandler&& handler) {
  asio::async_compose<TeardownHandler, void(error_code)>(detail::tls_teardown_op(socket, role), handler, socket);
}

}  // namespace eventserver
