#pragma once
// The lines of docs/protocol.md beyond the original follower-maze: what the daemon tells an
// event source (`durable|<epoch>|<seq>`), what it tells a client that resumed
// (`resumed|<epoch>|<after>|complete|incomplete`, `epoch|<epoch>`), and the resume handshake a
// client sends (`<user>|<last>[|<epoch>]`). Parsed and formatted here, independently of the
// daemon, like everything the harness checks.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "followermaze/wire.hpp"

namespace followermaze {

// A stream position as the daemon reports it. Epochs start at 1; 0 means "not known".
struct stream_position {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  bool operator==(const stream_position&) const = default;
};

// `durable|<epoch>|<seq>`, with or without its "\r\n" / "\n". Nothing else: no spaces, no sign,
// no extra field, epoch at least 1.
std::optional<stream_position> parse_durable_line(std::string_view line) noexcept;

enum class status_kind : std::uint8_t { resumed, epoch };

struct status_line {
  status_kind kind = status_kind::resumed;
  std::uint64_t epoch = 0;
  std::uint64_t after = 0;  // resumed only
  bool complete = false;    // resumed only
  bool operator==(const status_line&) const = default;
};

// `resumed|<epoch>|<after>|complete`, `resumed|<epoch>|<after>|incomplete` or `epoch|<epoch>`,
// with or without the line end.
std::optional<status_line> parse_status_line(std::string_view line) noexcept;

// `<user>|<last>|<epoch>\r\n`, or `<user>|<last>\r\n` when epoch is 0 (the current epoch).
std::string resume_handshake(user_id user, std::uint64_t last, std::uint64_t epoch);

// What a new connection's first durable line says about the stream this run is about to send.
// docs/protocol.md, "Starting over": sequence number 1 starts a new stream (the next epoch)
// when the daemon has already applied number 1 of its current one; a daemon that reports
// nothing durable in its epoch has not, so the run's stream is that epoch.
struct stream_start {
  std::uint64_t epoch = 0;         // the epoch this run's stream will have
  std::uint64_t old_position = 0;  // the earlier stream's position when this one starts over, else 0
  bool operator==(const stream_start&) const = default;
};
stream_start stream_start_from(stream_position first) noexcept;

// Where to resend from after the source reconnected (a daemon restart, a broken connection):
// `reported` is the new connection's first durable line, `held_from` the lowest sequence
// number the source still holds (1 + everything dropped as durable).
struct resend_plan {
  std::uint64_t from = 0;          // resend every batch holding a number at or above it
  bool starts_over = false;        // the daemon lost (never logged) this run's stream: begin it again
  std::uint64_t old_position = 0;  // starts_over: the position of the stream the daemon holds
  std::string error;               // non-empty: the daemon's report is impossible for this run
};
resend_plan plan_resend(const stream_start& stream, stream_position reported, std::uint64_t held_from);

// Accumulates what the daemon writes on an event-source connection and keeps the positions
// its durable lines report. Lines it does not understand are counted and skipped; a line
// longer than max_line_bytes is skipped to its end.
class durable_reader {
 public:
  static constexpr std::size_t max_line_bytes = 256;

  void feed(const char* data, std::size_t size);

  // The first durable line of the connection, and the newest one.
  std::optional<stream_position> first() const noexcept { return first_; }
  std::optional<stream_position> latest() const noexcept { return latest_; }
  std::uint64_t lines() const noexcept { return lines_; }
  std::uint64_t unknown_lines() const noexcept { return unknown_; }
  std::string_view last_unknown() const noexcept { return last_unknown_; }

 private:
  void take(std::string_view line);

  std::string partial_;
  bool skipping_ = false;  // inside an overlong line
  std::optional<stream_position> first_;
  std::optional<stream_position> latest_;
  std::uint64_t lines_ = 0;
  std::uint64_t unknown_ = 0;
  std::string last_unknown_;
};

}  // namespace followermaze
