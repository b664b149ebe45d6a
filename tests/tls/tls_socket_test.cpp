// tls_socket, the TLS stream on OpenSSL directly, as the server end of real loopback
// connections whose client end is Asio's ssl::stream (a TLS implementation it shares nothing
// with but OpenSSL): the handshake, data both ways in small and large amounts through small
// socket buffers, how the peer's end of the connection is told apart, what it refuses, TLS 1.2
// and 1.3, client certificates, and a Beast WebSocket over it. Every wait is for an observable
// state and bounded only to fail instead of hanging.
#include "eventserver/tls/tls_socket.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "eventserver/tls/tls_context.hpp"
#include "support/test_certs.hpp"

namespace eventserver {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using client_stream = ssl::stream<tcp::socket>;

const test_support::test_certs& certs() {
  static const test_support::test_certs made;
  return made;
}

// Runs `io` until `done()` holds; false if it cannot get there (nothing left to run, or a
// bound meant only to turn a hang into a failure).
template <class Predicate>
bool run_until(asio::io_context& io, Predicate done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (io.stopped()) io.restart();
    if (io.run_one_until(give_up) == 0 && (io.stopped() || std::chrono::steady_clock::now() >= give_up)) {
      return done();
    }
  }
  return true;
}

// Runs every handler that is ready, until none is: what is still pending then waits on a socket.
void run_ready(asio::io_context& io) {
  if (io.stopped()) io.restart();
  while (io.poll() != 0) {
    if (io.stopped()) io.restart();
  }
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  unsigned x = seed;
  for (char& c : bytes) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return bytes;
}

struct client_options {
  std::string trust = "ca.pem";
  std::optional<std::string> certificate = std::nullopt;  // <name>.pem and <name>.key
  int max_version = 0;                                    // 0: the library's highest
  bool small_buffers = false;                             // 4 KiB socket buffers both ends
};

class TlsSocket : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }  // as the daemon's main does

  // Connects a client as `options` says to a tls_socket on `context` and runs both handshakes.
  void connect(const client_options& options = {}) {
    client_context_ = std::make_unique<ssl::context>(ssl::context::tls_client);
    client_context_->add_certificate_authority(asio::buffer(certs().read(options.trust)));
    client_context_->set_verify_mode(ssl::verify_peer);
    if (options.certificate) {
      client_context_->use_certificate_chain(asio::buffer(certs().read(*options.certificate + ".pem")));
      client_context_->use_private_key(asio::buffer(certs().read(*options.certificate + ".key")), ssl::context::pem);
    }
    if (options.max_version != 0) SSL_CTX_set_max_proto_version(client_context_->native_handle(), options.max_version);

    server_ = std::make_unique<tls_socket>(io_, *context_);
    client_ = std::make_unique<client_stream>(io_, *client_context_);
    bool accepted = false;
    acceptor_.async_accept(server_->next_layer(), [&](const error_code& ec) {
      ASSERT_FALSE(ec) << ec.message();
      if (options.small_buffers) server_->next_layer().set_option(asio::socket_base::send_buffer_size(4096));
      server_->async_handshake([&](const error_code& hs) {
        server_handshake_ = hs;
        accepted = true;
      });
    });
    if (options.small_buffers) {
      client_->next_layer().open(tcp::v4());
      client_->next_layer().set_option(asio::socket_base::receive_buffer_size(4096));
      client_->next_layer().set_option(asio::socket_base::send_buffer_size(4096));
    }
    bool connected = false;
    client_->next_layer().async_connect(acceptor_.local_endpoint(), [&](const error_code& ec) {
      ASSERT_FALSE(ec) << ec.message();
      client_->async_handshake(ssl::stream_base::client, [&](const error_code& hs) {
        client_handshake_ = hs;
        connected = true;
        if (hs) client_->next_layer().close();  // the server's handshake ends too
      });
    });
    ASSERT_TRUE(run_until(io_, [&] { return accepted && connected; }));
  }

  // Reads from the server until `size` bytes or an error.
  std::string server_reads(std::size_t size, error_code& ec) {
    std::string got(size, '\0');
    bool done = false;
    asio::async_read(*server_, asio::buffer(got), [&](const error_code& e, std::size_t n) {
      ec = e;
      got.resize(n);
      done = true;
    });
    EXPECT_TRUE(run_until(io_, [&] { return done; }));
    return got;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::shared_ptr<ssl::context> context_ = make_server_context(certs().server());
  std::unique_ptr<ssl::context> client_context_;
  std::unique_ptr<tls_socket> server_;
  std::unique_ptr<client_stream> client_;
  error_code server_handshake_;
  error_code client_handshake_;
};

