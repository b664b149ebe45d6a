#pragma once
// Rate limit for warnings a peer can trigger in bulk: at most `burst` lines per `interval`;
// the next line allowed after a quiet spell reports how many were suppressed meanwhile.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace eventserver {

class warning_limiter {
 public:
  using clock = std::chrono::steady_clock;

  warning_limiter(std::size_t burst, std::chrono::milliseconds interval) : burst_(burst), interval_(interval) {}

  // nullopt: stay quiet. Otherwise log now, mentioning the returned number of lines
  // suppressed since the last one that was logged (0 most of the time).
  std::optional<std::uint64_t> allow(clock::time_point now) noexcept;

 private:
  std::size_t burst_;
  std::chrono::milliseconds interval_;
  clock::time_point window_start_{};
  std::size_t used_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace eventserver

#include <string>
#include <string_view>

namespace eventserver {

// " (N similar warnings suppressed)", or "" when N is 0: the tail of a rate-limited warning.
std::string suppressed_note(std::uint64_t suppressed);

// A peer's bytes made safe for one log line: at most `limit` bytes, quoted, with
// control and non-ASCII bytes escaped as \xNN.
std::string quote_peer_bytes(std::string_view bytes, std::size_t limit = 64);

}  // namespace eventserver
