#pragma once
// Thin POSIX socket helpers for the harness's blocking set-up and its two I/O threads.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace followermaze {

struct connect_result {
  int fd = -1;
  std::string error;  // empty on success
};

// A TCP connection to host:port (IPv4 literal). Refused connections are retried for up to
// `retry_ms` (the daemon may still be starting). A positive `receive_buffer` is set before
// connecting, so the window the daemon sees is small from the first byte; a positive
// `max_segment` (TCP_MAXSEG) is announced in the SYN, so the daemon sends segments no larger.
connect_result connect_tcp(const std::string& host, std::uint16_t port, std::uint32_t retry_ms, int receive_buffer = 0,
                           int max_segment = 0);

bool set_nonblocking(int fd) noexcept;

// Writes all of `data` to a blocking socket; false on error.
bool send_all(int fd, const char* data, std::size_t size) noexcept;

// Where the other end of a TCP connection stands, as this host's /proc/net/tcp (or tcp6, for a
// listener on "::") shows it: open (ESTABLISHED), closed (any other state: FIN_WAIT1 once it is
// closed with bytes still unsent, then FIN_WAIT2, TIME_WAIT...; or no such socket while the port
// it was accepted on still listens here: gone), or unknown (the peer is not on this host, or not
// in this network namespace). For a reader that never reads, the only way to see that the
// daemon closed it: its FIN waits behind the bytes the reader has not taken.
enum class peer_end : std::uint8_t { unknown, open, closed };

// A /proc/net/tcp (or tcp6) table, parsed once for many look-ups.
class tcp_table {
 public:
  explicit tcp_table(std::string_view text);
  // The socket whose local address is `local` (hex address and port as the table prints them,
  // e.g. "0100007F:2383") and whose remote address is `remote`; none, it is closed if `local` or
  // `wildcard` (the any-address form of local's port) listens in the table, else unknown.
  peer_end find(std::string_view local, std::string_view remote, std::string_view wildcard) const;

 private:
  std::unordered_map<std::string, bool> connections_;  // "local remote" -> ESTABLISHED
  std::unordered_set<std::string> listening_;
};

// For each connected IPv4 TCP socket in `fds`, its peer's end, from one read of /proc/net/tcp
// and /proc/net/tcp6.
std::vector<peer_end> peer_ends(std::span<const int> fds);

// Raises the soft RLIMIT_NOFILE toward the hard limit so that at least `needed` descriptors
// are allowed; returns the resulting soft limit.
std::uint64_t raise_fd_limit(std::uint64_t needed) noexcept;

}  // namespace followermaze
