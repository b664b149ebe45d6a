#include "eventserver/app/edge_intake.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "eventserver/app/durable_log.hpp"
#include "eventserver/storage/batch_format.hpp"

namespace eventserver {

namespace {

// Whether everything up to `end` is applied at `applied`.
bool reached(log_position applied, log_position end) noexcept {
  return applied.epoch > end.epoch || (applied.epoch == end.epoch && applied.seq >= end.seq);
}

}  // namespace

edge_intake::edge_intake(asio::io_context& io, const config& settings, dispatcher& dispatch, hooks on,
                         cluster::edge_feed_settings feed)
    : io_(io), settings_(settings), dispatch_(dispatch), on_(std::move(on)), feed_settings_(feed), idle_flush_(io) {}

edge_intake::~edge_intake() {
  *alive_ = false;
  feed_.reset();  // joins the feed's thread
}

void edge_intake::start(log_position local) {
  if (stopping_) return;
  spdlog::info("edge: following stream {} on {} after number {} of epoch {}", settings_.cluster_stream,
               cluster::shown_servers(settings_.cluster_servers), local.seq, local.epoch);
  // What the feed posts runs only while this object lives (a post may be queued when it goes).
  auto post = [this, alive = std::weak_ptr<bool>(alive_)](std::function<void()> work) {
    asio::post(io_, [alive, work = std::move(work)] {
      if (const auto live = alive.lock(); live && *live) work();
    });
  };
  // The feed stops after posting every batch before the mismatch: those are still taken.
  cluster::edge_feed::handlers handlers{std::move(post),
                                        [this](cluster::stored_batch&& b, bool more) { on_batch(std::move(b), more); },
                                        [this](std::string why) { halt(std::move(why), false); },
                                        [this](std::string failing) { on_failing(std::move(failing)); }};
  feed_ = std::make_unique<cluster::edge_feed>(cluster_stream_settings(settings_), cluster::follow_position{local.epoch, local.seq},
                                               std::move(handlers), feed_settings_);
}

void edge_intake::stop() {
  stopping_ = true;
  idle_flush_.cancel();
  if (feed_) feed_->request_stop();
}

void edge_intake::on_batch(cluster::stored_batch&& batch, bool more) {
  if (stopping_ || refused_) return;
  more_coming_ = more;
  waiting_.push_back(std::move(batch));
  pump();
}

void edge_intake::arm_idle_flush() {
  if (idle_flush_armed_ || stopping_) return;
  idle_flush_armed_ = true;
  idle_flush_.expires_after(settings_.client_write_delay);
  idle_flush_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const error_code& error) {
    const auto live = alive.lock();
    if (error || !live || !*live) return;
    idle_flush_armed_ = false;
    if (!stopping_) on_.offered(true);
  });
}

void edge_intake::pump() {
  if (stopping_) return;  // shutting down: the log takes nothing more (the stream keeps it)
  bool any = false;
  while (!waiting_.empty() && !dispatch_.log_saturated() && !refused_) {
    const cluster::stored_batch& batch = waiting_.front();
    // jetstream_stream checked it (checksum, numbers agreeing with the headers); decoded again
    // here for its body.
    const storage::decode_result decoded = storage::decode_batch(batch.sealed.data(), batch.sealed.size());
    if (decoded.status != storage::decode_status::ok) {
      halt("stream message " + std::to_string(batch.stream_seq) + " is not a valid batch", true);
      continue;  // refused: the loop ends, what went before is committed
    }
    const sequenced_batch input{decoded.batch.kind == storage::batch_kind::skipped ? sequenced_batch::kind::skipped
                                                                                    : sequenced_batch::kind::events,
                                decoded.batch.first_seq, decoded.batch.count, decoded.batch.body};
    switch (dispatch_.offer_sequenced(batch.epoch, input)) {
      case dispatcher::batch_outcome::applied:
      case dispatcher::batch_outcome::stale:  // already in the local log: taken at once
        break;
      case dispatcher::batch_outcome::gap:
        halt("stream message " + std::to_string(batch.stream_seq) + " (epoch " + std::to_string(batch.epoch) +
             " numbers " + std::to_string(batch.first) + ".." + std::to_string(batch.last) +
             ") does not continue the local log at number " + std::to_string(dispatch_.applied().seq) + " of epoch " +
             std::to_string(dispatch_.applied().epoch), true);
        continue;  // refused: the loop ends, what went before is committed
      case dispatcher::batch_outcome::malformed:
        halt("stream message " + std::to_string(batch.stream_seq) + " holds a malformed batch", true);
        continue;  // refused: the loop ends, what went before is committed
    }
    offered_.push_back({batch.epoch, batch.last});
    ++batches_;
    waiting_.pop_front();
    any = true;
  }
  if (any) {
    on_.offered(!more_coming_);
    if (more_coming_) arm_idle_flush();
  }
  note_taken();
}

void edge_intake::applied() {
  note_taken();
  pump();
}

void edge_intake::note_taken() {
  const log_position at = dispatch_.applied();
  std::size_t taken = 0;
  while (!offered_.empty() && reached(at, offered_.front())) {
    offered_.pop_front();
    ++taken;
  }
  if (taken != 0 && feed_) feed_->taken(taken);
}

void edge_intake::on_failing(std::string failing) {
  if (failing.empty()) {
    spdlog::info("edge: reading stream {} again", settings_.cluster_stream);
  } else {
    ++unreachable_;
    spdlog::warn("edge: cannot read stream {} ({}); clients keep what this edge has, retrying", settings_.cluster_stream,
                 failing);
  }
  failing_ = std::move(failing);
}

void edge_intake::halt(std::string why, bool refuse_waiting) {
  if (refuse_waiting) {
    refused_ = true;
    waiting_.clear();
  }
  if (!stopped_because_.empty()) return;
  stopped_because_ = std::move(why);
  spdlog::error("edge: stopped following stream {}: {}. Clients keep what this edge holds; /readyz fails. Move them "
                "to another edge and rebuild this one's dataDir",
                settings_.cluster_stream, stopped_because_);
  if (feed_) feed_->request_stop();
}

edge_status edge_intake::status() const {
  edge_status s;
  s.enabled = true;
  s.stream = settings_.cluster_stream;
  s.stopped = !stopped_because_.empty();
  s.unreachable = !failing_.empty();
  s.problem = s.stopped ? stopped_because_ : failing_;
  s.batches = batches_;
  s.unreachable_total = unreachable_;
  if (feed_) {
    const cluster::edge_lag lag = feed_->lag();
    s.lag_known = lag.known;
    s.stream_last_seq = lag.stream_last_seq;
    s.taken_stream_seq = lag.taken_stream_seq;
    s.events_behind = lag.events_behind;
    s.seconds_behind = lag.seconds_behind;
  }
  return s;
}

}  // namespace eventserver
