// What an idle TLS connection costs the server that holds it: N connections accepted and
// handshaken in this process, each then waiting in a one-byte read as a session's would, on
// either Asio's ssl::stream<tcp::socket> (what the sessions use today) or tls_socket (OpenSSL
// on the socket's descriptor). The clients run in a child process (Asio's ssl::stream), so
// nothing of theirs is counted. Reports, per connection, the growth of this process's resident
// set (/proc/self/statm) and of the heap in use (mallinfo2's uordblks + hblkhd) from before the
// first accept to all N idle, after one warm-up connection has loaded what OpenSSL loads once.
//
// usage: tls_idle CERT_DIR asio|tls_socket [CONNECTIONS] [1.2|1.3]
//   CERT_DIR  made by tests/support/make_test_certs.sh (server.pem, server.key, ca.pem)
// Prints one line: variant=… tls=… connections=… rss_kib_per_connection=… heap_kib_per_connection=…
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ssl/stream.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "eventserver/tls/tls_context.hpp"
#include "eventserver/tls/tls_socket.hpp"

namespace {

using namespace eventserver;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct memory {
  double rss_kib;
  double heap_kib;
};

[[noreturn]] void die(const char* what, const error_code& ec) {
  std::fprintf(stderr, "tls_idle: %s: %s\n", what, ec.message().c_str());
  std::_Exit(1);
}

memory measure() {
  long pages = 0;
  long resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  const struct mallinfo2 heap = mallinfo2();
  return {static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1024.0,
          static_cast<double>(heap.uordblks + heap.hblkhd) / 1024.0};
}

struct measurements {
  memory before;   // one connection open
  memory after;    // all of them open and idle
  memory trimmed;  // the same after malloc_trim
  long sessions_cached;
};

// The child: `count` clients connect to `port`, handshake, read what the server sends after
// the handshake (TLS 1.3 session tickets) and then hold their connections until killed.
[[noreturn]] void run_clients(unsigned short port, int count, int in_flight, const std::string& cert_dir,
                              int max_version) {
  asio::io_context io;
  ssl::context context(ssl::context::tls_client);
  context.add_certificate_authority(asio::buffer(read_file(cert_dir + "/ca.pem")));
  context.set_verify_mode(ssl::verify_peer);
  SSL_CTX_set_max_proto_version(context.native_handle(), max_version);
  std::vector<std::unique_ptr<ssl::stream<tcp::socket>>> clients;
  std::vector<char> sink(static_cast<std::size_t>(count));
  const tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
  std::function<void()> connect_next = [&] {
    if (clients.size() == static_cast<std::size_t>(count)) return;
    auto& client = *clients.emplace_back(std::make_unique<ssl::stream<tcp::socket>>(io, context));
    char* byte = &sink[clients.size() - 1];
    client.next_layer().async_connect(server, [&, &client = client, byte](const error_code& ec) {
      if (ec) die("connect", ec);
      client.async_handshake(ssl::stream_base::client, [&, &client = client, byte](const error_code& hs) {
        if (hs) die("client handshake", hs);
        client.async_read_some(asio::buffer(byte, 1), [](const error_code&, std::size_t) {});
        connect_next();
      });
    });
  };
  for (int i = 0; i < in_flight; ++i) connect_next();
  io.run();
  std::_Exit(0);
}

// The server end: `Stream` is ssl::stream<tcp::socket> or tls_socket.
template <class Stream>
measurements hold_idle(asio::io_context& io, tcp::acceptor& acceptor, ssl::context& context, int count,
                       int in_flight, pid_t& child, const std::string& cert_dir, int max_version) {
  measurements result{};
  std::vector<std::unique_ptr<Stream>> streams;
  streams.reserve(static_cast<std::size_t>(count) + 1);
  std::vector<char> sink(static_cast<std::size_t>(count) + 1);
  int handshaken = 0;
  std::function<void()> accept_next = [&] {
    if (streams.size() == static_cast<std::size_t>(count) + 1) return;
    auto& stream = *streams.emplace_back(std::make_unique<Stream>(io, context));
    char* byte = &sink[streams.size() - 1];
    acceptor.async_accept(stream.next_layer(), [&, byte](const error_code& ec) {
      if (ec) die("accept", ec);
      stream.async_handshake(ssl::stream_base::server, [&, byte](const error_code& hs) {
        if (hs) die("handshake", hs);
        ++handshaken;
        stream.async_read_some(asio::buffer(byte, 1), [](const error_code&, std::size_t) {});
      });
      accept_next();
    });
  };
  const auto run_until = [&](int wanted) {
    while (handshaken < wanted) io.run_one();
    while (io.poll() != 0) {
    }
  };

  // One connection first: what OpenSSL and Asio set up once is not a connection's cost.
  if ((child = fork()) == 0) run_clients(acceptor.local_endpoint().port(), 1, 1, cert_dir, max_version);
  accept_next();
  run_until(1);
  result.before = measure();
  const pid_t warm_up = child;
  if ((child = fork()) == 0) run_clients(acceptor.local_endpoint().port(), count, in_flight, cert_dir, max_version);
  run_until(count + 1);
  result.after = measure();
  result.sessions_cached = SSL_CTX_sess_number(context.native_handle());
  // What the allocator holds free between the connections' blocks, given back.
  malloc_trim(0);
  result.trimmed = measure();
  kill(warm_up, SIGKILL);
  waitpid(warm_up, nullptr, 0);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: tls_idle CERT_DIR asio|tls_socket [CONNECTIONS] [1.2|1.3] [IN_FLIGHT]\n";
    return 2;
  }
  const std::string cert_dir = argv[1];
  const std::string variant = argv[2];
  const int count = argc > 3 ? std::atoi(argv[3]) : 2000;
  const std::string version = argc > 4 ? argv[4] : "1.3";
  const int in_flight = argc > 5 ? std::atoi(argv[5]) : count;
  if (variant != "asio" && variant != "tls_socket") {
    std::cerr << "variant: asio or tls_socket\n";
    return 2;
  }
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  signal(SIGPIPE, SIG_IGN);

  tls_material material;
  material.certificate_chain = read_file(cert_dir + "/server.pem");
  material.private_key = read_file(cert_dir + "/server.key");
  material.min_version = version;
  const auto context = make_server_context(material);
  const int max_version = version == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  acceptor.listen(4096);
  pid_t child = 0;
  const measurements m = variant == "asio"
                           ? hold_idle<ssl::stream<tcp::socket>>(io, acceptor, *context, count, in_flight, child,
                                                                 cert_dir, max_version)
                           : hold_idle<tls_socket>(io, acceptor, *context, count, in_flight, child, cert_dir,
                                                   max_version);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  std::printf(
      "variant=%s tls=%s connections=%d in_flight=%d rss_kib_per_connection=%.2f heap_kib_per_connection=%.2f "
      "rss_after_trim_kib_per_connection=%.2f sessions_cached=%ld\n",
      variant.c_str(), version.c_str(), count, in_flight, (m.after.rss_kib - m.before.rss_kib) / count,
      (m.after.heap_kib - m.before.heap_kib) / count, (m.trimmed.rss_kib - m.before.rss_kib) / count,
      m.sessions_cached);
  return 0;
}
