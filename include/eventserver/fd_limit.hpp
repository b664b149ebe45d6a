#pragma once
// Raises this process's open-file limit (RLIMIT_NOFILE) as far as the hard limit allows.

#include <cstdint>

namespace eventserver {

struct fd_limit_result {
  std::uint64_t before = 0;  // soft limit found at start-up
  std::uint64_t after = 0;   // soft limit now in force
  std::uint64_t hard = 0;
};

fd_limit_result raise_fd_limit() noexcept;

}  // namespace eventserver
