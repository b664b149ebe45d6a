// Idle clients of a running daemon, for bench/tls_idle/daemon.sh: COUNT connections to
// 127.0.0.1:PORT over one transport, each registered as its own user (FIRST_USER, FIRST_USER+1,
// ...) and then left idle with one read outstanding, as a client waiting for notifications is.
// At most IN_FLIGHT (default 16) are connecting at a time: clients arriving, or with COUNT a
// burst (every client reconnecting after a restart). Once all are
// registered-as-far-as-the-client-knows (the id line sent; for WebSocket the 101 received) it
// prints "ready COUNT" and holds them until killed. The daemon's memory is what is measured,
// so nothing here is frugal.
//
// usage: idle_clients tcp|tls|ws|wss PORT COUNT CA_FILE [FIRST_USER [IN_FLIGHT]]
//   CA_FILE  the CA that signed the daemon's certificate (tls, wss; ignored otherwise)
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "eventserver/net/asio.hpp"

namespace {

using namespace eventserver;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

[[noreturn]] void die(const std::string& what, const error_code& ec) {
  std::fprintf(stderr, "idle_clients: %s: %s\n", what.c_str(), ec.message().c_str());
  std::_Exit(1);
}

// One client: connect, the transport's handshake, register, then one read that never ends
// until the daemon closes (which is fatal: an idle client is not expected to be closed).
class client : public std::enable_shared_from_this<client> {
 public:
  client(asio::io_context& io, ssl::context& context, std::string transport, std::uint16_t port, long user,
         std::function<void()> registered)
      : transport_(std::move(transport)),
        port_(port),
        user_(user),
        registered_(std::move(registered)),
        tcp_(io),
        tls_(io, context),
        ws_(io),
        wss_(io, context) {}

  void start() {
    auto& socket = lowest();
    socket.async_connect({asio::ip::make_address("127.0.0.1"), port_}, [self = shared_from_this()](const error_code& ec) {
      if (ec) die("connect", ec);
      self->on_connect();
    });
  }

 private:
  tcp::socket& lowest() {
    if (transport_ == "tcp") return tcp_;
    if (transport_ == "tls") return tls_.next_layer();
    if (transport_ == "ws") return ws_.next_layer();
    return wss_.next_layer().next_layer();
  }

  void on_connect() {
    auto self = shared_from_this();
    if (transport_ == "tcp") return send_id(tcp_);
    if (transport_ == "tls") {
      return tls_.async_handshake(ssl::stream_base::client, [self](const error_code& ec) {
        if (ec) die("TLS handshake", ec);
        self->send_id(self->tls_);
      });
    }
    if (transport_ == "ws") return upgrade(ws_);
    wss_.next_layer().async_handshake(ssl::stream_base::client, [self](const error_code& ec) {
      if (ec) die("TLS handshake", ec);
      self->upgrade(self->wss_);
    });
  }

  template <class Stream>
  void send_id(Stream& stream) {
    line_ = std::to_string(user_) + "\r\n";
    asio::async_write(stream, asio::buffer(line_), [self = shared_from_this(), &stream](const error_code& ec, std::size_t) {
      if (ec) die("id line", ec);
      self->registered_();
      self->hold(stream);
    });
  }

  template <class Stream>
  void hold(Stream& stream) {
    stream.async_read_some(asio::buffer(byte_), [self = shared_from_this(), &stream](const error_code& ec, std::size_t) {
      if (ec) die("an idle connection was closed", ec);
      self->hold(stream);
    });
  }

  template <class WebSocket>
  void upgrade(WebSocket& ws) {
    ws.async_handshake("127.0.0.1", "/users/" + std::to_string(user_), [self = shared_from_this(), &ws](const error_code& ec) {
      if (ec) die("WebSocket upgrade", ec);
      self->registered_();
      self->read_frames(ws);
    });
  }

  template <class WebSocket>
  void read_frames(WebSocket& ws) {
    ws.async_read(buffer_, [self = shared_from_this(), &ws](const error_code& ec, std::size_t) {
      if (ec) die("an idle WebSocket was closed", ec);
      self->buffer_.clear();
      self->read_frames(ws);
    });
  }

  std::string transport_;
  std::uint16_t port_;
  long user_;
  std::function<void()> registered_;
  tcp::socket tcp_;
  ssl::stream<tcp::socket> tls_;
  websocket::stream<tcp::socket> ws_;
  websocket::stream<ssl::stream<tcp::socket>> wss_;
  std::string line_;
  char byte_[1]{};
  beast::flat_buffer buffer_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: idle_clients tcp|tls|ws|wss PORT COUNT CA_FILE [FIRST_USER [IN_FLIGHT]]\n";
    return 2;
  }
  const std::string transport = argv[1];
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  const int count = std::atoi(argv[3]);
  const std::string ca_file = argv[4];
  const long first_user = argc > 5 ? std::atol(argv[5]) : 1;
  const int in_flight = argc > 6 ? std::atoi(argv[6]) : 16;
  if (transport != "tcp" && transport != "tls" && transport != "ws" && transport != "wss") {
    std::cerr << "transport: tcp, tls, ws or wss\n";
    return 2;
  }
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  asio::io_context io;
  ssl::context context(ssl::context::tls_client);
  if (transport == "tls" || transport == "wss") {
    context.load_verify_file(ca_file);
    context.set_verify_mode(ssl::verify_peer);
  }
  int started = 0;
  int registered = 0;
  std::function<void()> start_next = [&] {
    if (started == count) return;
    const long user = first_user + started++;
    std::make_shared<client>(io, context, transport, port, user, [&] {
      if (++registered == count) {
        std::printf("ready %d\n", count);
        std::fflush(stdout);
      }
      start_next();
    })->start();
  };
  for (int i = 0; i < in_flight; ++i) start_next();
  io.run();
  return 0;
}
