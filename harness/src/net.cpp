#include "followermaze/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

namespace followermaze {

connect_result connect_tcp(const std::string& host, std::uint16_t port, std::uint32_t retry_ms, int receive_buffer,
                           int max_segment) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return {-1, "not an IPv4 address: " + host};
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  for (;;) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {-1, std::string("socket: ") + std::strerror(errno)};
    if (receive_buffer > 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    if (max_segment > 0) {
      setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &max_segment, sizeof max_segment);
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return {fd, {}};
    const int error = errno;
    close(fd);
    if ((error != ECONNREFUSED && error != EAGAIN && error != EINTR) || std::chrono::steady_clock::now() >= deadline) {
      return {-1, "connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(error)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool set_nonblocking(int fd) noexcept {
  const int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

bool send_all(int fd, const char* data, std::size_t size) noexcept {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

tcp_table::tcp_table(std::string_view text) {
  // "  sl  local_address rem_address   st ...": fields separated by runs of spaces.
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    std::string_view fields[4];
    std::size_t count = 0;
    std::size_t i = 0;
    while (count < 4 && i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (i > start) fields[count++] = line.substr(start, i - start);
    }
    if (count < 4 || fields[1].find(':') == std::string_view::npos) continue;  // the header, or garbage
    if (fields[3] == "0A") listening_.emplace(fields[1]);  // 0A: TCP_LISTEN
    std::string key(fields[1]);
    key += ' ';
    key += fields[2];
    // 01: TCP_ESTABLISHED. Should an old socket of the same addresses linger (TIME_WAIT), the
    // established one wins: "closed" ends a wait early, "open" only lets it run its course.
    const bool established = fields[3] == "01";
    const auto [it, inserted] = connections_.try_emplace(std::move(key), established);
    if (!inserted) it->second = it->second || established;
  }
}

peer_end tcp_table::find(std::string_view local, std::string_view remote, std::string_view wildcard) const {
  std::string key(local);
  key += ' ';
  key += remote;
  if (const auto it = connections_.find(key); it != connections_.end()) {
    return it->second ? peer_end::open : peer_end::closed;
  }
  const bool listening = listening_.contains(std::string(local)) || listening_.contains(std::string(wildcard));
  return listening ? peer_end::closed : peer_end::unknown;
}

namespace {

std::string read_table(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// As /proc/net/tcp prints an IPv4 address (the 32-bit word in memory, network order, printed in
// host order) and a port (host order); tcp6 prints an IPv4-mapped address's four words the same
// way.
std::string proc_address(std::uint32_t address_in_memory, std::uint16_t port, bool mapped) {
  char buffer[48];
  if (mapped) {
    std::snprintf(buffer, sizeof buffer, "0000000000000000%08X%08X:%04X", static_cast<unsigned>(htonl(0xffff)),
                  static_cast<unsigned>(address_in_memory), static_cast<unsigned>(port));
  } else {
    std::snprintf(buffer, sizeof buffer, "%08X:%04X", static_cast<unsigned>(address_in_memory),
                  static_cast<unsigned>(port));
  }
  return buffer;
}

}  // namespace

std::vector<peer_end> peer_ends(std::span<const int> fds) {
  std::vector<peer_end> ends(fds.size(), peer_end::unknown);
  if (fds.empty()) return ends;
  const tcp_table tcp(read_table("/proc/net/tcp"));
  const tcp_table tcp6(read_table("/proc/net/tcp6"));
  for (std::size_t i = 0; i < fds.size(); ++i) {
    sockaddr_in mine{};
    sockaddr_in theirs{};
    socklen_t mine_size = sizeof mine;
    socklen_t theirs_size = sizeof theirs;
    if (getsockname(fds[i], reinterpret_cast<sockaddr*>(&mine), &mine_size) != 0 || mine.sin_family != AF_INET) continue;
    if (getpeername(fds[i], reinterpret_cast<sockaddr*>(&theirs), &theirs_size) != 0) continue;
    const std::uint16_t port = ntohs(theirs.sin_port);
    for (const bool mapped : {false, true}) {
      const tcp_table& table = mapped ? tcp6 : tcp;
      const std::string wildcard = mapped ? std::string(32, '0') + proc_address(0, port, false).substr(8)
                                          : proc_address(0, port, false);
      ends[i] = table.find(proc_address(theirs.sin_addr.s_addr, port, mapped),
                              proc_address(mine.sin_addr.s_addr, ntohs(mine.sin_port), mapped), wildcard);
      if (ends[i] != peer_end::unknown) break;
    }
  }
  return ends;
}

std::uint64_t raise_fd_limit(std::uint64_t needed) noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min<rlim_t>(limit.rlim_max, std::max<rlim_t>(needed, limit.rlim_cur));
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur == RLIM_INFINITY ? ~0ULL : static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace followermaze
