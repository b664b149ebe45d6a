// The server's TLS context on its own: what it accepts to be built from, and what a real
// handshake over loopback then allows (versions, client certificates). Certificates are made
// fresh by tests/support/make_test_certs.sh with Debian's openssl command.
#include "eventserver/tls/tls_context.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ssl/stream.hpp>
#include <optional>
#include <string>

#include "support/test_certs.hpp"

namespace eventserver {
namespace {

using ::testing::HasSubstr;

using certificates = test_support::test_certs;

const certificates& certs() {
  static const certificates made;
  return made;
}

struct client_options {
  std::string trust = "ca.pem";
  std::optional<std::string> certificate = std::nullopt;  // a name: <name>.pem and <name>.key
  int max_version = 0;                                    // 0: the library's highest
};

struct handshake_result {
  error_code server;
  error_code client;
  std::string server_message;
};

// One TLS handshake over loopback between a server on `context` and a client as `options`
// says, then one line from server to client to show that data flows.
handshake_result handshake(const std::shared_ptr<ssl::context>& context, const client_options& options) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ssl::context client_context(ssl::context::tls_client);
  client_context.add_certificate_authority(asio::buffer(certs().read(options.trust)));
  client_context.set_verify_mode(ssl::verify_peer);
  if (options.certificate) {
    client_context.use_certificate_chain(asio::buffer(certs().read(*options.certificate + ".pem")));
    client_context.use_private_key(asio::buffer(certs().read(*options.certificate + ".key")), ssl::context::pem);
  }
  if (options.max_version != 0) SSL_CTX_set_max_proto_version(client_context.native_handle(), options.max_version);

  ssl::stream<tcp::socket> server(io, *context);
  ssl::stream<tcp::socket> client(io, client_context);
  handshake_result result;
  std::string received(16, '\0');
  acceptor.async_accept(server.next_layer(), [&](const error_code& ec) {
    if (ec) return;
    server.async_handshake(ssl::stream_base::server, [&](const error_code& hs) {
      result.server = hs;
      if (!hs) asio::async_write(server, asio::buffer(std::string_view("1|B\r\n")), [](const error_code&, std::size_t) {});
    });
  });
  client.next_layer().async_connect(acceptor.local_endpoint(), [&](const error_code& ec) {
    if (ec) return;
    client.async_handshake(ssl::stream_base::client, [&](const error_code& hs) {
      result.client = hs;
      if (!hs) {
        asio::async_read(client, asio::buffer(received.data(), 5), [&](const error_code&, std::size_t n) {
          result.server_message = received.substr(0, n);
        });
      } else {
        client.next_layer().close();
      }
    });
  });
  io.run_for(std::chrono::seconds(10));
  return result;
}

TEST(TlsContext, AGoodPairServesAClientThatTrustsItsCa) {
  const auto context = make_server_context(certs().server());
  const auto result = handshake(context, {});
  EXPECT_FALSE(result.server) << result.server.message();
  EXPECT_FALSE(result.client) << result.client.message();
  EXPECT_EQ(result.server_message, "1|B\r\n");
}

TEST(TlsContext, AClientTrustingAnotherCaRefusesTheServer) {
  const auto result = handshake(make_server_context(certs().server()), {.trust = "other-ca.pem"});
  EXPECT_TRUE(result.client);
  EXPECT_TRUE(result.server);
}

TEST(TlsContext, AKeyOfAnotherCertificateIsRefusedNamingTheFile) {
  tls_material m = certs().server();
  m.private_key = certs().read("server2.key");
  m.key_file = certs().file("server2.key");
  try {
    make_server_context(m);
    FAIL() << "expected tls_error";
  } catch (const tls_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("tlsKeyFile " + certs().file("server2.key") + ": does not belong to the certificate"));
  }
}

TEST(TlsContext, WhatIsNotPemIsRefusedNamingTheFile) {
  tls_material m = certs().server();
  m.certificate_chain = "not a certificate";
  EXPECT_THROW(
      {
        try {
          make_server_context(m);
        } catch (const tls_error& e) {
          EXPECT_THAT(e.what(), HasSubstr("tlsCertFile " + certs().file("server.pem") + ": not a PEM certificate chain"));
          throw;
        }
      },
      tls_error);
  m = certs().server();
  m.private_key = certs().read("server.pem");  // a certificate where the key should be
  EXPECT_THROW(make_server_context(m), tls_error);
  m = certs().server();
  m.client_ca = "garbage";
  m.client_ca_file = "/etc/ca.pem";
  try {
    make_server_context(m);
    FAIL() << "expected tls_error";
  } catch (const tls_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("tlsClientCaFile /etc/ca.pem: not a PEM certificate"));
  }
}

TEST(TlsContext, TheLowestVersionIsEnforced) {
  tls_material m = certs().server();
  EXPECT_FALSE(handshake(make_server_context(m), {.max_version = TLS1_2_VERSION}).client);
  m.min_version = "1.3";
  const auto context = make_server_context(m);
  EXPECT_TRUE(handshake(context, {.max_version = TLS1_2_VERSION}).client);
  EXPECT_FALSE(handshake(context, {}).client);
  m.min_version = "1.1";
  EXPECT_THROW(make_server_context(m), tls_error);
  EXPECT_TRUE(valid_tls_min_version("1.2"));
  EXPECT_FALSE(valid_tls_min_version("1.0"));
}

TEST(TlsContext, WithAClientCaOnlyClientsItSignedGetIn) {
  tls_material m = certs().server();
  m.client_ca = certs().read("ca.pem");
  const auto context = make_server_context(m);
  const auto without = handshake(context, {});
  EXPECT_TRUE(without.server);
  EXPECT_EQ(without.server_message, "");
  const auto other = handshake(context, {.certificate = "other"});
  EXPECT_TRUE(other.server);
  const auto signed_by_ca = handshake(context, {.certificate = "client"});
  EXPECT_FALSE(signed_by_ca.server) << signed_by_ca.server.message();
  EXPECT_EQ(signed_by_ca.server_message, "1|B\r\n");
}

}  // namespace
}  // namespace eventserver