TEST_F(TlsSocket, HandshakesAndEchoesASmallMessage) {
  connect();
  ASSERT_FALSE(server_handshake_) << server_handshake_.message();
  ASSERT_FALSE(client_handshake_) << client_handshake_.message();
  EXPECT_EQ(SSL_get_fd(server_->native_handle()), server_->next_layer().native_handle());

  bool written = false;
  asio::async_write(*client_, asio::buffer(std::string_view("22|F|1|2\n")), [&](const error_code& ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    written = true;
  });
  error_code ec;
  EXPECT_EQ(server_reads(9, ec), "22|F|1|2\n");
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(written);

  // Two buffers written as one: the short first one is gathered with the next.
  const std::string head = "1|";
  const std::string tail = "B\n";
  const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(tail)};
  std::size_t wrote = 0;
  server_->async_write_some(parts, [&](const error_code& e, std::size_t n) {
    EXPECT_FALSE(e) << e.message();
    wrote = n;
  });
  std::string echo(4, '\0');
  std::size_t read = 0;
  asio::async_read(*client_, asio::buffer(echo), [&](const error_code&, std::size_t n) { read = n; });
  ASSERT_TRUE(run_until(io_, [&] { return read == 4; }));
  EXPECT_EQ(wrote, 4u);
  EXPECT_EQ(echo, "1|B\n");
}

// SSL_read decrypts a whole record; what the caller's buffer had no room for stays inside
// OpenSSL, and the socket has nothing more to say. A stream that waited for the socket
// before asking OpenSSL would hang here.
TEST_F(TlsSocket, PlaintextHeldByOpenSslIsReadWithoutTheSocketReadable) {
  connect();
  const std::string sent = pattern(1000, 1);
  bool written = false;
  asio::async_write(*client_, asio::buffer(sent), [&](const error_code&, std::size_t) { written = true; });
  ASSERT_TRUE(run_until(io_, [&] { return written; }));
  std::string got;
  std::array<char, 7> chunk{};
  while (got.size() < sent.size()) {
    bool done = false;
    error_code ec;
    server_->async_read_some(asio::buffer(chunk), [&](const error_code& e, std::size_t n) {
      ec = e;
      got.append(chunk.data(), n);
      done = true;
    });
    ASSERT_TRUE(run_until(io_, [&] { return done; })) << "stuck after " << got.size() << " bytes";
    ASSERT_FALSE(ec) << ec.message();
  }
  EXPECT_EQ(got, sent);
}

