#include "eventserver/tls/tls_socket.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstdint>

namespace eventserver {

namespace {

using detail::tls_step;
using detail::tls_want;

tls_step done(std::size_t bytes = 0) { return {tls_want::nothing, bytes, {}}; }
tls_step failed(const error_code& ec) { return {tls_want::nothing, 0, ec}; }

// One entry of OpenSSL's error queue as an error_code: the end of the connection without a
// close_notify is Asio's stream_truncated, a system call's failure its errno, anything else
// OpenSSL's own code (whose message is its reason, "certificate verify failed" and the like).
error_code from_openssl(unsigned long code) {
  if (ERR_GET_LIB(code) == ERR_LIB_SYS) return {ERR_GET_REASON(code), boost::system::system_category()};
  if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return ssl::error::stream_truncated;
  }
  return {static_cast<int>(code), asio::error::get_ssl_category()};
}

int clamp(std::size_t size) { return static_cast<int>(std::min<std::size_t>(size, INT_MAX)); }

// OpenSSL's own socket BIO (SSL_set_fd) writes with write(2), which raises SIGPIPE on a
// connection the peer reset; this one sends with MSG_NOSIGNAL, as Asio does, so a vanished
// client is an error code whatever the process does with SIGPIPE. No buffer of its own: the
// descriptor is its only state.
int descriptor(BIO* bio) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio))); }

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

// As OpenSSL's socket BIO answers: bytes moved, 0 at the end of the stream, -1 on an error
// (errno says which; a retry flag when the socket would block).
int socket_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t sent = ::send(descriptor(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (sent < 0 && would_block(errno)) BIO_set_retry_write(bio);
  return static_cast<int>(sent);
}

int socket_read(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t got = ::recv(descriptor(bio), data, static_cast<std::size_t>(size), 0);
  if (got == 0) {
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);  // OpenSSL asks (BIO_eof) to tell truncation apart
  } else if (got < 0 && would_block(errno)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(got);
}

long socket_control(BIO* bio, int command, long, void* out) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_C_GET_FD:  // SSL_get_fd
      if (out != nullptr) *static_cast<int*>(out) = descriptor(bio);
      return descriptor(bio);
    case BIO_CTRL_EOF:
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    default:
      return 0;
  }
}

// One method for the process, made on first use and kept.
const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "eventserver socket");
    if (m == nullptr || BIO_meth_set_write(m, socket_write) != 1 || BIO_meth_set_read(m, socket_read) != 1 ||
        BIO_meth_set_ctrl(m, socket_control) != 1) {
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;
}

}  // namespace

tls_socket::tls_socket(tcp::socket socket, ssl::context& context)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
  if (ssl_ == nullptr) {
    const error_code ec(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
    ERR_clear_error();
    throw boost::system::system_error(ec, "SSL_new");
  }
  // Partial writes: a write completes with the records that went out, as write_some should.
  // A moving buffer: within one operation a retry passes the same pointer, but a caller that
  // cancels a write waiting for the socket may start it again from a buffer that moved. Released
  // buffers: an idle connection holds no record buffers (the context sets it too; this class
  // promises it whatever the context says).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

tls_socket::tls_socket(tls_socket&& other) noexcept
    : socket_(std::move(other.socket_)),
      ssl_(std::exchange(other.ssl_, nullptr)),
      attached_fd_(std::exchange(other.attached_fd_, -1)) {}

tls_socket& tls_socket::operator=(tls_socket&& other) noexcept {
  if (this != &other) {
    SSL_free(ssl_);
    socket_ = std::move(other.socket_);
    ssl_ = std::exchange(other.ssl_, nullptr);
    attached_fd_ = std::exchange(other.attached_fd_, -1);
  }
  return *this;
}

// The BIO does not close the descriptor: the socket does.
tls_socket::~tls_socket() { SSL_free(ssl_); }

bool tls_socket::attach(error_code& ec) {
  if (ssl_ == nullptr || !socket_.is_open()) {
    // Never an OpenSSL call on a closed descriptor: its number may already be another socket's.
    ec = asio::error::bad_descriptor;
    return false;
  }
  const int fd = socket_.native_handle();
  if (fd == attached_fd_) return true;
  socket_.non_blocking(true, ec);
  if (ec) return false;
  const BIO_METHOD* method = socket_method();
  BIO* bio = method == nullptr ? nullptr : BIO_new(method);
  if (bio == nullptr) {
    ec = from_openssl(ERR_get_error());
    ERR_clear_error();
    return false;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // the SSL object owns it (one reference for both directions)
  attached_fd_ = fd;
  return true;
}

tls_step tls_socket::outcome(int result, int saved_errno) {
  const int reason = SSL_get_error(ssl_, result);
  switch (reason) {
    case SSL_ERROR_WANT_READ:
      return {tls_want::read, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      return {tls_want::write, 0, {}};
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      return failed(asio::error::eof);
    default:
      break;
  }
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code != 0) return failed(from_openssl(code));
  if (reason == SSL_ERROR_SYSCALL && result < 0 && saved_errno != 0) {
    return failed(error_code(saved_errno, boost::system::system_category()));
  }
  // SSL_ERROR_SYSCALL with nothing queued and no errno: the peer closed the connection
  // without a close_notify.
  if (reason == SSL_ERROR_SYSCALL) return failed(ssl::error::stream_truncated);
  return failed(ssl::error::unexpected_result);
}

template <class Call>
tls_step tls_socket::transfer(Call call) {
  error_code ec;
  if (!attach(ec)) return failed(ec);
  ERR_clear_error();
  errno = 0;
  const int result = call();
  const int saved_errno = errno;
  if (result > 0) return done(static_cast<std::size_t>(result));
  return outcome(result, saved_errno);
}

tls_step tls_socket::handshake_step(ssl::stream_base::handshake_type type) {
  // SSL_accept and SSL_connect set the role on the first call only, so calling again after a
  // wait continues the handshake. Both return 1 when it is done.
  return transfer([&] { return type == ssl::stream_base::server ? SSL_accept(ssl_) : SSL_connect(ssl_); });
}

tls_step tls_socket::read_step(void* data, std::size_t size) {
  if (size == 0) return done();
  return transfer([&] { return SSL_read(ssl_, data, clamp(size)); });
}

tls_step tls_socket::write_step(const void* data, std::size_t size) {
  if (size == 0) return done();
  return transfer([&] { return SSL_write(ssl_, data, clamp(size)); });
}

std::size_t tls_socket::try_write_some(asio::const_buffer bytes, tcp::socket::wait_type& wait, error_code& ec) {
  const tls_step step = write_step(bytes.data(), bytes.size());
  ec = step.ec;
  switch (step.want) {
    case tls_want::read:
      wait = tcp::socket::wait_read;
      ec = asio::error::would_block;
      return 0;
    case tls_want::write:
      wait = tcp::socket::wait_write;
      ec = asio::error::would_block;
      return 0;
    case tls_want::nothing:
      break;
  }
  return step.bytes;
}

tls_step tls_socket::shutdown_step() {
  error_code ec;
  if (!attach(ec)) return failed(ec);
  ERR_clear_error();
  errno = 0;
  // The first call sends close_notify (0: sent, the peer's not yet seen); a later one reads
  // the peer's (1), discarding any application data still arriving.
  int result = SSL_shutdown(ssl_);
  if (result == 0) result = SSL_shutdown(ssl_);
  const int saved_errno = errno;
  if (result == 1) return done();
  if (result == 0) return {tls_want::read, 0, {}};
  return outcome(result, saved_errno);
}

}  // namespace eventserver
