#include "eventserver/cluster/stream_follower.hpp"

#include <algorithm>

#include "jetstream_impl.hpp"

namespace eventserver::cluster {

// The pull subscription and the messages of the last fetch not yet returned. The consumer is
// deleted when the follower goes, if the server can be asked now; otherwise the server drops
// it by itself after inactive_threshold.
struct stream_follower::subscription {
  natsSubscription* sub = nullptr;
  natsConnection* connection = nullptr;
  natsMsgList fetched{};
  int taken = 0;  // of fetched

  bool empty() const noexcept { return taken >= fetched.Count; }
  natsMsg* take() noexcept {
    natsMsg* msg = fetched.Msgs[taken];
    fetched.Msgs[taken++] = nullptr;  // ours now; natsMsgList_Destroy skips it
    return msg;
  }
  void clear() noexcept {
    if (fetched.Msgs != nullptr) natsMsgList_Destroy(&fetched);
    fetched = natsMsgList{};
    taken = 0;
  }
  ~subscription() {
    clear();
    if (sub == nullptr) return;
    if (natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED) natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
};

namespace {
std::string numbers(stream_epoch epoch, sequence_number first, sequence_number last) {
  return "epoch " + std::to_string(epoch) + " numbers " + std::to_string(first) + ".." + std::to_string(last);
}
}  // namespace

stream_follower::stream_follower(jetstream_stream& stream, follow_position after, std::chrono::milliseconds stall_after)
    : stream_(stream), at_(after), stall_after_(stall_after), sub_(std::make_unique<subscription>()) {
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
  start_seq_ = std::max<std::uint64_t>(start, 1);
  stream_last_seen_ = state.last_seq;
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream_.settings().name.c_str();
  options.Config.AckPolicy = js_AckNone;
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = start_seq_;
  options.Config.InactiveThreshold = std::chrono::duration_cast<std::chrono::nanoseconds>(inactive_threshold).count();
  jsErrCode code{};
  const natsStatus s = js_PullSubscribe(&sub_->sub, stream_.impl_->js, stream_.settings().subject.c_str(), nullptr,
                                        &stream_.impl_->js_options, &options, &code);
  if (s != NATS_OK) {
    sub_->sub = nullptr;
    throw cluster_error("cannot read stream " + stream_.settings().name + ": " + status_text(s, code));
  }
  sub_->connection = stream_.impl_->connection;
  // Only fetched messages come, at most max_fetch at a time (and one late answer to an expired
  // fetch): past this bound libnats would drop them, which the sequence check would catch.
  natsSubscription_SetPendingLimits(sub_->sub, static_cast<int>(4 * max_fetch), 64 << 20);
}

stream_follower::~stream_follower() = default;

std::size_t stream_follower::held() const noexcept {
  return sub_->empty() ? 0 : static_cast<std::size_t>(sub_->fetched.Count - sub_->taken);
}

void stream_follower::fetch(std::chrono::milliseconds timeout, std::size_t up_to) {
  sub_->clear();
  // libnats returns at once without asking when a no-wait fetch has no expiry.
  const auto expires =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(timeout, std::chrono::milliseconds(20)));
  jsFetchRequest request;
  jsFetchRequest_Init(&request);
  request.Batch = static_cast<int>(std::clamp<std::size_t>(up_to, 1, max_fetch));
  // nats-server 2.9.10 (checked on this machine): a no-wait request with an expiry answers at
  // once with what the stream holds (up to Batch), or, when it holds nothing new, with the
  // first message stored before the expiry, as soon as it is stored.
  request.NoWait = true;
  request.Expires = expires.count();
  const int asked = request.Batch;
  natsStatus s = natsSubscription_FetchRequest(&sub_->fetched, sub_->sub, &request);
  last_fetch_full_ = s == NATS_OK && sub_->fetched.Count >= asked;
  if (s == NATS_NOT_FOUND && sub_->fetched.Count == 0) {
    // A server that answers a no-wait request at once with "no messages" (404): wait for one.
    jsFetchRequest_Init(&request);
    request.Batch = 1;
    request.Expires = expires.count();
    s = natsSubscription_FetchRequest(&sub_->fetched, sub_->sub, &request);
  }
  // A timeout or "no messages": nothing now. A slow consumer cannot lose anything unseen: the
  // sequence check catches a hole.
  if (s == NATS_OK || s == NATS_TIMEOUT || s == NATS_NOT_FOUND || s == NATS_SLOW_CONSUMER) return;
  sub_->clear();
  throw cluster_error("reading stream " + stream_.settings().name + ": " + status_text(s, jsErrCode{}));
}

void stream_follower::check_delivering() {
  const std::uint64_t wanted = stream_seq_ == 0 ? start_seq_ : stream_seq_ + 1;
  const auto now = std::chrono::steady_clock::now();
  if (stream_last_seen_ >= wanted) {
    // The stream held the next message before that fetch was asked, and it brought nothing.
    if (!stalled_since_) {
      stalled_since_ = now;
    } else if (now - *stalled_since_ >= stall_after_ && stream_.at(wanted)) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - *stalled_since_);
      throw cluster_error("stream " + stream_.settings().name + ": the consumer delivered nothing for " +
                          std::to_string(waited.count()) + " ms though the stream holds message " + std::to_string(wanted) +
                          " (the consumer is gone or stuck); reading again after " + std::to_string(stream_seq_));
    }
  } else {
    stalled_since_.reset();
  }
  stream_last_seen_ = stream_.state().last_seq;
}

std::optional<stored_batch> stream_follower::next(std::chrono::milliseconds timeout, std::size_t up_to) {
  if (sub_->empty()) {
    fetch(timeout, up_to);
    if (sub_->empty()) {
      check_delivering();
      return std::nullopt;
    }
  }
  stalled_since_.reset();
  struct release {
    natsMsg* msg;
    ~release() { natsMsg_Destroy(msg); }
  } owned{sub_->take()};
  natsMsg* raw = owned.msg;
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
    // The consumer went back or skipped while the stream still holds what comes next: lost or
    // repeated on the way (a reconnect, a restarted server), not missing from the stream. A
    // cluster_error: edge_feed makes a new follower from the last message it took.
    if (seq <= stream_seq_) {
      throw cluster_error(where + " follows message " + std::to_string(stream_seq_) +
                          ": the consumer went back (a restarted server); reading again after " +
                          std::to_string(stream_seq_));
    }
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
