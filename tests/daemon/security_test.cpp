// TLS and authenticated clients (docs/security.md) against an in-process daemon over real
// loopback sockets: TLS on the client port and wss on the WebSocket port, what a TLS port does
// with plain text, stalls and unknown certificates, a certificate reload; JSON Web Tokens at
// the handshake (each refusal by reason), their expiry and refresh; protected mode for the
// admin port. Certificates come fresh from tests/support/make_test_certs.sh, tokens from the
// auth layer's signer. Every wait is bounded.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "eventserver/auth/token_signer.hpp"
#include "support/daemon.hpp"
#include "support/http.hpp"
#include "support/temp_directory.hpp"
#include "ws/ws_client.hpp"

namespace eventserver {
namespace {

using namespace test_support;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

// --- Files: certificates, a JWT secret, an admin token ----------------------------------------

class test_files : public temp_directory {
 public:
  test_files() : temp_directory("eventserver-security") {
    make_test_certificates(path());
    write("jwt.secret", secret + "\n");
    write("admin.token", admin_token + "\n");
  }
  void copy(const std::string& from, const std::string& to) const {
    fs::copy_file(path() / from, path() / to, fs::copy_options::overwrite_existing);
  }

  const std::string secret = "a shared secret of at least 32 bytes, for HS256";
  const std::string admin_token = "0123456789abcdef0123456789abcdef";
};

const test_files& files() {
  static const test_files made;
  return made;
}

config tls_config() {
  config c = test_config();
  c.client_tls = true;
  c.tls_cert_file = files().file("server.pem");
  c.tls_key_file = files().file("server.key");
  return c;
}

config jwt_config() {
  config c = test_config();
  c.client_auth = client_auth_mode::jwt;
  c.jwt_key_file = files().file("jwt.secret");
  return c;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A token for `sub`, expiring `ttl_seconds` from now, with any extra claims ("\"aud\":\"x\"").
std::string token_for(const std::string& sub, std::int64_t ttl_seconds = 600, const std::string& extra = "",
                      const std::string& secret = files().secret) {
  const auto signer = token_signer::from_key(token_algorithm::hs256, secret);
  std::string payload = "{\"sub\":\"" + sub + "\",\"exp\":" + std::to_string(unix_now() + ttl_seconds);
  if (!extra.empty()) payload += "," + extra;
  return signer.sign(payload + "}");
}

// Whether a connection the daemon should refuse ends without a byte written to it.
void expect_closed_silently(connection& client) {
  EXPECT_EQ(client.wait_closed(), read_status::eof);
  EXPECT_EQ(client.take_buffered(), "");
}

// --- A TLS client on its own io_context: every operation bounded by run_for ---------------------

class tls_client {
 public:
  explicit tls_client(std::uint16_t port, const std::string& ca = files().file("ca.pem"), const std::string& name = "")
      : context_(make_context(ca, name)), stream_(io_, context_) {
    stream_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification("localhost"));
    stream_.lowest_layer().connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
    ::SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
  }

  // The stream's SSL object copies the context's settings when it is made: all are set first.
  static ssl::context make_context(const std::string& ca, const std::string& name) {
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(ca);
    if (!name.empty()) {
      context.use_certificate_chain_file(files().file(name + ".pem"));
      context.use_private_key_file(files().file(name + ".key"), ssl::context::pem);
    }
    return context;
  }

  // The handshake's outcome (a TLS 1.3 server refuses a client certificate only after it:
  // then the first read fails).
  error_code handshake() {
    error_code result = asio::error::timed_out;
    stream_.async_handshake(ssl::stream_base::client, [&](const error_code& ec) { result = ec; });
    run();
    if (result) {
      // As a real client would: it leaves (Asio does not send the alert OpenSSL has queued).
      error_code ignored;
      stream_.lowest_layer().close(ignored);
    }
    return result;
  }
  void send(const std::string& bytes) {
    error_code result = asio::error::timed_out;
    asio::async_write(stream_, asio::buffer(bytes), [&](const error_code& ec, std::size_t) { result = ec; });
    run();
    ASSERT_FALSE(result) << result.message();
  }
  // The next `n` lines, fewer when the daemon closes or the wait bound passes.
  lines read_lines(std::size_t n) {
    lines result;
    while (result.size() < n) {
      error_code read_ec = asio::error::timed_out;
      std::size_t bytes = 0;
      asio::async_read_until(stream_, asio::dynamic_buffer(buffer_), "\r\n", [&](const error_code& ec, std::size_t b) {
        read_ec = ec;
        bytes = b;
      });
      run();
      if (read_ec) break;
      result.push_back(buffer_.substr(0, bytes - 2));
      buffer_.erase(0, bytes);
    }
    return result;
  }
  // Whether the daemon ends the connection (an error or EOF, not the wait bound).
  bool closed_by_daemon() {
    error_code read_ec = asio::error::timed_out;
    std::array<char, 256> sink{};
    for (;;) {
      read_ec = asio::error::timed_out;
      stream_.async_read_some(asio::buffer(sink), [&](const error_code& ec, std::size_t) { read_ec = ec; });
      run();
      if (read_ec) return read_ec != asio::error::timed_out;
    }
  }
  // The session to resume on a later connection (TLS 1.3 sends its ticket after the
  // handshake: read something first). Owned by the caller (SSL_SESSION_free).
  SSL_SESSION* session() { return ::SSL_get1_session(stream_.native_handle()); }
  void resume(SSL_SESSION* session) { ::SSL_set_session(stream_.native_handle(), session); }
  bool resumed() { return ::SSL_session_reused(stream_.native_handle()) == 1; }

  // The serial number of the certificate the daemon showed.
  std::string peer_serial() {
    X509* cert = ::SSL_get1_peer_certificate(stream_.native_handle());
    if (cert == nullptr) return "";
    const ASN1_INTEGER* serial = ::X509_get0_serialNumber(cert);
    std::string out(reinterpret_cast<const char*>(serial->data), static_cast<std::size_t>(serial->length));
    ::X509_free(cert);
    return out;
  }

 private:
  void run() {
    io_.restart();
    io_.run_for(wait_bound);
    if (!io_.stopped()) {
      error_code ignored;
      stream_.lowest_layer().close(ignored);
      io_.restart();
      io_.run_for(std::chrono::seconds(1));
    }
  }

  asio::io_context io_;
  ssl::context context_;
  ssl::stream<tcp::socket> stream_;
  std::string buffer_;
};

// Registers `client` as `line` and waits until the daemon has it.
void register_tls(test_daemon& d, tls_client& client, const std::string& line) {
  const auto before = d.stats().clients_registered;
  ASSERT_FALSE(client.handshake());
  client.send(line + "\r\n");
  ASSERT_TRUE(d.wait_until([before](server& s) { return s.stats().clients_registered > before; }));
}

// ================================ TLS ==========================================================

TEST(Tls, NotificationsArriveOverTlsAsOverTcp) {
  test_daemon d(tls_config());
  tls_client one(d.client_port());
  tls_client two(d.client_port());
  register_tls(d, one, "1");
  register_tls(d, two, "2");
  auto source = d.connect_source();
  source.send_lines({"3|F|2|1", "1|B", "2|P|5|1", "4|S|1", "5|P|1|2"});
  EXPECT_EQ(one.read_lines(3), (lines{"1|B", "2|P|5|1", "3|F|2|1"}));
  EXPECT_EQ(two.read_lines(3), (lines{"1|B", "4|S|1", "5|P|1|2"}));
  EXPECT_EQ(d.transport_stats().tls.handshake_failures, 0u);
}

// Thousands of notifications go out in far fewer writes: a TLS record per flush, not per line.
TEST(Tls, WritesAreCoalescedIntoRecords) {
  test_daemon d(tls_config());
  tls_client client(d.client_port());
  register_tls(d, client, "1");
  auto source = d.connect_source();
  lines events;
  for (int seq = 1; seq <= 5000; ++seq) events.push_back(std::to_string(seq) + "|B");
  source.send_lines(events);
  const lines got = client.read_lines(5000);
  ASSERT_EQ(got.size(), 5000u);
  EXPECT_EQ(got.back(), "5000|B");
  EXPECT_LT(d.stats().client_writes, 500u);
}

// A client that reads later than the stream arrives: its socket fills, the session waits for
// it and goes on from the record OpenSSL holds while the queue grows (and moves) behind it.
TEST(Tls, AClientThatFillsItsSocketGetsEverythingInOrder) {
  config c = tls_config();
  c.client_send_buffer_bytes = 4096;
  c.max_client_queue_bytes = 8 << 20;  // all of it queued: no catch-up
  test_daemon d(c);
  tls_client client(d.client_port());
  register_tls(d, client, "1");
  auto source = d.connect_source();
  lines events;
  for (int seq = 1; seq <= 50000; ++seq) events.push_back(std::to_string(seq) + "|P|2|1");
  source.send_lines(events);
  ASSERT_TRUE(d.wait_for_processed(50000));
  EXPECT_EQ(client.read_lines(50000), events);
}

TEST(Tls, PlainTextToTheTlsPortIsClosedAndCountedAndNobodyElseWaits) {
  test_daemon d(tls_config());
  auto plain = connection::open(d.client_port());
  plain.send("2932\r\n");  // 6 bytes: more than a TLS record's header, which it is not
  tls_client good(d.client_port());
  register_tls(d, good, "1");
  EXPECT_EQ(plain.wait_closed(), read_status::eof);
  EXPECT_TRUE(d.wait_until([](server& s) { return s.transport_stats().tls.handshake_failures == 1; }));
  auto source = d.connect_source();
  source.send_lines({"1|B"});
  EXPECT_EQ(good.read_lines(1), lines{"1|B"});
  EXPECT_TRUE(d.logs().contains("TLS handshake failed"));
}

TEST(Tls, AHandshakeThatStallsIsClosedAtTheHandshakeTimeout) {
  config c = tls_config();
  c.client_handshake_timeout = 200ms;
  test_daemon d(c);
  auto stalled = connection::open(d.client_port());
  stalled.send(std::string("\x16\x03\x01\x02\x00", 5));  // the start of a ClientHello, and nothing more
  EXPECT_EQ(stalled.wait_closed(), read_status::eof);
  EXPECT_EQ(d.stats().handshake_timeouts, 1u);
  // A TLS handshake done but no id line: the same timeout.
  tls_client silent(d.client_port());
  ASSERT_FALSE(silent.handshake());
  EXPECT_TRUE(silent.closed_by_daemon());
  EXPECT_EQ(d.stats().handshake_timeouts, 2u);
}

TEST(Tls, AClientThatDoesNotTrustTheCertificateGetsNothing) {
  config c = tls_config();
  c.tls_cert_file = files().file("other.pem");  // signed by a CA the client does not trust
  c.tls_key_file = files().file("other.key");
  test_daemon d(c);
  tls_client client(d.client_port());
  EXPECT_TRUE(client.handshake());
  EXPECT_TRUE(d.wait_until([](server& s) { return s.transport_stats().tls.handshake_failures == 1; }));
}

TEST(Tls, WithAClientCaOnlyClientsItSignedAreServed) {
  config c = tls_config();
  c.tls_client_ca_file = files().file("ca.pem");
  test_daemon d(c);
  // Without a certificate, and with one from another CA: no handshake, or the first read fails.
  tls_client anonymous(d.client_port());
  if (!anonymous.handshake()) {
    EXPECT_TRUE(anonymous.closed_by_daemon());
  }
  tls_client stranger(d.client_port(), files().file("ca.pem"), "other");
  if (!stranger.handshake()) {
    EXPECT_TRUE(stranger.closed_by_daemon());
  }
  EXPECT_TRUE(d.wait_until([](server& s) { return s.transport_stats().tls.handshake_failures == 2; }));
  tls_client known(d.client_port(), files().file("ca.pem"), "client");
  register_tls(d, known, "4");
  auto source = d.connect_source();
  source.send_lines({"1|P|9|4"});
  EXPECT_EQ(known.read_lines(1), lines{"1|P|9|4"});
}

// A returning client resumes its TLS session (browsers and most stacks do), client
// certificates or not.
TEST(Tls, AReturningClientResumesItsSession) {
  for (const bool client_ca : {false, true}) {
    SCOPED_TRACE(client_ca ? "with a client CA" : "without");
    config c = tls_config();
    if (client_ca) c.tls_client_ca_file = files().file("ca.pem");
    test_daemon d(c);
    // `first` stays open: OpenSSL marks the session of a connection freed without a
    // close_notify as not resumable.
    tls_client first(d.client_port(), files().file("ca.pem"), client_ca ? "client" : "");
    register_tls(d, first, "1");
    auto source = d.connect_source();
    source.send_lines({"1|B"});
    ASSERT_EQ(first.read_lines(1), lines{"1|B"});
    SSL_SESSION* session = first.session();
    ASSERT_NE(session, nullptr);
    tls_client again(d.client_port(), files().file("ca.pem"), client_ca ? "client" : "");
    again.resume(session);
    register_tls(d, again, "2");
    EXPECT_TRUE(again.resumed());
    ::SSL_SESSION_free(session);
    EXPECT_EQ(d.transport_stats().tls.handshake_failures, 0u);
  }
}

// SIGHUP re-reads the certificate (main() calls load_credentials on its helper thread, then
// set_credentials on the event thread): new connections get the new one, a live connection
// keeps going, and a bad pair changes nothing.
TEST(Tls, AReloadedCertificateServesNewConnectionsAndLiveOnesGoOn) {
  files().copy("server.pem", "reload.pem");
  files().copy("server.key", "reload.key");
  config c = tls_config();
  c.tls_cert_file = files().file("reload.pem");
  c.tls_key_file = files().file("reload.key");
  test_daemon d(c);
  tls_client before(d.client_port());
  register_tls(d, before, "1");
  const std::string first_serial = before.peer_serial();

  files().copy("server2.pem", "reload.pem");
  files().copy("server2.key", "reload.key");
  auto fresh = std::make_shared<credentials>(load_credentials(c));
  d.on_io([fresh](server& s) {
    s.set_credentials(std::move(*fresh));
    return 0;
  });
  tls_client after(d.client_port());
  register_tls(d, after, "2");
  EXPECT_NE(after.peer_serial(), first_serial);

  // A certificate whose key is another's: refused at load, the running one stays.
  files().copy("server.pem", "reload.pem");
  EXPECT_THROW(load_credentials(c), config_error);
  tls_client third(d.client_port());
  register_tls(d, third, "3");
  EXPECT_EQ(third.peer_serial(), after.peer_serial());

  auto source = d.connect_source();
  source.send_lines({"1|B"});
  EXPECT_EQ(before.read_lines(1), lines{"1|B"});
  EXPECT_EQ(after.read_lines(1), lines{"1|B"});
  EXPECT_EQ(third.read_lines(1), lines{"1|B"});
}

TEST(Tls, BadCertificateFilesStopStartUpNamingTheFile) {
  config c = tls_config();
  c.tls_key_file = files().file("server2.key");  // not the certificate's key
  try {
    load_credentials(c);
    ADD_FAILURE() << "a mismatched key was accepted";
  } catch (const config_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("server2.key"));
  }
  c = tls_config();
  c.tls_cert_file = files().file("missing.pem");
  EXPECT_THROW(load_credentials(c), config_error);
  // clientTls without the files is a config error before anything is read.
  EXPECT_THROW(parse_config(R"({"clientTls": true})"), config_error);
}

// A wss:// client: the TLS handshake, then the WebSocket upgrade over it, then frames.
TEST(Tls, WebSocketOverTls) {
  config c = tls_config();
  c.client_tls = false;
  c.ws_enabled = true;
  c.ws_tls = true;
  test_daemon d(c);
  tls_client client(d.ws_port());
  ASSERT_FALSE(client.handshake());
  const auto before = d.stats().clients_registered;
  client.send(upgrade_request("/users/1"));
  const lines head = client.read_lines(1);
  ASSERT_EQ(head.size(), 1u);
  EXPECT_THAT(head[0], HasSubstr("101"));
  ASSERT_TRUE(d.wait_until([before](server& s) { return s.stats().clients_registered > before; }));
  // Plain WebSocket to the wss port: refused and counted, as on the client port.
  auto plain = connection::open(d.ws_port());
  plain.send(upgrade_request("/users/2"));
  EXPECT_EQ(plain.wait_closed(), read_status::eof);
  EXPECT_TRUE(d.wait_until([](server& s) { return s.transport_stats().tls.handshake_failures == 1; }));
}

// wss end to end: notifications arrive as text frames over TLS, and a shutdown says 1001 and
// closes (Beast's close handshake, then tls_socket's teardown), without waiting out the linger.
TEST(Tls, WebSocketOverTlsDeliversFramesAndClosesWith1001) {
  config c = tls_config();
  c.client_tls = false;
  c.ws_enabled = true;
  c.ws_tls = true;
  test_daemon d(c);
  asio::io_context io;
  ssl::context context = tls_client::make_context(files().file("ca.pem"), "");
  websocket::stream<ssl::stream<tcp::socket>> ws(io, context);
  beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::address_v4::loopback(), d.ws_port()));
  // Runs `io` until the operation started just before completes (or the wait bound passes).
  const auto finish = [&io](const error_code& result) {
    io.restart();
    io.run_for(wait_bound);
    return result;
  };
  error_code ec = asio::error::timed_out;
  ws.next_layer().async_handshake(ssl::stream_base::client, [&](const error_code& e) { ec = e; });
  ASSERT_FALSE(finish(ec)) << ec.message();
  const auto before = d.stats().clients_registered;
  ec = asio::error::timed_out;
  ws.async_handshake("localhost", "/users/1", [&](const error_code& e) { ec = e; });
  ASSERT_FALSE(finish(ec)) << ec.message();
  ASSERT_TRUE(d.wait_until([before](server& s) { return s.stats().clients_registered > before; }));

  auto source = d.connect_source();
  source.send_lines({"1|B", "2|P|9|1", "3|B"});
  std::string received;
  beast::flat_buffer buffer;
  while (received.size() < std::string("1|B\n2|P|9|1\n3|B").size()) {
    ec = asio::error::timed_out;
    ws.async_read(buffer, [&](const error_code& e, std::size_t) { ec = e; });
    ASSERT_FALSE(finish(ec)) << ec.message();
    if (!received.empty()) received += '\n';
    received += beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
  }
  EXPECT_EQ(received, "1|B\n2|P|9|1\n3|B");
  EXPECT_EQ(d.transport_stats().tls.handshake_failures, 0u);

  ec = asio::error::timed_out;
  ws.async_read(buffer, [&](const error_code& e, std::size_t) { ec = e; });
  d.request_shutdown();
  EXPECT_EQ(finish(ec), websocket::error::closed) << ec.message();
  EXPECT_EQ(ws.reason().code, 1001);
  EXPECT_TRUE(d.stop());
}

