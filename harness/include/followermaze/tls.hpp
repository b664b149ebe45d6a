#pragma once
// Client connections with or without TLS, non-blocking, for the client thread's epoll loop
// (--tls). One SSL_CTX for the run: TLS 1.2 at least, the daemon's certificate verified against
// --tls-ca and the expected name (an IP address SAN for `host`, or the DNS name given with
// --tls-server-name, which also goes out as SNI), an optional client certificate.
//
// The I/O calls turn both kinds of socket into one outcome: bytes, or "wait until readable",
// "wait until writable" (an SSL_read may need to write and an SSL_write to read), the peer's
// end of stream, or an error. With TLS, decrypted bytes may wait inside the SSL object while the
// socket has nothing left to read (a record larger than the read): tls_pending() says so, and
// the caller must read again without waiting for epoll.

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace followermaze {

struct tls_settings {
  std::string ca_file;
  std::string cert_file;  // empty: no client certificate
  std::string key_file;
  std::string server_name;  // a DNS name, or an IP address literal
};

struct tls_free {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};
using tls_session = std::unique_ptr<SSL, tls_free>;

class tls_context {
 public:
  tls_context() = default;
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  // Loads the CA (and the client certificate); returns the error, empty on success.
  std::string init(const tls_settings& settings);
  bool enabled() const noexcept { return ctx_ != nullptr; }
  const std::string& server_name() const noexcept { return server_name_; }

  // A client session over the connected socket `fd`, set to verify the server; null with
  // `error` set when OpenSSL refuses.
  tls_session start(int fd, std::string& error) const;

 private:
  SSL_CTX* ctx_ = nullptr;
  std::string server_name_;
  bool name_is_address_ = false;
};

enum class io_status : std::uint8_t {
  ok,          // `bytes` moved (a handshake: it is done)
  want_read,   // nothing more until the socket is readable
  want_write,  // nothing more until the socket is writable
  closed,      // the peer's end of stream (a TLS close_notify, or a plain EOF)
  failed,      // an error: `error` says which
};

struct io_result {
  std::size_t bytes = 0;
  io_status status = io_status::ok;
  std::string error;
};

// `tls` null: a plain socket.
io_result stream_read(int fd, SSL* tls, char* data, std::size_t size);
io_result stream_write(int fd, SSL* tls, const char* data, std::size_t size);
// One step of the client handshake; `ok` once it is done. A failed verification says why.
io_result tls_handshake(SSL* tls);
bool tls_pending(SSL* tls) noexcept;
// "TLSv1.3 TLS_AES_256_GCM_SHA384", for the report.
std::string tls_description(SSL* tls);

}  // namespace followermaze
