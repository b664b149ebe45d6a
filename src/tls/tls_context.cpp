#include "eventserver/tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace eventserver {

namespace {

// OpenSSL's reason for the last failure (Asio's message for an ssl error is often only "error").
std::string why(const boost::system::system_error& e) {
  std::string reason = e.code().message();
  if (const unsigned long code = ERR_peek_last_error(); code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    reason = text;
  }
  ERR_clear_error();
  return reason;
}

[[noreturn]] void fail(const std::string& what, const std::string& file, const std::string& reason) {
  throw tls_error(what + " " + (file.empty() ? std::string("(in memory)") : file) + ": " + reason);
}

}  // namespace

bool valid_tls_min_version(const std::string& version) noexcept { return version == "1.2" || version == "1.3"; }

std::shared_ptr<ssl::context> make_server_context(const tls_material& material) {
  if (!valid_tls_min_version(material.min_version)) {
    throw tls_error("tlsMinVersion \"" + material.min_version + "\": must be \"1.2\" or \"1.3\"");
  }
  ERR_clear_error();
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, material.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION) != 1) {
    throw tls_error("cannot set the lowest TLS version to " + material.min_version);
  }
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // OpenSSL's own read and write buffers (~34 KiB a connection) are given back while a
  // connection is idle: thousands of quiet clients should cost their sockets, not buffers.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // Sessions resumed by a returning client (a ticket or a session id) must carry this
  // context's id: without one, OpenSSL refuses every resumption once client certificates are
  // verified ("session id context uninitialized"), and browsers and most TLS stacks resume.
  static constexpr unsigned char session_context[] = "eventserver";
  SSL_CTX_set_session_id_context(native, session_context, sizeof session_context - 1);
  // An encrypted key is refused, never prompted for: OpenSSL's default would ask on the
  // terminal and hang the reload thread.
  SSL_CTX_set_default_passwd_cb(native, [](char*, int, int, void*) { return 0; });

  try {
    context->use_certificate_chain(asio::buffer(material.certificate_chain));
  } catch (const boost::system::system_error& e) {
    fail("tlsCertFile", material.certificate_file, "not a PEM certificate chain (" + why(e) + ")");
  }
  const auto not_its_key = [&] {
    ERR_clear_error();
    fail("tlsKeyFile", material.key_file,
         "does not belong to the certificate in " +
             (material.certificate_file.empty() ? std::string("tlsCertFile") : material.certificate_file));
  };
  try {
    context->use_private_key(asio::buffer(material.private_key), ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    if (e.code().category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(e.code().value())) == X509_R_KEY_VALUES_MISMATCH) {
      not_its_key();
    }
    fail("tlsKeyFile", material.key_file, "not an unencrypted PEM private key (" + why(e) + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) not_its_key();

  if (!material.client_ca.empty()) {
    try {
      context->add_certificate_authority(asio::buffer(material.client_ca));
    } catch (const boost::system::system_error& e) {
      fail("tlsClientCaFile", material.client_ca_file, "not a PEM certificate (" + why(e) + ")");
    }
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  return context;
}

}  // namespace eventserver
