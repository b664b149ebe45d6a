#include "followermaze/tls.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "followermaze/net.hpp"

namespace followermaze {
namespace {

// Certificates made for the test: a CA, a server certificate for localhost and 127.0.0.1, a
// client certificate, all signed by the CA; and a second CA that signed nothing here.
struct key_free {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct cert_free {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, key_free>;
using cert_ptr = std::unique_ptr<X509, cert_free>;

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(extension, nullptr);
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

cert_ptr make_cert(const char* common_name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, const char* san,
                   bool ca) {
  cert_ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  add_extension(cert.get(), signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san != nullptr) add_extension(cert.get(), signer, NID_subject_alt_name, san);
  X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return cert;
}

std::string temp_path(const char* name) { return std::string("/tmp/followermaze_tls_test_") + std::to_string(getpid()) + "_" + name; }

void write_cert(const std::string& path, X509* cert) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
}

void write_key(const std::string& path, EVP_PKEY* key) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_key_.reset(EVP_EC_gen("P-256"));
    ca_.reset(make_cert("test CA", ca_key_.get(), nullptr, nullptr, nullptr, true).release());
    server_key_.reset(EVP_EC_gen("P-256"));
    server_.reset(
        make_cert("localhost", server_key_.get(), ca_.get(), ca_key_.get(), "DNS:localhost,IP:127.0.0.1", false).release());
    client_key_.reset(EVP_EC_gen("P-256"));
    client_.reset(make_cert("client", client_key_.get(), ca_.get(), ca_key_.get(), nullptr, false).release());
    key_ptr other_key(EVP_EC_gen("P-256"));
    cert_ptr other_ca = make_cert("other CA", other_key.get(), nullptr, nullptr, nullptr, true);
    write_cert(temp_path("ca.pem"), ca_.get());
    write_cert(temp_path("other_ca.pem"), other_ca.get());
    write_cert(temp_path("client.pem"), client_.get());
    write_key(temp_path("client.key"), client_key_.get());
    write_key(temp_path("other.key"), other_key.get());
  }
  static void TearDownTestSuite() {
    for (const char* name : {"ca.pem", "other_ca.pem", "client.pem", "client.key", "other.key"}) {
      std::remove(temp_path(name).c_str());
    }
    ca_.reset();
    server_.reset();
    client_.reset();
    ca_key_.reset();
    server_key_.reset();
    client_key_.reset();
  }

  // A TLS server on one end of a socket pair, both ends non-blocking; the test steps both.
  struct pair {
    int client_fd = -1;
    int server_fd = -1;
    SSL_CTX* server_ctx = nullptr;
    SSL* server = nullptr;
    ~pair() {
      if (server != nullptr) SSL_free(server);
      if (server_ctx != nullptr) SSL_CTX_free(server_ctx);
      if (client_fd >= 0) close(client_fd);
      if (server_fd >= 0) close(server_fd);
    }
  };

  static std::unique_ptr<pair> make_pair(bool want_client_cert = false) {
    auto p = std::make_unique<pair>();
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    p->client_fd = fds[0];
    p->server_fd = fds[1];
    set_nonblocking(p->client_fd);
    set_nonblocking(p->server_fd);
    p->server_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(p->server_ctx, server_.get());
    SSL_CTX_use_PrivateKey(p->server_ctx, server_key_.get());
    if (want_client_cert) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(p->server_ctx), ca_.get());
      SSL_CTX_set_verify(p->server_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    p->server = SSL_new(p->server_ctx);
    SSL_set_fd(p->server, p->server_fd);
    SSL_set_accept_state(p->server);
    return p;
  }

  // Steps both handshakes until the client's is done or fails; the client's last result.
  static io_result handshake(pair& p, SSL* client) {
    for (int i = 0; i < 100; ++i) {
      const io_result step = tls_handshake(client);
      SSL_do_handshake(p.server);
      if (step.status == io_status::ok || step.status == io_status::failed) return step;
    }
    return {0, io_status::failed, "no progress"};
  }

  static tls_settings settings(const std::string& name) { return {temp_path("ca.pem"), "", "", name}; }