// ================================ JSON Web Tokens ==============================================

TEST(Jwt, AClientWithAValidTokenForItsUserIsServed) {
  test_daemon d(jwt_config());
  auto client = connection::open(d.client_port());
  const auto before = d.stats().clients_registered;
  client.send("7 " + token_for("7") + "\r\n");
  ASSERT_TRUE(d.wait_until([before](server& s) { return s.stats().clients_registered > before; }));
  auto source = d.connect_source();
  source.send_lines({"1|P|3|7", "2|B"});
  EXPECT_EQ(client.read_lines(2), (lines{"1|P|3|7", "2|B"}));
  // The resume handshake takes a token too.
  auto resumed = connection::open(d.client_port());
  resumed.send("7|1 " + token_for("7") + "\r\n");
  EXPECT_EQ(resumed.read_lines(2), (lines{"resumed|1|1|complete", "2|B"}));
}

// Each refusal: the connection closed without a byte, counted by reason, and a warning that
// never quotes the token.
TEST(Jwt, EveryRefusalClosesTheConnectionCountedByReason) {
  config c = jwt_config();
  c.jwt_audience = "eventserver";
  c.jwt_issuer = "https://backend.example";
  c.admin_enabled = true;
  test_daemon d(c);
  const std::string good_claims = R"("aud":"eventserver","iss":"https://backend.example")";
  const std::string other_secret = "another secret, also at least 32 bytes long";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"missing_token", "7"},
      {"malformed", "7 not.a.token"},
      {"bad_signature", "7 " + token_for("7", 600, good_claims, other_secret)},
      {"expired", "7 " + token_for("7", -10, good_claims)},
      {"wrong_audience", "7 " + token_for("7", 600, R"("aud":"other","iss":"https://backend.example")")},
      {"wrong_issuer", "7 " + token_for("7", 600, R"("aud":"eventserver","iss":"https://evil.example")")},
      {"user_mismatch", "7 " + token_for("8", 600, good_claims)},  // a token of user 8 claiming 7
  };
  for (const auto& [reason, line] : cases) {
    SCOPED_TRACE(reason);
    auto client = connection::open(d.client_port());
    client.send(line + "\r\n");
    expect_closed_silently(client);
  }
  EXPECT_EQ(d.transport_stats().tokens.refused_at_handshake, cases.size());
  EXPECT_EQ(d.stats().clients_registered, 0u);
  const std::string metrics = http_request(d.admin_port(), "GET /metrics HTTP/1.1").body;
  for (const auto& [reason, line] : cases) {
    EXPECT_EQ(metric(metrics, "eventserver_client_auth_refused_total{reason=\"" + reason + "\"}"), 1) << reason;
  }
  for (const auto& [reason, line] : cases) {
    const auto space = line.find(' ');
    if (space != std::string::npos) {
      EXPECT_FALSE(d.logs().contains(line.substr(space + 1, 40))) << "a token was logged: " << reason;
    }
  }
  EXPECT_TRUE(d.logs().contains("authentication refused for user 7: missing_token"));  // the first 5 are logged
}

TEST(Jwt, AConnectionIsClosedWhenItsTokenExpiresUnlessRefreshed) {
  test_daemon d(jwt_config());
  auto expiring = connection::open(d.client_port());
  auto refreshed = connection::open(d.client_port());
  expiring.send("7 " + token_for("7", 1) + "\r\n");
  refreshed.send("8 " + token_for("8", 1) + "\r\n");
  ASSERT_TRUE(d.wait_for_registered_connections(2));
  refreshed.send(token_for("8", 600) + "\r\n");  // a fresh token, same user
  ASSERT_TRUE(d.wait_until([](server& s) { return s.transport_stats().tokens.refreshes == 1; }));
  EXPECT_EQ(expiring.wait_closed(), read_status::eof);  // at exp (the second it names) or soon after
  EXPECT_EQ(d.transport_stats().tokens.disconnected_expired, 1u);
  auto source = d.connect_source();
  source.send_lines({"1|B"});
  EXPECT_EQ(refreshed.read_lines(1), lines{"1|B"});
  // A fresh token for someone else ends the session.
  refreshed.send(token_for("9", 600) + "\r\n");
  EXPECT_EQ(refreshed.wait_closed(), read_status::eof);
  EXPECT_EQ(d.transport_stats().tokens.disconnected_refused, 1u);
}

// Each fresh token costs a signature check on the event thread: two within a second end the
// session. A refused refresh is not a refused handshake in the by-reason counts.
TEST(Jwt, FreshTokensMoreOftenThanOnceASecondEndTheSession) {
  test_daemon d(jwt_config());
  auto client = connection::open(d.client_port());
  client.send("7 " + token_for("7") + "\r\n");
  ASSERT_TRUE(d.wait_for_registered_connections(1));
  client.send(token_for("7") + "\r\n" + token_for("7") + "\r\n");
  EXPECT_EQ(client.wait_closed(), read_status::eof);
  EXPECT_EQ(d.transport_stats().tokens.refreshes, 1u);
  EXPECT_EQ(d.transport_stats().tokens.disconnected_refused, 1u);
  const auto by_reason = d.on_io([](server& s) { return s.snapshot().auth_refusals; });
  std::uint64_t counted = 0;
  for (const auto& [reason, count] : by_reason) counted += count;
  EXPECT_EQ(counted, d.transport_stats().tokens.refused_at_handshake);
  EXPECT_EQ(counted, 0u);
}

TEST(Jwt, WebSocketClientsPresentTheTokenInTheQueryOrTheHeader) {
  config c = jwt_config();
  c.ws_enabled = true;
  test_daemon d(c);
  auto by_query = ws_client::open(d.ws_port(), "/users/7?token=" + token_for("7"));
  connection by_header;
  const auto header =
      send_upgrade(d.ws_port(), upgrade_request("/users/7", "Authorization: Bearer " + token_for("7") + "\r\n"), by_header);
  EXPECT_EQ(header.status, 101);
  ASSERT_TRUE(d.wait_for_registered_connections(2));
  const auto none = send_upgrade(d.ws_port(), upgrade_request("/users/7"));
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.head, HasSubstr("WWW-Authenticate: Bearer"));
  const auto other = send_upgrade(d.ws_port(), upgrade_request("/users/7?token=" + token_for("8")));
  EXPECT_EQ(other.status, 401);
  EXPECT_THAT(other.body, HasSubstr("user_mismatch"));
  EXPECT_EQ(d.transport_stats().tokens.refused_at_handshake, 2u);
  auto source = d.connect_source();
  source.send_lines({"1|P|3|7"});
  EXPECT_EQ(by_query->read_lines(1), lines{"1|P|3|7"});
}

// A WebSocket client refreshes with a text message holding only the token.
TEST(Jwt, AWebSocketClientRefreshesWithATextMessage) {
  config c = jwt_config();
  c.ws_enabled = true;
  test_daemon d(c);
  connection conn;
  ASSERT_EQ(send_upgrade(d.ws_port(), upgrade_request("/users/7?token=" + token_for("7", 1)), conn).status, 101);
  ASSERT_TRUE(d.wait_for_registered_connections(1));
  conn.send(client_frame(0x1, token_for("7", 600)));
  ASSERT_TRUE(d.wait_until([](server& s) { return s.transport_stats().tokens.refreshes == 1; }));
  std::this_thread::sleep_for(2100ms);  // past the first token's expiry
  auto source = d.connect_source();
  source.send_lines({"1|P|3|7"});
  const auto frame = read_raw_frame(conn);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->payload, "1|P|3|7");
  // Another user's token: closed with 1008.
  conn.send(client_frame(0x1, token_for("8", 600)));
  const auto close = read_raw_frame(conn);
  ASSERT_TRUE(close.has_value());
  EXPECT_EQ(close->opcode, 0x8);
  EXPECT_EQ(close_code_of(*close), 1008);
  EXPECT_EQ(d.transport_stats().tokens.disconnected_refused, 1u);
}

