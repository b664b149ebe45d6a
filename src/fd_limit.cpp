#include "eventserver/fd_limit.hpp"

#include <sys/resource.h>

namespace eventserver {

fd_limit_result raise_fd_limit() noexcept {
  fd_limit_result result;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return result;
  result.before = limit.rlim_cur;
  result.hard = limit.rlim_max;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  result.after = limit.rlim_cur;
  return result;
}

}  // namespace eventserver
