#include "eventserver/cluster/jetstream_log.hpp"

#include <pthread.h>

#include <algorithm>
#include <cassert>

#include "eventserver/storage/batch_format.hpp"

namespace eventserver::cluster {

namespace {
using steady = std::chrono::steady_clock;

storage::batch_kind stored_kind(log_batch::kind kind) {
  return kind == log_batch::kind::skipped ? storage::batch_kind::skipped : storage::batch_kind::events;
}
}  // namespace

jetstream_log::jetstream_log(jetstream_stream stream, std::uint64_t last_stream_seq, notify on_report,
                             std::chrono::milliseconds retry_after)
    : stream_(std::move(stream)),
      on_report_(std::move(on_report)),
      retry_after_(retry_after),
      expect_last_(last_stream_seq) {
  status_.last_stream_seq = last_stream_seq;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "eventserver-js");
    run();
  });
}

jetstream_log::~jetstream_log() {
  if (thread_.joinable()) stop(steady::now() + std::chrono::seconds(5));
  if (thread_.joinable()) thread_.detach();  // an unreachable cluster: the thread ends on its own
}

std::size_t jetstream_log::header_bytes() const noexcept { return storage::batch_header_size; }

void jetstream_log::submit(log_batch& batch) {
  assert(batch.header_bytes() == storage::batch_header_size);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(&batch);
  }
  wake_.notify_one();
}

// Every submitted batch is published at once: JetStream acknowledges one message at a time.
void jetstream_log::flush() {}

bool jetstream_log::stop(steady::time_point deadline) {
  if (!thread_.joinable()) return true;
  std::unique_lock lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
  if (!stopped_cv_.wait_until(lock, deadline, [this] { return stopped_; })) return false;
  lock.unlock();
  thread_.join();
  return true;
}

jetstream_log_status jetstream_log::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void jetstream_log::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || status_.fenced; });
    if (queue_.empty() || status_.fenced) break;  // stopping with nothing left, or fenced
    log_batch* batch = queue_.front();
    lock.unlock();
    const bool durable = publish(*batch);
    lock.lock();
    if (!durable) break;  // fenced, or stopped while the cluster was away
    queue_.pop_front();
    jetstream_log_report report;
    report.durable = 1;
    on_report_(report);
  }
  stopped_ = true;
  stopped_cv_.notify_all();
}

bool jetstream_log::publish(log_batch& batch) {
  const auto stored = batch.stored();
  const std::span<const char> sealed = storage::seal_batch(stored.data(), stored_kind(batch.type()), batch.first_seq(),
                                                           batch.count(), batch.body_size());
  for (;;) {
    const publish_result result =
        stream_.publish(batch.epoch(), batch.first_seq(), batch.last_seq(), sealed, expect_last_);
    switch (result.result) {
      case publish_result::outcome::duplicate:
        // An id names its content only while one publisher cuts its batches: a duplicate is
        // this batch only if the stream holds these bytes under it.
        if (!holds_these_bytes(result.stream_seq, sealed)) {
          fence("the stream " + stream_.settings().name + " holds other events under the id of epoch " +
                std::to_string(batch.epoch()) + " numbers " + std::to_string(batch.first_seq()) + ".." +
                std::to_string(batch.last_seq()) + ": another ingest publishes to it; this one stops publishing");
          return false;
        }
        [[fallthrough]];
      case publish_result::outcome::stored: {
        expect_last_ = result.stream_seq;
        std::lock_guard lock(mutex_);
        ++status_.batches_published;
        if (result.result == publish_result::outcome::duplicate) ++status_.duplicates;
        status_.last_stream_seq = result.stream_seq;
        if (failing_) {
          failing_ = false;
          status_.failing.clear();
          jetstream_log_report report;
          report.recovered = true;
          on_report_(report);
        }
        return true;
      }
      case publish_result::outcome::wrong_last_seq: {
        std::optional<stored_batch> last;
        try {
          last = stream_.last();
        } catch (const cluster_error& e) {
          fence(std::string("cannot read the stream's end after a wrong expected sequence: ") + e.what());
          return false;
        }
        // Stored by an earlier attempt whose acknowledgement was lost (and whose id has left the
        // duplicates window): the same numbers and the same bytes. Anything else is another
        // publisher's.
        const bool is_this_one = last && last->epoch == batch.epoch() && last->first == batch.first_seq() &&
                                 last->last == batch.last_seq() &&
                                 std::equal(last->sealed.begin(), last->sealed.end(), sealed.begin(), sealed.end());
        if (is_this_one) {
          expect_last_ = last->stream_seq;
          std::lock_guard lock(mutex_);
          ++status_.batches_published;
          ++status_.duplicates;
          status_.last_stream_seq = last->stream_seq;
          return true;
        }
        fence("the stream " + stream_.settings().name + " no longer ends where this ingest left it (" +
              (last ? "it ends with epoch " + std::to_string(last->epoch) + " numbers " + std::to_string(last->first) +
                          ".." + std::to_string(last->last)
                    : std::string("it is empty")) +
              ", this ingest publishes epoch " + std::to_string(batch.epoch()) + " from " +
              std::to_string(batch.first_seq()) + "): another ingest publishes to it; this one stops publishing");
        return false;
      }
      case publish_result::outcome::unavailable: {
        std::unique_lock lock(mutex_);
        ++status_.retries;
        status_.failing = result.detail;
        if (!failing_) {
          failing_ = true;
          jetstream_log_report report;
          report.failing = result.detail;
          lock.unlock();
          on_report_(report);
          lock.lock();
        }
        if (wake_.wait_for(lock, retry_after_, [this] { return stopping_; })) return false;
        continue;
      }
      case publish_result::outcome::refused:
        fence("JetStream refused a batch: " + result.detail);
        return false;
    }
  }
}

bool jetstream_log::holds_these_bytes(std::uint64_t stream_seq, std::span<const char> sealed) {
  try {
    const auto stored = stream_.at(stream_seq);
    return stored && std::equal(stored->sealed.begin(), stored->sealed.end(), sealed.begin(), sealed.end());
  } catch (const cluster_error&) {
    return false;
  }
}

void jetstream_log::fence(std::string why) {
  {
    std::lock_guard lock(mutex_);
    status_.fenced = true;
    status_.failing = why;
  }
  jetstream_log_report report;
  report.fenced = true;
  report.failing = std::move(why);
  on_report_(report);
}

}  // namespace eventserver::cluster