TEST(Jwt, ATlsClientAuthenticatesToo) {
  config c = tls_config();
  c.client_auth = client_auth_mode::jwt;
  c.jwt_key_file = files().file("jwt.secret");
  test_daemon d(c);
  tls_client good(d.client_port());
  register_tls(d, good, "5 " + token_for("5"));
  tls_client bad(d.client_port());
  ASSERT_FALSE(bad.handshake());
  bad.send("5 " + token_for("6") + "\r\n");
  EXPECT_TRUE(bad.closed_by_daemon());
  EXPECT_EQ(d.transport_stats().tokens.refused_at_handshake, 1u);
}

TEST(Jwt, WithoutJwtATokenIsIgnoredAndTheClassicHandshakeWorks) {
  test_daemon d;
  auto classic = d.connect_user(7);
  auto with_token = connection::open(d.client_port());
  with_token.send("8 anything\r\n");
  ASSERT_TRUE(d.wait_for_registered_connections(2));
  auto source = d.connect_source();
  source.send_lines({"1|B"});
  EXPECT_EQ(classic.read_lines(1), lines{"1|B"});
  EXPECT_EQ(with_token.read_lines(1), lines{"1|B"});
}

TEST(Jwt, ABadKeyFileStopsStartUp) {
  config c = jwt_config();
  files().write("short.secret", "too short");
  c.jwt_key_file = files().file("short.secret");
  EXPECT_THROW(load_credentials(c), config_error);
  EXPECT_THROW(parse_config(R"({"clientAuth": "jwt"})"), config_error);  // no jwtKeyFile
  EXPECT_THROW(parse_config(R"({"clientAuth": "jwt", "jwtKeyFile": "k", "jwtAlgorithm": "none"})"), config_error);
}

