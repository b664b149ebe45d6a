#include "followermaze/proc_stats.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "followermaze/wire.hpp"

namespace followermaze {

namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<double> cpu_seconds_from_stat(std::string_view stat_text, long ticks_per_second) noexcept {
  const auto paren = stat_text.rfind(')');
  if (paren == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::string_view rest = stat_text.substr(paren + 1);
  // After ')' come field 3 (state), 4, ...; utime is field 14, stime field 15.
  std::optional<std::uint64_t> utime;
  std::optional<std::uint64_t> stime;
  int field = 2;
  while (!rest.empty() && field < 15) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto space = rest.find(' ');
    const std::string_view token = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
    ++field;
    if (field == 14) utime = parse_u64(trim(token));
    if (field == 15) stime = parse_u64(trim(token));
  }
  if (!utime || !stime) return std::nullopt;
  return static_cast<double>(*utime + *stime) / static_cast<double>(ticks_per_second);
}

std::optional<std::uint64_t> peak_rss_kb_from_status(std::string_view status_text) noexcept {
  constexpr std::string_view key = "VmHWM:";
  std::size_t at = 0;
  while (at < status_text.size()) {
    const auto eol = status_text.find('\n', at);
    std::string_view line = status_text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    if (line.starts_with(key)) {
      line = trim(line.substr(key.size()));
      if (line.ends_with("kB")) line = trim(line.substr(0, line.size() - 2));
      return parse_u64(line);
    }
    if (eol == std::string_view::npos) break;
    at = eol + 1;
  }
  return std::nullopt;
}

std::optional<process_stats> read_process_stats(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  const auto stat = slurp(dir + "/stat");
  const auto status = slurp(dir + "/status");
  if (!stat || !status) return std::nullopt;
  const auto cpu = cpu_seconds_from_stat(*stat, sysconf(_SC_CLK_TCK));
  const auto rss = peak_rss_kb_from_status(*status);
  if (!cpu || !rss) return std::nullopt;
  return process_stats{*cpu, *rss};
}

}  // namespace followermaze
