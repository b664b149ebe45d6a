#pragma once
// The tests' one HTTP/1.1 client, for the daemon's admin port (and Prometheus's, and
// Chromium's DevTools list) on loopback: one blocking request per connection, every receive
// and send bounded by a timeout; a reader for Prometheus samples; and a reader for a
// server-sent-event stream on a connection the test holds open.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eventserver::test_support {

struct http_reply {
  int status = 0;  // 0: no reply (refused, timed out, garbled)
  std::string headers;
  std::string body;
};

// One request on a fresh connection; reads until the server closes (Connection: close), at
// most `timeout` per receive.
inline http_reply http_request(std::uint16_t port, std::string_view request_line, std::string_view extra_headers = "",
                               std::chrono::seconds timeout = std::chrono::seconds(5)) {
  http_reply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return reply;
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return reply;
  }
  const std::string request =
      std::string(request_line) + "\r\nHost: localhost\r\nConnection: close\r\n" + std::string(extra_headers) + "\r\n";
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[65536];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto split = raw.find("\r\n\r\n");
  if (raw.size() < 12 || split == std::string::npos) return reply;
  reply.status = std::stoi(raw.substr(9, 3));
  reply.headers = raw.substr(0, split);
  reply.body = raw.substr(split + 4);
  return reply;
}

// The value of one Prometheus sample, e.g.
// metric(text, "eventserver_client_disconnects_total{reason=\"slow\"}"); nullopt when absent.
inline std::optional<double> metric(const std::string& text, const std::string& sample) {
  const auto at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + sample.size() + 2));
}

// Bytes from `conn` (a test_support::connection, daemon.hpp) up to and including `delimiter`;
// nullopt when it does not arrive within `timeout` (or the connection ends first).
template <class Connection>
std::optional<std::string> read_through(Connection& conn, std::string_view delimiter, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string got;
  while (got.size() < delimiter.size() || got.compare(got.size() - delimiter.size(), delimiter.size(), delimiter) != 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    const std::string byte = conn.read_bytes(1, left);
    if (byte.empty()) return std::nullopt;
    got += byte;
  }
  return got;
}

// The JSON of the next `data:` event of a server-sent-event stream whose header was read.
template <class Connection>
std::optional<std::string> next_event_data(Connection& conn, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const auto event = read_through(conn, "\n\n", left);
    if (!event) return std::nullopt;
    constexpr std::string_view prefix = "data: ";
    if (event->compare(0, prefix.size(), prefix) == 0) return event->substr(prefix.size(), event->size() - prefix.size() - 2);
    // Another field (retry:) or a comment: keep reading.
  }
}

}  // namespace eventserver::test_support