// ================================ The admin port ================================================

TEST(AdminProtectedMode, AnAdminPortOthersCanReachNeedsAToken) {
  try {
    parse_config(R"({"adminListenerAddress": "0.0.0.0"})");
    ADD_FAILURE() << "an open admin port without a token was accepted";
  } catch (const config_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("adminTokenFile"));
  }
  EXPECT_THROW(parse_config(R"({"adminListenerAddress": "::"})"), config_error);
  EXPECT_NO_THROW(parse_config(R"({"adminListenerAddress": "127.0.0.2"})"));
  EXPECT_NO_THROW(parse_config(R"({"adminListenerAddress": "::1"})"));
  EXPECT_NO_THROW(parse_config(R"({"adminListenerAddress": "0.0.0.0", "adminListenerPort": 0})"));
  EXPECT_NO_THROW(parse_config(R"({"adminListenerAddress": "0.0.0.0", "adminTokenFile": "/etc/eventserver/admin.token"})"));
}

TEST(AdminProtectedMode, WithATokenFileEveryRequestCarriesIt) {
  config c = test_config();
  c.admin_enabled = true;
  c.admin_token_file = files().file("admin.token");
  test_daemon d(c);
  EXPECT_EQ(http_request(d.admin_port(), "GET /metrics HTTP/1.1").status, 401);
  EXPECT_EQ(http_request(d.admin_port(), "GET /connz HTTP/1.1", "Authorization: Bearer wrong-token-wrong-token\r\n").status,
            401);
  EXPECT_EQ(http_request(d.admin_port(), "GET /metrics HTTP/1.1", "Authorization: Bearer " + files().admin_token + "\r\n").status,
            200);
  // A token file with a guessable token is refused at start-up.
  files().write("weak.token", "secret\n");
  c.admin_token_file = files().file("weak.token");
  EXPECT_THROW(load_credentials(c), config_error);
}

