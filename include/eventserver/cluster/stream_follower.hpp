#pragma once
// An edge's reader of the stream: every batch after a local position, in order, each checked
// against what must come next. JetStream's start positions are silently clipped (a start past
// the end) or moved (a start below the first message kept, a deleted message skipped), so the
// follower never trusts them: each message must be the next stream sequence and continue the
// numbering (the next number of its epoch, or number 1 of a later epoch). Anything else is a
// follow_error naming what was expected and what came: the edge stops rather than skip.
//
// Reads through an ordered consumer (ephemeral, flow control and heartbeats, recreated by
// libnats after a gap it sees); next() blocks up to its timeout, on the caller's thread (the
// edge's reading thread, never its event thread). Bound: what libnats buffers for one
// subscription (pending_messages and pending_bytes), besides the batch returned.

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
  // What libnats buffers for the subscription at most (its default is 65,536 messages).
  static constexpr int pending_messages = 1024;
  static constexpr int pending_bytes = 64 << 20;

  // Starts after `after`: the batch following the one that ends at it (found by binary search),
  // or the stream's first message for an empty local log, which must then begin epoch 1 at
  // number 1 (an edge needs the whole epoch to build its follower graph). Throws follow_error
  // when the stream no longer holds what comes next (retention, or a local log ahead of it),
  // cluster_error when the cluster cannot be read now.
  stream_follower(jetstream_stream& stream, follow_position after);
  ~stream_follower();
  stream_follower(const stream_follower&) = delete;
  stream_follower& operator=(const stream_follower&) = delete;

  // The next batch, checked; nullopt when none came within `timeout` (caught up, or the
  // cluster is away: next() can be called again). Throws follow_error on a gap or a message
  // that does not continue the log, cluster_error when the subscription itself failed (a
  // follower made again from position() reads on).
  std::optional<stored_batch> next(std::chrono::milliseconds timeout);

  follow_position position() const noexcept { return at_; }
  std::uint64_t stream_seq() const noexcept { return stream_seq_; }  // of the last batch returned

 private:
  struct subscription;
  jetstream_stream& stream_;
  follow_position at_;
  std::uint64_t stream_seq_ = 0;  // 0 before the first batch
  std::unique_ptr<subscription> sub_;
};

}  // namespace eventserver::cluster
