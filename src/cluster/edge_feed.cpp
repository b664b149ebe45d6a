#include "eventserver/cluster/edge_feed.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace eventserver::cluster {

edge_feed::edge_feed(stream_settings stream, follow_position after, handlers on, edge_feed_settings settings)
    : stream_settings_(std::move(stream)), start_(after), on_(std::move(on)), settings_(settings), taken_at_(after) {
  thread_ = std::thread([this] { run(); });
}

edge_feed::~edge_feed() { stop(); }

void edge_feed::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void edge_feed::request_stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

bool edge_feed::stopping() const {
  const std::lock_guard lock(mutex_);
  return stopping_;
}

void edge_feed::taken(std::size_t batches) {
  {
    const std::lock_guard lock(mutex_);
    for (; batches > 0 && !posted_.empty(); --batches) {
      taken_stream_seq_ = posted_.front().first;
      taken_at_ = posted_.front().second;
      posted_.pop_front();
    }
  }
  wake_.notify_all();
}

edge_lag edge_feed::lag() const {
  const std::lock_guard lock(mutex_);
  edge_lag now = lag_;
  // What the event thread took is known here at once; the stream's end only as last measured
  // (once a second): /metrics right after a run must not show the applied message of a second ago.
  now.taken_stream_seq = taken_stream_seq_;
  now.stream_last_seq = std::max(now.stream_last_seq, taken_stream_seq_);
  return now;
}

bool edge_feed::pause(std::chrono::milliseconds how_long) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, how_long, [this] { return stopping_; });
}

std::size_t edge_feed::room() const {
  const std::lock_guard lock(mutex_);
  return posted_.size() < settings_.window ? settings_.window - posted_.size() : 0;
}

bool edge_feed::wait_for_room(jetstream_stream& stream, std::chrono::steady_clock::time_point& next_lag) {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_lag, [this] { return stopping_ || posted_.size() < settings_.window; });
      if (stopping_) return false;
      if (posted_.size() < settings_.window) return true;
    }
    // A slow event thread: the lag is what it is asked about now.
    try {
      measure_lag(stream);
    } catch (const cluster_error&) {
      // Measured again next time; the batch in hand is posted whatever the cluster does.
    }
    next_lag = std::chrono::steady_clock::now() + settings_.lag_every;
  }
}

void edge_feed::measure_lag(jetstream_stream& stream) {
  std::uint64_t taken_seq = 0;
  follow_position taken_at;
  {
    const std::lock_guard lock(mutex_);
    taken_seq = taken_stream_seq_;
    taken_at = taken_at_;
  }
  edge_lag now;
  const stream_state state = stream.state();
  now.known = true;
  now.stream_last_seq = state.last_seq;
  now.taken_stream_seq = taken_seq;
  if (state.last_seq > taken_seq) {
    if (const auto last = stream.last()) {
      now.events_behind = last->epoch == taken_at.epoch ? (last->last > taken_at.seq ? last->last - taken_at.seq : 0)
                                                        : last->last;
    }
    const std::uint64_t oldest_seq = std::max(taken_seq + 1, state.first_seq);
    if (const auto oldest = stream.at(oldest_seq); oldest && oldest->stored_ns != 0) {
      const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
      if (now_ns > oldest->stored_ns) now.seconds_behind = static_cast<double>(now_ns - oldest->stored_ns) / 1e9;
    }
  }
  const std::lock_guard lock(mutex_);
  lag_ = now;
}

void edge_feed::run() {
  std::string failing;  // what was last said about the cluster; empty while reading works
  const auto say_failing = [&](std::string why) {
    if (failing == why) return;
    failing = why;
    on_.post([report = on_.failing, why = std::move(why)] { report(why); });
  };
  const auto say_reading = [&] {
    if (failing.empty()) return;
    failing.clear();
    on_.post([report = on_.failing] { report(std::string()); });
  };

  std::optional<jetstream_stream> stream;
  while (!stream) {
    try {
      stream.emplace(jetstream_stream::open(stream_settings_));
    } catch (const cluster_error& e) {
      say_failing(e.what());
      if (!pause(settings_.retry_after)) return;
    }
  }

  follow_position at = start_;  // the end of what was posted
  auto next_lag = std::chrono::steady_clock::time_point{};
  while (!stopping()) {
    try {
      stream_follower follower(*stream, at);
      say_reading();
      {
        const std::lock_guard lock(mutex_);
        if (taken_stream_seq_ == 0 && posted_.empty()) taken_stream_seq_ = follower.stream_seq();
      }
      // Read until the subscription fails; a follower made again from `at` reads on.
      while (true) {
        if (std::chrono::steady_clock::now() >= next_lag) {
          measure_lag(*stream);
          next_lag = std::chrono::steady_clock::now() + settings_.lag_every;
        }
        // Room first, then a fetch of at most that many: the follower holds only what may
        // be posted, so the batches read and not taken never exceed the window.
        if (!wait_for_room(*stream, next_lag)) return;
        std::optional<stored_batch> batch = follower.next(settings_.poll, room());
        if (stopping()) return;
        if (!batch) continue;
        at = follower.position();
        {
          const std::lock_guard lock(mutex_);
          posted_.emplace_back(batch->stream_seq, at);
        }
        on_.post([deliver = on_.batch, b = std::move(*batch), more = follower.more_ready()]() mutable {
          deliver(std::move(b), more);
        });
      }
    } catch (const follow_error& e) {
      on_.post([report = on_.stopped, why = std::string(e.what())] { report(why); });
      return;
    } catch (const cluster_error& e) {
      say_failing(e.what());
      if (!pause(settings_.retry_after)) return;
    }
  }
}

}  // namespace eventserver::cluster
