#include "followermaze/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace followermaze {

namespace {

// The newest error on this thread's OpenSSL queue, which is then emptied.
std::string openssl_error(std::string_view fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(fallback);
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

bool is_address(const std::string& name) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, name.c_str(), &v4) == 1 || inet_pton(AF_INET6, name.c_str(), &v6) == 1;
}

// What an SSL call's result means; `what` names the call for the error text.
io_result outcome_of(SSL* tls, int result, const char* what) {
  io_result io;
  const int error = SSL_get_error(tls, result);
  switch (error) {
    case SSL_ERROR_NONE:
      io.bytes = result > 0 ? static_cast<std::size_t>(result) : 0;
      return io;
    case SSL_ERROR_WANT_READ: io.status = io_status::want_read; return io;
    case SSL_ERROR_WANT_WRITE: io.status = io_status::want_write; return io;
    case SSL_ERROR_ZERO_RETURN: io.status = io_status::closed; return io;
    case SSL_ERROR_SYSCALL: {
      const int saved = errno;
      if (ERR_peek_error() == 0 && (saved == 0 || result == 0)) {
        io.status = io_status::closed;  // end of stream without close_notify
        return io;
      }
      io.status = io_status::failed;
      io.error = std::string(what) + ": " + (ERR_peek_error() != 0 ? openssl_error("") : std::strerror(saved));
      return io;
    }
    default: {
      io.status = io_status::failed;
      io.error = std::string(what) + ": " + openssl_error("TLS error " + std::to_string(error));
      const long verify = SSL_get_verify_result(tls);
      if (verify != X509_V_OK) {
        io.error += " (certificate verification: " + std::string(X509_verify_cert_error_string(verify)) + ")";
      }
      return io;
    }
  }
}

}  // namespace

tls_context::~tls_context() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

std::string tls_context::init(const tls_settings& settings) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return "SSL_CTX_new: " + openssl_error("failed");
  const auto fail = [ctx](std::string message) {
    SSL_CTX_free(ctx);
    return message;
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Writes go out of a buffer that may grow between two tries (a handshake line, then a pong),
  // and a partial write is progress like any other.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // An end of stream without close_notify reads as an end of stream: the harness learns what
  // it needs from the lines it got, and a daemon killed by --survive-restarts sends none.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_load_verify_locations(ctx, settings.ca_file.c_str(), nullptr) != 1) {
    return fail("tls-ca " + settings.ca_file + ": " + openssl_error("cannot load"));
  }
  if (!settings.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, settings.cert_file.c_str()) != 1) {
      return fail("tls-cert " + settings.cert_file + ": " + openssl_error("cannot load"));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, settings.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail("tls-key " + settings.key_file + ": " + openssl_error("cannot load"));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return fail("tls-key " + settings.key_file + " does not match tls-cert " + settings.cert_file);
    }
  }
  if (settings.server_name.empty()) return fail("tls: no server name to verify the certificate for");
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  ctx_ = ctx;
  server_name_ = settings.server_name;
  name_is_address_ = is_address(server_name_);
  return {};
}

tls_session tls_context::start(int fd, std::string& error) const {
  ERR_clear_error();
  tls_session session(SSL_new(ctx_));
  if (!session) {
    error = "SSL_new: " + openssl_error("failed");
    return nullptr;
  }
  SSL* ssl = session.get();
  bool named = false;
  if (name_is_address_) {
    // An address is checked against the certificate's IP SANs, and never sent as SNI (RFC 6066).
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name_.c_str()) == 1;
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    named = SSL_set1_host(ssl, server_name_.c_str()) == 1 &&
            SSL_set_tlsext_host_name(ssl, const_cast<char*>(server_name_.c_str())) == 1;
  }
  if (!named || SSL_set_fd(ssl, fd) != 1) {
    error = "setting up TLS for " + server_name_ + ": " + openssl_error("failed");
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  return session;
}

io_result stream_read(int fd, SSL* tls, char* data, std::size_t size) {
  if (tls != nullptr) {
    ERR_clear_error();
    errno = 0;
    std::size_t got = 0;
    const int result = SSL_read_ex(tls, data, size, &got);
    if (result == 1) return {got, io_status::ok, {}};
    return outcome_of(tls, result, "TLS read");
  }
  const ssize_t n = recv(fd, data, size, 0);
  if (n > 0) return {static_cast<std::size_t>(n), io_status::ok, {}};
  if (n == 0) return {0, io_status::closed, {}};
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {0, io_status::want_read, {}};
  return {0, io_status::failed, std::strerror(errno)};
}

io_result stream_write(int fd, SSL* tls, const char* data, std::size_t size) {
  if (size == 0) return {};
  if (tls != nullptr) {
    ERR_clear_error();
    errno = 0;
    std::size_t put = 0;
    const int result = SSL_write_ex(tls, data, size, &put);
    if (result == 1) return {put, io_status::ok, {}};
    return outcome_of(tls, result, "TLS write");
  }
  const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
  if (n >= 0) return {static_cast<std::size_t>(n), io_status::ok, {}};
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {0, io_status::want_write, {}};
  return {0, io_status::failed, std::strerror(errno)};
}

io_result tls_handshake(SSL* tls) {
  ERR_clear_error();
  errno = 0;
  const int result = SSL_do_handshake(tls);
  if (result == 1) return {};
  io_result io = outcome_of(tls, result, "TLS handshake");
  if (io.status == io_status::closed) {
    io.status = io_status::failed;
    io.error = "TLS handshake: the server closed the connection";
  }
  return io;
}

bool tls_pending(SSL* tls) noexcept { return tls != nullptr && SSL_pending(tls) > 0; }

std::string tls_description(SSL* tls) {
  if (tls == nullptr) return "plain";
  return std::string(SSL_get_version(tls)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(tls));
}

}  // namespace followermaze
