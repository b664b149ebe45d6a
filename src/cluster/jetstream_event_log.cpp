#include "eventserver/cluster/jetstream_event_log.hpp"

#include <pthread.h>

#include <condition_variable>
#include <functional>

#include <fmt/format.h>

namespace eventserver::cluster {

namespace {
using steady = std::chrono::steady_clock;
using level = storage::event_log_listener::level;
}  // namespace

// The start-up thread's link back: it posts only while the log still wants it, and waits
// between attempts on `wake` (the log's destructor cuts a wait short).
struct jetstream_event_log::start_job {
  std::mutex mutex;
  std::condition_variable wake;
  storage::post_fn post;  // emptied when the log is destroyed
  bool finished = false;
  std::string unreachable;  // why the last attempt to reach the stream failed; empty once it worked
};

// What start-up found, handed to the event thread.
struct jetstream_event_log::found_stream {
  std::unique_ptr<jetstream_stream> stream;
  eventserver::log_position position{1, 0};
  std::uint64_t last_stream_seq = 0;
  std::uint64_t messages = 0;
  double seconds = 0;
};

namespace {

// The stream's oldest batch, skipping messages deleted by hand; nullopt when it holds none.
std::optional<stored_batch> oldest(jetstream_stream& stream, const stream_state& state) {
  for (std::uint64_t seq = state.first_seq; seq != 0 && seq <= state.last_seq; ++seq) {
    if (auto batch = stream.at(seq)) return batch;
  }
  return std::nullopt;
}

}  // namespace

jetstream_event_log::jetstream_event_log(jetstream_event_log_settings settings, storage::post_fn post)
    : settings_(std::move(settings)), post_(std::move(post)) {}

jetstream_event_log::~jetstream_event_log() {
  if (start_) {
    std::unique_lock lock(start_->mutex);
    start_->post = nullptr;
    start_->wake.notify_all();
    if (start_->finished) {
      lock.unlock();
      start_thread_.join();
    } else {
      start_thread_.detach();  // blocked in a connect or a request: it ends within the timeout
    }
  }
  if (log_ && !stopped_) log_->stop(steady::now() + settings_.stream.timeout);
}

storage::post_fn jetstream_event_log::guarded_post() const {
  // Copies, not `this`: a publisher left running past a stuck stop() may still report.
  return [post = post_, alive = std::weak_ptr<char>(alive_)](std::function<void()> f) {
    post([alive, f = std::move(f)] {
      if (alive.lock()) f();
    });
  };
}

void jetstream_event_log::start(storage::event_log_listener& listener) {
  listener_ = &listener;
  recovering_ = true;
  listener.note(level::info, fmt::format("ingest: opening the JetStream stream {} at {}", settings_.stream.name,
                                         shown_servers(settings_.stream.servers)));
  start_ = std::make_shared<start_job>();
  start_->post = guarded_post();
  start_thread_ = std::thread([this, job = start_, settings = settings_] {
    pthread_setname_np(pthread_self(), "eventserver-jsup");
    const auto started = steady::now();
    std::function<void()> done;
    for (std::uint64_t attempt = 1;; ++attempt) {
      try {
        auto found = std::make_shared<found_stream>();
        found->stream = std::make_unique<jetstream_stream>(jetstream_stream::open(settings.stream));
        const std::optional<stored_batch> last = found->stream->last();
        const stream_state state = found->stream->state();
        found->messages = state.messages;
        if (last) {
          found->position = {last->epoch, last->last};
          found->last_stream_seq = last->stream_seq;
          // Every edge rebuilds the follower graph from the first batch of the current epoch:
          // a stream that no longer holds it (a purge, or limits set since) is unusable.
          const std::optional<stored_batch> first = oldest(*found->stream, state);
          if (first && first->epoch == last->epoch && first->first != 1) {
            throw cluster_settings_error(fmt::format(
                "stream {} no longer holds the start of epoch {}: its oldest message ({}) holds numbers {}..{}; "
                "retention or a purge cut into the current epoch, which every edge replays to rebuild the follower "
                "graph; start a new stream (a new cluster.stream, or let the producer start over at 1)",
                settings.stream.name, last->epoch, first->stream_seq, first->first, first->last));
          }
        }
        found->seconds = std::chrono::duration<double>(steady::now() - started).count();
        done = [this, found] { on_found(*found); };
        break;
      } catch (const cluster_settings_error& e) {
        done = [this, error = std::string(e.what())] {
          recovering_ = false;
          listener_->recovery_failed(error);
        };
        break;
      } catch (const cluster_error& e) {
        // Unreachable (or unanswered): say so once, then keep trying; /readyz says why meanwhile.
        std::unique_lock lock(job->mutex);
        if (!job->post) return;
        const bool first_failure = job->unreachable.empty();
        job->unreachable = e.what();
        if (first_failure) {
          job->post([this, error = std::string(e.what()), every = settings.retry_after.count()] {
            listener_->note(level::warning,
                            fmt::format("ingest: cannot reach the stream yet ({}); trying again every {} ms", error,
                                        every));
          });
        }
        if (job->wake.wait_for(lock, settings.retry_after, [&job] { return !job->post; })) return;
      }
    }
    // Handed back and marked finished at once: the log, once it has the result, may be destroyed
    // (a refused start stops the daemon) and must then join this thread, not leave it running
    // into the process exit, where OpenSSL's per-thread state (libnats draws its ids from
    // RAND_bytes) would not yet be freed.
    std::lock_guard lock(job->mutex);
    if (job->post) job->post(std::move(done));
    job->finished = true;
  });
}

void jetstream_event_log::on_found(found_stream& found) {
  {
    std::lock_guard lock(start_->mutex);
    start_->unreachable.clear();
  }
  recovery_seconds_ = found.seconds;
  listener_->note(level::info,
                  fmt::format("ingest: the stream {} holds {} batches; it continues after epoch {} sequence number {} "
                              "(stream sequence {}), found in {:.0f} ms",
                              settings_.stream.name, found.messages, found.position.epoch, found.position.seq,
                              found.last_stream_seq, found.seconds * 1000));
  log_ = std::make_unique<jetstream_log>(std::move(*found.stream), found.last_stream_seq,
                                         [this, post = guarded_post()](jetstream_log_report report) {
                                           post([this, report = std::move(report)] { on_report(report); });
                                         },
                                         settings_.retry_after);
  storage::recovered_stream stream;
  stream.position = found.position;
  recovering_ = false;
  listener_->recovered(std::move(stream));
}

void jetstream_event_log::on_report(const jetstream_log_report& report) {
  storage::event_log_report out;
  out.durable = report.durable;
  if (report.fenced) {
    fenced_ = true;
    failing_ = report.failing;
    out.failing = true;
    out.fenced = true;
  } else if (!report.failing.empty()) {
    failing_ = report.failing;
    listener_->note(level::warning,
                    fmt::format("publishing to the stream {} fails: {}; event sources are no longer read until it "
                                "works again (retrying every {} ms)",
                                settings_.stream.name, failing_, settings_.retry_after.count()));
    out.failing = true;
  }
  if (report.recovered) {
    listener_->note(level::info, fmt::format("publishing to the stream {} works again", settings_.stream.name));
    failing_.clear();
    out.works_again = true;
  }
  listener_->reported(out);
}

std::string jetstream_event_log::problem() const {
  if (fenced_) return "fenced: " + failing_;
  if (!failing_.empty()) return "publishing to JetStream fails: " + failing_;
  if (recovering_ && start_) {
    std::lock_guard lock(start_->mutex);
    if (!start_->unreachable.empty()) return "cannot reach the JetStream stream: " + start_->unreachable;
  }
  return {};
}

storage::event_log_status jetstream_event_log::status() const {
  storage::event_log_status out;
  out.kept = true;
  out.recovering = recovering_;
  out.failing = failing_;
  out.recovery_seconds = recovery_seconds_;
  storage::publish_status publishing;
  if (log_) {
    const jetstream_log_status s = log_->status();
    out.batches_written = s.batches_published;
    out.write_errors = s.retries;
    publishing.batches_published = s.batches_published;
    publishing.duplicates = s.duplicates;
    publishing.retries = s.retries;
    publishing.last_stream_seq = s.last_stream_seq;
  }
  publishing.failing = !failing_.empty() && !fenced_;
  publishing.fenced = fenced_;
  out.publishing = publishing;
  return out;
}

bool jetstream_event_log::stop(eventserver::log_position closed_at, steady::time_point deadline) {
  if (!log_ || stopped_) return true;
  stopped_ = true;
  if (!log_->stop(deadline)) {
    listener_->note(level::warning, fmt::format("the stream {} did not take every batch within shutdownTimeoutMs; "
                                                "stopping without them (the source resends them)",
                                                settings_.stream.name));
    (void)log_.release();  // its thread still runs and uses it: leave it to the process exit
    return false;
  }
  listener_->note(level::info, fmt::format("closed at epoch {} sequence number {} (stream {})", closed_at.epoch,
                                           closed_at.seq, settings_.stream.name));
  return true;
}

}  // namespace eventserver::cluster
