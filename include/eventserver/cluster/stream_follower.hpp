#pragma once
// An edge's reader of the stream: every batch after a local position, in order, each checked
// against what must come next. JetStream's start positions are silently clipped (a start past
// the end) or moved (a start below the first message kept, a deleted message skipped), so the
// follower never trusts them: each message must be the next stream sequence and continue the
// numbering (the next number of its epoch, or number 1 of a later epoch). Anything else is a
// follow_error naming what was expected and what came: the edge stops rather than skip.
//
// Reads through a pull consumer of its own (ephemeral, AckNone, starting by stream sequence):
// next() asks the server for at most `up_to` messages (the room its caller has) and waits, on
// the caller's thread (the edge's reading thread, never its event thread), up to its timeout
// for the first of them; messages already stored come at once. Nothing is pushed, so nothing
// queues without bound and libnats drops nothing: the follower holds at most the messages of
// one fetch. (The ordered push consumer read before it lost messages it had queued when it
// reset itself behind a slow reader, and a consumer that stopped delivering left the edge
// waiting with nothing to say so.)
//
// What may still go wrong on the way is caught, never trusted, and is a cluster_error (a
// follower made again from position() reads on), while the stream still holds what is missing:
// - a message that is not the next sequence: the consumer skipped (messages in flight lost in
//   a reconnect) or went back (after a kill -9 and restart, nats-server 2.9.10 brings an
//   ephemeral consumer back at an earlier position than it had delivered);
// - a consumer that delivers nothing for stall_after though the stream held the next message
//   when it was asked: deleted (its inactive threshold passed while the edge waited, the server
//   lost it) or stuck. A fetch against a consumer that is gone just times out in 2.9.10.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "eventserver/cluster/jetstream_stream.hpp"
#include "eventserver/core/event.hpp"

namespace eventserver::cluster {

class follow_error : public cluster_error {
 public:
  using cluster_error::cluster_error;
};

// Where the local log stands: the last number it holds of `epoch` (0: nothing of it).
struct follow_position {
  stream_epoch epoch = 1;
  sequence_number seq = 0;
};

class stream_follower {
 public:
  // The most messages one fetch asks for, whatever room the caller has.
  static constexpr std::size_t max_fetch = 64;
  // How long the server keeps the consumer while nobody fetches (the edge waiting for its
  // event thread); past it, the consumer is found gone and made again.
  static constexpr std::chrono::seconds inactive_threshold{30};

  // Starts after `after`: the batch following the one that ends at it (found by binary search),
  // or the stream's first message for an empty local log, which must then begin epoch 1 at
  // number 1 (an edge needs the whole epoch to build its follower graph). Throws follow_error
  // when the stream no longer holds what comes next (retention, or a local log ahead of it),
  // cluster_error when the cluster cannot be read now.
  stream_follower(jetstream_stream& stream, follow_position after,
                  std::chrono::milliseconds stall_after = std::chrono::seconds(2));
  ~stream_follower();
  stream_follower(const stream_follower&) = delete;
  stream_follower& operator=(const stream_follower&) = delete;

  // The next batch, checked; nullopt when none came within `timeout` (caught up, or the
  // cluster is away: next() can be called again). When none is in hand, asks for at most
  // `up_to` (at least 1, at most max_fetch). Throws follow_error on a gap or a message that
  // does not continue the log, cluster_error when the consumer failed or lost messages on the
  // way (a follower made again from position() reads on).
  std::optional<stored_batch> next(std::chrono::milliseconds timeout, std::size_t up_to = 1);

  follow_position position() const noexcept { return at_; }
  std::uint64_t stream_seq() const noexcept { return stream_seq_; }  // of the last batch returned
  std::size_t held() const noexcept;  // messages fetched and not returned yet
  // More is ready now: messages held, or the last fetch brought all it asked for (the stream
  // likely holds more). False once a fetch brought fewer: the follower has caught up.
  bool more_ready() const noexcept { return held() > 0 || last_fetch_full_; }

 private:
  struct subscription;
  void fetch(std::chrono::milliseconds timeout, std::size_t up_to);
  void check_delivering();

  jetstream_stream& stream_;
  follow_position at_;
  std::uint64_t stream_seq_ = 0;  // 0 before the first batch
  std::uint64_t start_seq_ = 0;   // the stream sequence asked for first
  bool last_fetch_full_ = false;
  const std::chrono::milliseconds stall_after_;
  // The stream's last sequence as read after the last fetch that brought nothing, and since
  // when fetches have brought nothing though the stream held the next message.
  std::uint64_t stream_last_seen_ = 0;
  std::optional<std::chrono::steady_clock::time_point> stalled_since_;
  std::unique_ptr<subscription> sub_;
};

}  // namespace eventserver::cluster