  static inline cert_ptr ca_, server_, client_;
  static inline key_ptr ca_key_, server_key_, client_key_;
};

TEST_F(Tls, VerifiesAnIpAddressAndReadsWhatTheServerWrites) {
  tls_context context;
  ASSERT_EQ(context.init(settings("127.0.0.1")), "");
  auto p = make_pair();
  std::string error;
  tls_session client = context.start(p->client_fd, error);
  ASSERT_TRUE(client) << error;
  const io_result done = handshake(*p, client.get());
  ASSERT_EQ(done.status, io_status::ok) << done.error;
  EXPECT_EQ(SSL_get_servername(p->server, TLSEXT_NAMETYPE_host_name), nullptr);  // no SNI for an address
  EXPECT_NE(tls_description(client.get()).find("TLS"), std::string::npos);

  // Nothing yet: wait for readable.
  char buffer[16];
  EXPECT_EQ(stream_read(p->client_fd, client.get(), buffer, sizeof buffer).status, io_status::want_read);
  ASSERT_EQ(SSL_write(p->server, "hello", 5), 5);
  // A read smaller than the record leaves the rest inside the SSL object, not in the socket.
  io_result got = stream_read(p->client_fd, client.get(), buffer, 2);
  ASSERT_EQ(got.status, io_status::ok) << got.error;
  EXPECT_EQ(std::string(buffer, got.bytes), "he");
  EXPECT_TRUE(tls_pending(client.get()));
  got = stream_read(p->client_fd, client.get(), buffer, sizeof buffer);
  EXPECT_EQ(std::string(buffer, got.bytes), "llo");
  EXPECT_FALSE(tls_pending(client.get()));

  const io_result put = stream_write(p->client_fd, client.get(), "2932\r\n", 6);
  EXPECT_EQ(put.status, io_status::ok);
  EXPECT_EQ(put.bytes, 6U);
  char line[8];
  EXPECT_EQ(SSL_read(p->server, line, sizeof line), 6);

  SSL_shutdown(p->server);  // close_notify: the end of the stream
  EXPECT_EQ(stream_read(p->client_fd, client.get(), buffer, sizeof buffer).status, io_status::closed);
}

TEST_F(Tls, VerifiesADnsNameAndSendsItAsSni) {
  tls_context context;
  ASSERT_EQ(context.init(settings("localhost")), "");
  auto p = make_pair();
  std::string error;
  tls_session client = context.start(p->client_fd, error);
  ASSERT_EQ(handshake(*p, client.get()).status, io_status::ok);
  ASSERT_NE(SSL_get_servername(p->server, TLSEXT_NAMETYPE_host_name), nullptr);
  EXPECT_STREQ(SSL_get_servername(p->server, TLSEXT_NAMETYPE_host_name), "localhost");
}

TEST_F(Tls, RefusesAnotherNameAnotherAddressAndAnotherCa) {
  for (const auto& s : {settings("eventserver.example"), settings("127.0.0.2"),
                        tls_settings{temp_path("other_ca.pem"), "", "", "localhost"}}) {
    tls_context context;
    ASSERT_EQ(context.init(s), "");
    auto p = make_pair();
    std::string error;
    tls_session client = context.start(p->client_fd, error);
    const io_result done = handshake(*p, client.get());
    EXPECT_EQ(done.status, io_status::failed) << s.server_name;
    EXPECT_NE(done.error.find("certificate verification"), std::string::npos) << done.error;
  }
}

TEST_F(Tls, PresentsAClientCertificate) {
  {
    tls_context context;
    ASSERT_EQ(context.init({temp_path("ca.pem"), temp_path("client.pem"), temp_path("client.key"), "localhost"}), "");
    auto p = make_pair(/*want_client_cert=*/true);
    std::string error;
    tls_session client = context.start(p->client_fd, error);
    ASSERT_EQ(handshake(*p, client.get()).status, io_status::ok);
    // TLS 1.3 checks the client's certificate after the client is done: the server must be too.
    for (int i = 0; i < 10 && SSL_is_init_finished(p->server) == 0; ++i) SSL_do_handshake(p->server);
    EXPECT_EQ(SSL_is_init_finished(p->server), 1);
    X509* peer = SSL_get1_peer_certificate(p->server);
    ASSERT_NE(peer, nullptr);
    X509_free(peer);
  }
  tls_context mismatched;
  EXPECT_NE(mismatched.init({temp_path("ca.pem"), temp_path("client.pem"), temp_path("other.key"), "localhost"})
                .find("tls-key"),
            std::string::npos);
  tls_context missing;
  EXPECT_NE(missing.init({"/nonexistent/ca.pem", "", "", "localhost"}).find("tls-ca /nonexistent/ca.pem"),
            std::string::npos);
  EXPECT_FALSE(missing.enabled());
}

TEST(TlsPlain, PlainSocketsGiveTheSameOutcomes) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  set_nonblocking(fds[0]);
  char buffer[8];
  EXPECT_EQ(stream_read(fds[0], nullptr, buffer, sizeof buffer).status, io_status::want_read);
  ASSERT_EQ(write(fds[1], "ab", 2), 2);
  const io_result got = stream_read(fds[0], nullptr, buffer, sizeof buffer);
  EXPECT_EQ(got.status, io_status::ok);
  EXPECT_EQ(got.bytes, 2U);
  EXPECT_EQ(stream_write(fds[0], nullptr, "xy", 2).bytes, 2U);
  ASSERT_EQ(read(fds[1], buffer, sizeof buffer), 2);  // unread, the close would be a reset
  close(fds[1]);
  EXPECT_EQ(stream_read(fds[0], nullptr, buffer, sizeof buffer).status, io_status::closed);
  EXPECT_FALSE(tls_pending(nullptr));
  close(fds[0]);
}

}  // namespace
}  // namespace followermaze
