#include "eventserver/net/fd_limit.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>

namespace eventserver {

namespace {

// The kernel's ceiling for any process's limit (fs.nr_open); 1048576 unless changed.
std::uint64_t kernel_ceiling() noexcept {
  std::uint64_t ceiling = 1 << 20;
  std::ifstream in("/proc/sys/fs/nr_open");
  in >> ceiling;
  return ceiling;
}

}  // namespace

fd_limit_result raise_fd_limit(std::uint64_t needed) noexcept {
  fd_limit_result result;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return result;
  result.before = limit.rlim_cur;
  if (limit.rlim_max < needed) {
    const auto target = static_cast<rlim_t>(std::min(needed, kernel_ceiling()));
    const rlimit wider{target, target};
    if (target > limit.rlim_max && setrlimit(RLIMIT_NOFILE, &wider) == 0) {  // EPERM unless privileged
      limit = wider;
      result.raised_hard = true;
    }
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  result.after = limit.rlim_cur;
  result.hard = limit.rlim_max;
  return result;
}

fd_usage current_fd_usage() noexcept {
  fd_usage usage;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) usage.limit = limit.rlim_cur;
  DIR* fds = ::opendir("/proc/self/fd");
  if (fds == nullptr) return usage;
  while (const dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] != '.') ++usage.open;
  }
  ::closedir(fds);
  if (usage.open != 0) --usage.open;  // the directory's own descriptor
  return usage;
}

}  // namespace eventserver
