#pragma once
// Thin POSIX socket helpers for the harness's blocking set-up and its two I/O threads.

#include <cstdint>
#include <string>

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

// Raises the soft RLIMIT_NOFILE toward the hard limit so that at least `needed` descriptors
// are allowed; returns the resulting soft limit.
std::uint64_t raise_fd_limit(std::uint64_t needed) noexcept;

}  // namespace followermaze
