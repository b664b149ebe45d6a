#include "eventserver/cluster/stream_follower.hpp"

#include "jetstream_impl.hpp"

namespace eventserver::cluster {

// Destroyed without an explicit Unsubscribe: that one also deletes the ordered consumer, and in
// libnats 3.4 it reads the consumer's name while the library's own reset thread (after a
// reconnect) may be freeing it (a use-after-free ASan caught). Destroy unsubscribes without
// deleting; the server drops the ephemeral consumer by itself once it is inactive.
struct stream_follower::subscription {
  natsSubscription* sub = nullptr;
  ~subscription() {
    if (sub != nullptr) natsSubscription_Destroy(sub);
  }
};

namespace {
std::string numbers(stream_epoch epoch, sequence_number first, sequence_number last) {
  return "epoch " + std::to_string(epoch) + " numbers " + std::to_string(first) + ".." + std::to_string(last);
}
}  // namespace

stream_follower::stream_follower(jetstream_stream& stream, follow_position after)
    : stream_(stream), at_(after), sub_(std::make_unique<subscription>()) {
  const stream_state state = stream_.state();
  std::uint64_t start = state.first_seq;
  if (after.seq != 0) {
    const auto holder = stream_.find(after.epoch, after.seq);
    const auto batch = holder ? stream_.at(*holder) : std::nullopt;
    if (!batch) {
      throw follow_error("the stream " + stream_.settings().name + " no longer holds number " +
                         std::to_string(after.seq) + " of epoch " + std::to_string(after.epoch) +
                         " (retention, or a local log ahead of the stream): this edge cannot continue from it");
    }
    if (batch->last != after.seq) {
      throw follow_error("the local log ends at number " + std::to_string(after.seq) + " of epoch " +
                         std::to_string(after.epoch) + ", inside the stream's batch of " +
                         numbers(batch->epoch, batch->first, batch->last) + ": it was not written from this stream");
    }
    stream_seq_ = batch->stream_seq;
    start = batch->stream_seq + 1;
  }
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream_.settings().name.c_str();
  options.Ordered = true;
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = start == 0 ? 1 : start;
  jsErrCode code{};
  const natsStatus s = js_SubscribeSync(&sub_->sub, stream_.impl_->js, stream_.settings().subject.c_str(),
                                        &stream_.impl_->js_options, &options, &code);
  if (s != NATS_OK) {
    throw cluster_error("cannot read stream " + stream_.settings().name + ": " + status_text(s, code));
  }
  // What libnats may hold for this edge before next() takes it: past the bound it drops
  // messages (a slow consumer) and the ordered consumer starts again after the last one
  // delivered, so a slow reader costs time, never memory or a gap.
  natsSubscription_SetPendingLimits(sub_->sub, pending_messages, pending_bytes);
}

stream_follower::~stream_follower() = default;

std::optional<stored_batch> stream_follower::next(std::chrono::milliseconds timeout) {
  natsMsg* raw = nullptr;
  const natsStatus s = natsSubscription_NextMsg(&raw, sub_->sub, static_cast<int64_t>(timeout.count()));
  // A slow consumer: libnats dropped messages past its pending limits, and the ordered consumer
  // starts again after the last one delivered; what comes next is still checked below.
  if (s == NATS_TIMEOUT || s == NATS_SLOW_CONSUMER) return std::nullopt;
  if (s != NATS_OK) throw cluster_error("reading stream " + stream_.settings().name + ": " + status_text(s, jsErrCode{}));
  struct release {
    natsMsg* msg;
    ~release() { natsMsg_Destroy(msg); }
  } owned{raw};
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, raw) != NATS_OK || meta == nullptr) {
    throw follow_error("a message of stream " + stream_.settings().name + " without JetStream metadata");
  }
  const std::uint64_t seq = meta->Sequence.Stream;
  const std::int64_t stored_ns = meta->Timestamp;
  jsMsgMetaData_Destroy(meta);
  stored_batch batch;
  try {
    batch = stream_.impl_->decode(raw, seq, stored_ns);
  } catch (const cluster_error& e) {
    throw follow_error(std::string(e.what()) + "; this edge stops");  // not a batch of this log: reading on cannot mend it
  }

  // Each message the next one, continuing the numbering: JetStream clips and skips silently.
  const std::string where = "stream " + stream_.settings().name + " message " + std::to_string(seq) + " (" +
                            numbers(batch.epoch, batch.first, batch.last) + ")";
  if (stream_seq_ != 0 && seq != stream_seq_ + 1) {
    // The stream still holds what is missing: lost on the way, not from the stream. libnats'
    // ordered consumer loses messages it had queued when it resets itself behind a slow reader
    // (seen here in end-to-end runs: three edges at once jumped from message 1059 to 1448).
    // A cluster_error: edge_feed makes a new follower from the last message it took.
    if (stream_.at(stream_seq_ + 1)) {
      throw cluster_error(where + " follows message " + std::to_string(stream_seq_) +
                          ": the messages between were lost on the way; reading again after " +
                          std::to_string(stream_seq_));
    }
    throw follow_error(where + " follows message " + std::to_string(stream_seq_) +
                       ": the messages between are gone (deleted, or the start was moved); this edge stops");
  }
  const bool continues = batch.epoch == at_.epoch && batch.first == at_.seq + 1;
  const bool new_epoch = batch.epoch > at_.epoch && batch.first == 1;
  if (!continues && !new_epoch) {
    throw follow_error(where + " does not continue the local log, which ends at number " + std::to_string(at_.seq) +
                       " of epoch " + std::to_string(at_.epoch) + "; this edge stops");
  }
  stream_seq_ = seq;
  at_ = {batch.epoch, batch.last};
  return batch;
}

}  // namespace eventserver::cluster