// Connections without the token never lock the operator out (issue 22): 32 silent ones make
// way for a newcomer at the limit and are closed after the first-request deadline; ones that
// guess are closed by their 401. The operator's requests all succeed meanwhile.
TEST(AdminProtectedMode, ConnectionsWithoutTheTokenNeverKeepTheOperatorOut) {
  config c = test_config();
  c.admin_enabled = true;
  c.admin_token_file = files().file("admin.token");
  test_daemon d(c);
  const std::string authorization = "Authorization: Bearer " + files().admin_token + "\r\n";
  constexpr int admin_limit = 32;  // server.cpp

  std::vector<connection> silent;
  for (int i = 0; i < admin_limit; ++i) silent.push_back(connection::open(d.admin_port()));
  const auto first = http_request(d.admin_port(), "GET /metrics HTTP/1.1", authorization);
  ASSERT_EQ(first.status, 200) << "the operator was kept out by connections that sent nothing";
  EXPECT_EQ(metric(first.body, "eventserver_admin_connections_closed_total{reason=\"made_way\"}"), 1);

  std::vector<connection> guessing;
  for (int i = 0; i < admin_limit; ++i) {
    guessing.push_back(connection::open(d.admin_port()));
    const std::string guess = "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-token-wrong-token\r\n\r\n";
    guessing.back().send(guess + guess);  // a second guess at once: never answered
  }
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(http_request(d.admin_port(), "GET /healthz HTTP/1.1", authorization).status, 200) << i;
  }
  for (auto& guess : guessing) {
    const auto closed = guess.wait_closed();
    EXPECT_TRUE(closed == read_status::eof || closed == read_status::reset) << to_string(closed);
    // One 401 at most (none if it made way first): the 401 closed the connection.
    const std::string answers = guess.take_buffered();
    std::size_t refusals = 0;
    for (auto at = answers.find("HTTP/1.1 401"); at != std::string::npos; at = answers.find("HTTP/1.1 401", at + 1)) ++refusals;
    EXPECT_LE(refusals, 1u);
  }
  for (auto& quiet : silent) EXPECT_NE(quiet.wait_closed(), read_status::timeout);
  const auto last = http_request(d.admin_port(), "GET /metrics HTTP/1.1", authorization);
  ASSERT_EQ(last.status, 200);
  // Every silent one was closed by a policy (it made way or met its deadline); a guessing one
  // by its 401, or, still unanswered at the limit, to make way (or both, when its 401 was
  // still on its way).
  const auto closed_for = [&last](const char* reason) {
    return metric(last.body, std::string("eventserver_admin_connections_closed_total{reason=\"") + reason + "\"}").value_or(-1);
  };
  EXPECT_GE(closed_for("made_way") + closed_for("first_request_timeout") + metric(last.body, "eventserver_admin_unauthorized_total").value_or(-1),
            2 * admin_limit);
  EXPECT_EQ(closed_for("limit"), 0);
}

}  // namespace
}  // namespace eventserver
