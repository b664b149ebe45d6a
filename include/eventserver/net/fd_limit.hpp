#pragma once
// Raises this process's open-file limit (RLIMIT_NOFILE) to what the configuration needs.

#include <cstdint>

namespace eventserver {

struct fd_limit_result {
  std::uint64_t before = 0;  // soft limit found at start-up
  std::uint64_t after = 0;   // soft limit now in force
  std::uint64_t hard = 0;    // hard limit now in force
  bool raised_hard = false;  // the hard limit itself was raised (root or CAP_SYS_RESOURCE)
};

// Raises the soft limit to the hard one. When even the hard limit is below `needed`, a daemon
// with the privilege to (root, CAP_SYS_RESOURCE) raises both to `needed`, up to the kernel's
// fs.nr_open; without it the hard limit stays. Never lowers a limit.
fd_limit_result raise_fd_limit(std::uint64_t needed) noexcept;

// The descriptors this process has open and its soft limit, for /metrics (process_open_fds,
// process_max_fds); 0 when /proc cannot be read. Lists /proc/self/fd: for a scrape, not a hot path.
struct fd_usage {
  std::uint64_t open = 0;
  std::uint64_t limit = 0;
};
fd_usage current_fd_usage() noexcept;

}  // namespace eventserver
