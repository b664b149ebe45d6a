#pragma once
// An edge's intake (docs/design.md, "Past one machine"): a thread of its own connects to the
// cluster, follows the stream from the local log's position (stream_follower: every message
// checked to continue the log) and hands each batch to the event thread with a post. The
// thread never touches the daemon's state; the event thread says when it has taken a batch.
//
// Bounds: at most `window` batches are read and not yet taken (posted, or fetched and held by
// the follower): the thread waits for room, then fetches at most that many (stream_follower
// pulls; nothing is pushed to it). A slow event thread costs the edge lag, never memory.
//
// The bad days:
// - the cluster unreachable (at start or later): the thread retries every retry_after and
//   says so once (`failing`), then again when it reads again (an empty text);
// - a message that does not continue the log (a gap, retention past the local position, a
//   stream written by another history): `stopped` with the follower's words; nothing more is
//   read, and the edge keeps serving what it has.
//
// Lag: every lag_every the thread also reads where the stream ends, so the edge can say how
// far behind it is in events and in seconds of the stream's own time.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "eventserver/cluster/jetstream_stream.hpp"
#include "eventserver/cluster/stream_follower.hpp"

namespace eventserver::cluster {

// How far an edge is behind the stream's last message, as last measured, counting what the
// event thread has taken (batches read and not yet taken are behind too). The last message
// taken is always current; the rest is from the last measurement (lag_every).
struct edge_lag {
  bool known = false;                 // measured at least once
  std::uint64_t stream_last_seq = 0;  // the stream's last message
  std::uint64_t taken_stream_seq = 0;  // the last message the event thread took
  // Numbers the stream holds past the edge's position: in the same epoch, the difference; in a
  // later epoch, that epoch's numbers so far (at least that many).
  std::uint64_t events_behind = 0;
  // How long ago the stream stored the oldest message the edge has not taken (0: caught up).
  double seconds_behind = 0;
};

struct edge_feed_settings {
  std::size_t window = 32;  // batches posted and not yet taken
  std::chrono::milliseconds poll{200};
  std::chrono::milliseconds retry_after{500};
  std::chrono::milliseconds lag_every{1000};
};

class edge_feed {
 public:
  using post_fn = std::function<void(std::function<void()>)>;
  struct handlers {
    post_fn post;  // runs a function on the event thread; called from the feed's thread
    // On the event thread, in stream order; call taken() once the batch is off your hands.
    // `more`: the feed had more batches ready when it posted this one (it is behind the
    // stream), so client writes may wait to go out together; false once it has caught up.
    std::function<void(stored_batch&&, bool more)> batch;
    std::function<void(std::string why)> stopped;  // on the event thread: nothing more will come
    std::function<void(std::string failing)> failing;  // on the event thread; empty: reading again
  };

  // Starts reading after `after` (the local log's end) at once.
  edge_feed(stream_settings stream, follow_position after, handlers on, edge_feed_settings settings = {});
  ~edge_feed();
  edge_feed(const edge_feed&) = delete;
  edge_feed& operator=(const edge_feed&) = delete;

  // Event thread: `batches` handed over were taken; the thread may post as many more.
  void taken(std::size_t batches = 1);
  // Stops the thread and waits for it (at most one poll, or one request's timeout).
  void stop();
  // Asks the thread to stop without waiting for it (the event thread, at shutdown or when the
  // edge stops on a mismatch): nothing more is posted once it sees the request, and the
  // destructor joins it.
  void request_stop();

  edge_lag lag() const;

 private:
  void run();
  // Waits until a batch may be posted, measuring the lag meanwhile; false when stopping.
  bool wait_for_room(jetstream_stream& stream, std::chrono::steady_clock::time_point& next_lag);
  std::size_t room() const;  // batches that may still be posted
  void measure_lag(jetstream_stream& stream);
  bool pause(std::chrono::milliseconds how_long);  // false when stopping
  bool stopping() const;

  const stream_settings stream_settings_;
  const follow_position start_;
  const handlers on_;
  const edge_feed_settings settings_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  // Posted and not yet taken, oldest first: (stream sequence, local position after it).
  std::deque<std::pair<std::uint64_t, follow_position>> posted_;
  std::uint64_t taken_stream_seq_ = 0;
  follow_position taken_at_;
  edge_lag lag_;

  std::thread thread_;
};

}  // namespace eventserver::cluster
