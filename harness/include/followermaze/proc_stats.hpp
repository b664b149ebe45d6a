#pragma once
// What /proc says about the daemon: CPU seconds used (utime + stime) and peak resident set
// (VmHWM). Parsing is split from reading so the tests can feed it text.

#include <cstdint>
#include <optional>
#include <string_view>

namespace followermaze {

struct process_stats {
  double cpu_seconds = 0.0;
  std::uint64_t peak_rss_kb = 0;
};

// From the text of /proc/PID/stat: fields 14 and 15 (utime, stime), in clock ticks. The
// command name (field 2) may hold spaces and parentheses, so fields are counted after the
// last ')'.
std::optional<double> cpu_seconds_from_stat(std::string_view stat_text, long ticks_per_second) noexcept;

// From the text of /proc/PID/status: the VmHWM line, in kB.
std::optional<std::uint64_t> peak_rss_kb_from_status(std::string_view status_text) noexcept;

// Both, for a live process; nullopt when it is gone or unreadable.
std::optional<process_stats> read_process_stats(int pid);

}  // namespace followermaze
