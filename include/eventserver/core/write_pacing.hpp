#pragma once
// When the server writes the clients that have notifications waiting (one write each, a
// "pass": app/server.cpp, flush_clients). On loopback a write costs the kernel ~7 us whatever
// its size, so while input keeps coming writes are held and go out together; after a quiet
// spell they go out at once.
//
// - Busy input (a read left more to read; an edge behind its stream): a pass once
//   clientWriteDelayMs have gone by since nothing waited, or as long as the last pass took if
//   that was longer, so that writing takes at most about half the time.
// - Idle input (a read emptied the socket): a pass at once if the last one ended long enough
//   ago, otherwise then (the caller's timer): ten times the last pass's length, at most
//   clientWriteDelayMs. A source that sends a little every millisecond, each read emptying the
//   socket, so costs about a tenth of the time in writes where passes are cheap (it had been a
//   pass per read), and its notifications wait a few milliseconds more (100 clients: under
//   10 ms); with thousands of clients, at most the delay.
// A delay of 0 holds nothing back.

#include <chrono>
#include <optional>

namespace eventserver {

class write_pacing {
 public:
  using clock = std::chrono::steady_clock;
  // Idle input waits at most this many times the last pass's length since its end.
  static constexpr int idle_hold_passes = 10;

  struct decision {
    bool pass = false;
    std::optional<clock::time_point> due;  // no pass now, idle input: when there should be one
  };

  write_pacing(clock::duration delay, clock::time_point now) noexcept : delay_(delay), flushed_at_(now) {}

  // Nothing waits for a write at `now`.
  void nothing_waiting(clock::time_point now) noexcept { flushed_at_ = now; }
  // Whether to write the waiting clients now. `input_idle` false: more input is coming at
  // once (its end decides again); true: none is, and a held pass is due at `due`.
  decision decide(clock::time_point now, bool input_idle) const noexcept;
  // A pass ran from `started` to `ended`.
  void passed(clock::time_point started, clock::time_point ended) noexcept;

  clock::duration busy_hold() const noexcept { return busy_hold_; }
  clock::duration idle_hold() const noexcept { return idle_hold_; }

 private:
  clock::duration delay_;
  clock::time_point flushed_at_;    // the last pass's end, or the last time nothing waited
  clock::time_point passed_at_{};   // the last pass's end
  clock::duration busy_hold_ = delay_;
  clock::duration idle_hold_{};     // none until a pass has been measured
};

}  // namespace eventserver
