#pragma once
// The server side of TLS for the client and WebSocket listeners: Asio's ssl::context (OpenSSL 3)
// built from PEM bytes the caller has read (app/ reads the files, bounded, on a helper thread
// when SIGHUP reloads them), so this layer does no file I/O.
//
// What every context gets: the certificate chain and its key, checked to belong together;
// TLS 1.2 or 1.3 as the lowest version (no SSLv3, TLS 1.0 or 1.1 whatever the system's
// defaults); no compression and no renegotiation (a client-initiated renegotiation costs the
// server a handshake for the price of a few bytes). With a client CA, every client must show
// a certificate that CA signed, or the handshake fails.
//
// A context is immutable once built. Sessions hold the one they started with through a
// shared_ptr, so a reload (a new context) never touches a live connection.

#include <memory>
#include <stdexcept>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "eventserver/net/asio.hpp"

namespace eventserver {

namespace ssl = asio::ssl;

struct tls_material {
  std::string certificate_chain;  // PEM: the server's certificate, then any intermediates
  std::string private_key;        // PEM, unencrypted
  std::string client_ca;          // PEM; empty: clients are not asked for a certificate
  std::string min_version = "1.2";  // "1.2" or "1.3"
  // The files they came from, for messages only.
  std::string certificate_file;
  std::string key_file;
  std::string client_ca_file;
};

// A certificate, key or CA that cannot be used; the message names the file and says why.
class tls_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws tls_error.
std::shared_ptr<ssl::context> make_server_context(const tls_material& material);

// "1.2" and "1.3": the versions a deployment may ask for as its lowest.
bool valid_tls_min_version(const std::string& version) noexcept;

}  // namespace eventserver
