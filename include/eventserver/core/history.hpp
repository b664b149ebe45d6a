#pragma once
// History: the notifications of the past, for a client that fell behind (catch-up) or comes
// back (resume). The sessions see this interface; the file log (a reader thread of its own)
// and the in-memory history (no dataDir) implement it.
//
// A reader reads an epoch forward from a sequence number, never past `until` (what the daemon
// has applied: the log may hold a little more, not yet applied, and a client must not get it
// before the live stream does). Each read returns consecutive runs of numbers with their lines.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/core/event.hpp"

namespace eventserver {

// Consecutive sequence numbers read from history.
struct history_run {
  sequence_number first = 0;
  std::uint64_t count = 0;
  // The notifications of first .. first + count - 1, each "payload\r\n" ("\r\n" alone for a
  // no-op); empty for numbers the gap timeout gave up.
  std::string_view lines;
};

struct history_chunk {
  enum class outcome : std::uint8_t {
    ok,     // runs from the number asked for (none: nothing more up to `until` yet)
    gone,   // that number is no longer in history (retention, or the memory history moved on)
    error,  // the history could not be read (reason)
  };
  outcome result = outcome::ok;
  std::vector<history_run> runs;  // consecutive, from the number asked for
  // What the runs' lines point into. A vector, not a string: moving the chunk must keep the
  // bytes where they are (a short string would be copied into its new place).
  std::vector<char> bytes;
  std::string reason;
};

struct history_request {
  std::uint64_t reader = 0;  // who asks: a reader's position is kept between its reads
  stream_epoch epoch = 1;
  sequence_number from = 1;
  sequence_number until = 0;      // read no number past this one
  std::size_t max_bytes = 64 * 1024;  // of lines (a single longer line still comes whole)
};

class history_source {
 public:
  using read_done = std::function<void(history_chunk)>;
  using following_done = std::function<void(std::optional<std::vector<user_id>>)>;

  // `done` runs on the event thread, after read() has returned (never inside it).
  virtual void read(const history_request& request, read_done done) = 0;
  // The reader is no longer needed (its client left, or caught up and went live).
  virtual void release(std::uint64_t reader) = 0;
  // The first number of `epoch` still in history; nullopt when none of it is.
  virtual std::optional<sequence_number> first_available(stream_epoch epoch) const = 0;
  // The users `user` followed right after number `after` of `epoch`, rebuilt from the log and
  // its snapshots, for a resume that reaches further back than the recent changes kept in
  // memory (graph_changes). done(nullopt) when history cannot tell. `done` as for read().
  virtual void following_at(user_id user, stream_epoch epoch, sequence_number after, following_done done) = 0;

 protected:
  ~history_source() = default;
};

}  // namespace eventserver
