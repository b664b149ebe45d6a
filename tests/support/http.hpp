#pragma once
// One HTTP/1.1 request to the daemon's admin port on loopback, blocking, bounded by a 5 s
// receive timeout: the tests' client for /metrics, /readyz and the rest.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace eventserver::test_support {

struct http_reply {
  int status = 0;  // 0: no answer
  std::string headers;
  std::string body;
};

// One request on a fresh connection; reads until the daemon closes (Connection: close).
inline http_reply http_request(std::uint16_t port, std::string_view request_line, std::string_view extra_headers = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  http_reply reply;
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

// The value of one sample, e.g. metric(text, "eventserver_client_disconnects_total{reason=\"slow\"}");
// -1 when it is not there.
inline double metric(const std::string& text, const std::string& sample) {
  const auto at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + sample.size() + 2));
}

}  // namespace eventserver::test_support