// Mebibytes each way at once through 4 KiB socket buffers: many records, writes that find the
// socket full (SSL_write retried after WANT_WRITE), reads and writes in flight together.
TEST_F(TlsSocket, EchoesMebibytesBothWaysThroughSmallSocketBuffers) {
  connect({.small_buffers = true});
  ASSERT_FALSE(server_handshake_) << server_handshake_.message();
  const std::string down = pattern(3 << 20, 2);
  const std::string up = pattern(3 << 20, 3);

  error_code wrote_ec;
  std::size_t wrote = 0;
  bool write_done = false;
  asio::async_write(*server_, asio::buffer(down), [&](const error_code& ec, std::size_t n) {
    wrote_ec = ec;
    wrote = n;
    write_done = true;
  });
  run_ready(io_);
  // Nobody reads yet: the write must be waiting for the socket, not finished, not failed.
  ASSERT_FALSE(write_done);

  std::string client_got(down.size(), '\0');
  bool client_read = false;
  asio::async_read(*client_, asio::buffer(client_got), [&](const error_code& ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    client_read = true;
  });
  bool client_wrote = false;
  asio::async_write(*client_, asio::buffer(up), [&](const error_code& ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    client_wrote = true;
  });
  std::string server_got(up.size(), '\0');
  bool server_read = false;
  error_code read_ec;
  asio::async_read(*server_, asio::buffer(server_got), [&](const error_code& ec, std::size_t) {
    read_ec = ec;
    server_read = true;
  });
  ASSERT_TRUE(run_until(io_, [&] { return write_done && client_read && client_wrote && server_read; }));
  EXPECT_FALSE(wrote_ec) << wrote_ec.message();
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_EQ(wrote, down.size());
  EXPECT_TRUE(client_got == down) << "the client received other bytes than were sent";
  EXPECT_TRUE(server_got == up) << "the server received other bytes than were sent";
}

// try_write_some as the TLS client session uses it: written straight from a queue that grows
// at its end (and moves) while the socket is full, as a non-blocking socket would be. The
// record OpenSSL made before the socket filled goes out first; every byte arrives once, in
// order. (A write that finds the socket writable again reports what OpenSSL took meanwhile:
// the records it made on earlier calls that reported would_block, then one more.)
TEST_F(TlsSocket, WritesWithoutWaitingFromAQueueThatGrowsAndMoves) {
  connect({.small_buffers = true});
  ASSERT_FALSE(server_handshake_) << server_handshake_.message();
  const std::string all = pattern(1 << 20, 4);
  std::string client_got(all.size(), '\0');
  bool client_read = false;
  asio::async_read(*client_, asio::buffer(client_got), [&](const error_code& ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    client_read = true;
  });

  std::string queue;  // appended, not yet taken
  std::size_t appended = 0;
  int socket_full = 0;
  bool failed = false;
  std::function<void()> write_more = [&] {
    for (;;) {
      if (appended < all.size()) {
        // More arrives, and the queue moves: its old bytes are freed once copied.
        const std::size_t more = std::min<std::size_t>(10'000, all.size() - appended);
        std::string grown;
        grown.reserve(queue.size() + more);
        grown.append(queue).append(all, appended, more);
        appended += more;
        queue.swap(grown);
      }
      if (queue.empty()) return;
      tcp::socket::wait_type wait = tcp::socket::wait_read;
      error_code ec;
      const std::size_t taken = server_->try_write_some(asio::buffer(queue), wait, ec);
      if (ec == asio::error::would_block) {
        ++socket_full;
        EXPECT_EQ(wait, tcp::socket::wait_write);
        server_->next_layer().async_wait(wait, [&](const error_code& wait_ec) {
          if (wait_ec) {
            failed = true;
            return;
          }
          write_more();
        });
        return;
      }
      if (ec || taken == 0 || taken > queue.size()) {
        ADD_FAILURE() << "took " << taken << ": " << ec.message();
        failed = true;
        return;
      }
      queue.erase(0, taken);
    }
  };
  write_more();
  ASSERT_TRUE(run_until(io_, [&] { return client_read || failed; }));
  ASSERT_FALSE(failed);
  EXPECT_GT(socket_full, 0) << "the socket never filled: nothing was retried";
  EXPECT_TRUE(client_got == all) << "the client received other bytes than were written";
}

TEST_F(TlsSocket, APeerClosingWithCloseNotifyIsEofAndBothShutdownsComplete) {
  connect();
  bool client_shut = false;
  error_code client_ec;
  client_->async_shutdown([&](const error_code& ec) {
    client_ec = ec;
    client_shut = true;
  });
  error_code ec;
  server_reads(1, ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  bool server_shut = false;
  error_code server_ec;
  server_->async_shutdown([&](const error_code& e) {
    server_ec = e;
    server_shut = true;
  });
  ASSERT_TRUE(run_until(io_, [&] { return client_shut && server_shut; }));
  EXPECT_FALSE(server_ec) << server_ec.message();
  EXPECT_FALSE(client_ec) << client_ec.message();
}

TEST_F(TlsSocket, APeerClosingWithoutCloseNotifyIsTruncation) {
  connect();
  client_->next_layer().shutdown(tcp::socket::shutdown_both);
  error_code ec;
  server_reads(1, ec);
  EXPECT_EQ(ec, ssl::error::stream_truncated) << ec.message();
}

TEST_F(TlsSocket, APeerResettingTheConnectionIsASystemError) {
  connect();
  client_->next_layer().set_option(asio::socket_base::linger(true, 0));
  client_->next_layer().close();
  error_code ec;
  server_reads(1, ec);
  EXPECT_EQ(ec, asio::error::connection_reset) << ec.message();
}

// A write to a connection the peer reset is an error code, not a SIGPIPE that ends the
// process, whatever the process does with SIGPIPE (in-process tests leave it at its default).
TEST_F(TlsSocket, WritingToAResetPeerIsAnErrorEvenWithSigpipeAtItsDefault) {
  connect();
  std::signal(SIGPIPE, SIG_DFL);
  client_->next_layer().set_option(asio::socket_base::linger(true, 0));
  client_->next_layer().close();
  const std::string line = "1|B\n";
  error_code ec;
  for (int i = 0; i < 3; ++i) {  // the first may find ECONNRESET, a later one EPIPE
    bool done = false;
    server_->async_write_some(asio::buffer(line), [&](const error_code& e, std::size_t) {
      ec = e;
      done = true;
    });
    ASSERT_TRUE(run_until(io_, [&] { return done; }));
  }
  std::signal(SIGPIPE, SIG_IGN);
  EXPECT_TRUE(ec == asio::error::broken_pipe || ec == asio::error::connection_reset) << ec.message();
}

TEST_F(TlsSocket, AClosedSocketFailsWithoutCallingOpenSsl) {
  connect();
  server_->next_layer().close();
  error_code ec;
  server_reads(1, ec);
  EXPECT_EQ(ec, asio::error::bad_descriptor) << ec.message();
}

TEST_F(TlsSocket, APlainTextPeerIsRefusedWithOpenSslsReason) {
  tls_socket server(io_, *context_);
  error_code handshake_ec;
  bool done = false;
  acceptor_.async_accept(server.next_layer(), [&](const error_code& ec) {
    ASSERT_FALSE(ec);
    server.async_handshake([&](const error_code& hs) {
      handshake_ec = hs;
      done = true;
    });
  });
  tcp::socket plain(io_);
  plain.connect(acceptor_.local_endpoint());
  asio::write(plain, asio::buffer(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  ASSERT_TRUE(run_until(io_, [&] { return done; }));
  ASSERT_TRUE(handshake_ec);
  EXPECT_EQ(handshake_ec.category(), asio::error::get_ssl_category());
  EXPECT_EQ(ERR_GET_REASON(static_cast<unsigned long>(handshake_ec.value())), SSL_R_HTTP_REQUEST)
      << handshake_ec.message();
}

TEST_F(TlsSocket, SpeaksTls12AndTls13) {
  connect({.max_version = TLS1_2_VERSION});
  ASSERT_FALSE(server_handshake_) << server_handshake_.message();
  EXPECT_EQ(SSL_version(server_->native_handle()), TLS1_2_VERSION);
  error_code ec;
  asio::write(*client_, asio::buffer(std::string_view("1.2")), ec);  // fits the socket: no wait
  EXPECT_EQ(server_reads(3, ec), "1.2");

  connect();
  ASSERT_FALSE(server_handshake_) << server_handshake_.message();
  EXPECT_EQ(SSL_version(server_->native_handle()), TLS1_3_VERSION);
  asio::write(*client_, asio::buffer(std::string_view("1.3")), ec);
  EXPECT_EQ(server_reads(3, ec), "1.3");

  tls_material only_13 = certs().server();
  only_13.min_version = "1.3";
  context_ = make_server_context(only_13);
  connect({.max_version = TLS1_2_VERSION});
  EXPECT_TRUE(server_handshake_);
  EXPECT_TRUE(client_handshake_);
}

TEST_F(TlsSocket, WithAClientCaOnlyClientsItSignedGetIn) {
  tls_material m = certs().server();
  m.client_ca = certs().read("ca.pem");
  context_ = make_server_context(m);

  connect({.certificate = "client"});
  ASSERT_FALSE(server_handshake_) << server_handshake_.message();
  EXPECT_NE(SSL_get0_peer_certificate(server_->native_handle()), nullptr);
  EXPECT_EQ(SSL_get_verify_result(server_->native_handle()), X509_V_OK);

  connect();
  EXPECT_TRUE(server_handshake_);
  EXPECT_EQ(server_handshake_.category(), asio::error::get_ssl_category()) << server_handshake_.message();

  connect({.certificate = "other"});
  EXPECT_TRUE(server_handshake_);
  EXPECT_EQ(server_handshake_.category(), asio::error::get_ssl_category()) << server_handshake_.message();
}

// Beast's websocket::stream over tls_socket: the lowest layer is the TCP socket, messages go
// both ways (one larger than a record), and a close runs the teardown overloads: close_notify
// both ways, then the TCP socket is closed.
TEST_F(TlsSocket, CarriesABeastWebSocket) {
  connect();
  ASSERT_FALSE(server_handshake_) << server_handshake_.message();
  websocket::stream<tls_socket> server(std::move(*server_));
  static_assert(std::is_same_v<std::remove_reference_t<decltype(beast::get_lowest_layer(server))>, tcp::socket>);
  EXPECT_EQ(beast::get_lowest_layer(server).remote_endpoint(), client_->next_layer().local_endpoint());
  websocket::stream<client_stream> client(std::move(*client_));

  beast::flat_buffer server_buffer;
  error_code server_end;
  bool server_done = false;
  std::function<void()> echo = [&] {
    server.async_read(server_buffer, [&](const error_code& ec, std::size_t) {
      if (ec) {
        server_end = ec;
        server_done = true;
        return;
      }
      server.binary(server.got_binary());
      server.async_write(server_buffer.data(), [&](const error_code& wec, std::size_t) {
        ASSERT_FALSE(wec) << wec.message();
        server_buffer.clear();
        echo();
      });
    });
  };
  server.async_accept([&](const error_code& ec) {
    ASSERT_FALSE(ec) << ec.message();
    echo();
  });

  bool upgraded = false;
  client.async_handshake("localhost", "/", [&](const error_code& ec) {
    ASSERT_FALSE(ec) << ec.message();
    upgraded = true;
  });
  ASSERT_TRUE(run_until(io_, [&] { return upgraded; }));

  const auto round_trip = [&](const std::string& message, bool binary) {
    client.binary(binary);
    bool echoed = false;
    beast::flat_buffer got;
    client.async_write(asio::buffer(message), [&](const error_code& ec, std::size_t) {
      ASSERT_FALSE(ec) << ec.message();
      client.async_read(got, [&](const error_code& rec, std::size_t) {
        ASSERT_FALSE(rec) << rec.message();
        echoed = true;
      });
    });
    EXPECT_TRUE(run_until(io_, [&] { return echoed; }));
    EXPECT_TRUE(beast::buffers_to_string(got.data()) == message);
    EXPECT_EQ(client.got_binary(), binary);
  };
  round_trip("{\"seq\":1}", false);
  round_trip(pattern(100'000, 4), true);

  bool closed = false;
  client.async_close(websocket::close_code::normal, [&](const error_code& ec) {
    EXPECT_FALSE(ec) << ec.message();
    closed = true;
  });
  ASSERT_TRUE(run_until(io_, [&] { return closed && server_done; }));
  EXPECT_EQ(server_end, websocket::error::closed) << server_end.message();
  EXPECT_FALSE(beast::get_lowest_layer(server).is_open());
}

}  // namespace
}  // namespace eventserver
