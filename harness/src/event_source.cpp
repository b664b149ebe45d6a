#include "followermaze/event_source.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "followermaze/net.hpp"

namespace followermaze {

namespace {

constexpr std::size_t chunk_bytes = 64 * 1024;

}  // namespace

event_source::event_source(const options& opts, const generator_settings& settings, expectation_model& model,
                           expectation_channel& channel, run_state& state)
    : opts_(opts),
      model_(model),
      channel_(channel),
      state_(state),
      generator_(settings, model.graph()),
      batch_rng_(settings.seed ^ 0xba7c4ba7c4ba7c4bULL),
      chaos_rng_(settings.seed ^ 0x6a5ba6e6a5ba6e00ULL),
      buffer_(chunk_bytes + 4096),
      first_stuck_user_(settings.first_stuck_user) {
  report_.stuck_bytes.assign(settings.stuck_users, 0);
  order_.reserve(opts.max_event_source_batch_size);
  if (opts.chaos_reconnect > 0 && opts.total_events > 1) {
    reconnects_planned_ = opts.chaos_reconnect;
    next_reconnect_seq_ = std::max<std::uint64_t>(1, opts.total_events / (reconnects_planned_ + 1));
  }
}

bool event_source::open_connection() {
  auto connection = connect_tcp(opts_.host, opts_.event_listener_port, opts_.connect_timeout_ms);
  if (connection.fd < 0) {
    state_.fail("event source: " + connection.error);
    return false;
  }
  fd_ = connection.fd;
  set_nonblocking(fd_);
  return true;
}

void event_source::close_connection() noexcept {
  if (fd_ < 0) return;
  // FIN after the data: the daemon reads everything that was sent, then sees end of stream.
  shutdown(fd_, SHUT_WR);
  close(fd_);
  fd_ = -1;
}

void event_source::ensure_room(std::size_t bytes) {
  if (used_ + bytes > buffer_.size()) buffer_.resize(std::max(buffer_.size() * 2, used_ + bytes));
}

void event_source::write_event_line(const formatted_line& line) {
  ensure_room(max_event_line_bytes);
  char* const begin = buffer_.data() + used_;
  std::memcpy(begin, line.text.data(), max_event_line_bytes);  // one fixed-size copy; the tail is overwritten later
  used_ += line.length;
  if (opts_.chaos_garbage > 0.0 && chaos_rng_.chance(opts_.chaos_garbage)) {
    // A bare LF ends a line as well; the notification still ends in "\r\n".
    begin[line.length - 2] = '\n';
    --used_;
    ++report_.bare_lf_lines;
  }
}

void event_source::account(const event& e, const formatted_line& line) {
  if (e.kind == event_kind::bad_body) ++report_.bad_body_lines;
  if (e.kind == event_kind::private_message && !report_.stuck_bytes.empty() && e.to >= first_stuck_user_) {
    report_.stuck_bytes[e.to - first_stuck_user_] += line.length;  // as delivered, "\r\n" included
  }
}

void event_source::maybe_write_garbage(std::uint64_t batch_first_seq) {
  if (opts_.chaos_garbage <= 0.0 || !chaos_rng_.chance(opts_.chaos_garbage)) return;
  // One choice in ten is a duplicate when there is an earlier sequence number on this
  // connection to repeat: it must arrive after its original, so only this connection's
  // earlier batches qualify.
  const auto choice = chaos_rng_.below(garbage_kind_count + 1);
  if (choice == garbage_kind_count) {
    if (batch_first_seq > duplicate_floor_) {
      event duplicate;
      duplicate.seq = duplicate_floor_ + chaos_rng_.below(batch_first_seq - duplicate_floor_);
      duplicate.kind = event_kind::broadcast;
      ensure_room(max_event_line_bytes);
      used_ = static_cast<std::size_t>(write_line(buffer_.data() + used_, duplicate) - buffer_.data());
      ++report_.duplicate_lines;
    }
    return;
  }
  ensure_room(max_garbage_line_bytes);
  used_ = static_cast<std::size_t>(
      write_garbage(buffer_.data() + used_, static_cast<garbage_kind>(choice)) - buffer_.data());
  ++report_.garbage_lines;
}

bool event_source::build_chunk() {
  used_ = 0;
  chunk_ = channel_.acquire_chunk();
  auto& lines = chunk_->lines;
  auto& staged = chunk_->staged;
  batches_.clear();
  reconnect_pending_ = false;
  // Paced, a chunk holds about a millisecond's worth of events so the pace is smooth.
  const std::uint64_t chunk_first = generator_.generated();
  const std::uint64_t chunk_events = opts_.max_rate > 0 ? std::max<std::uint64_t>(1, opts_.max_rate / 1000) : ~0ULL;
  while (used_ < chunk_bytes && generator_.generated() < opts_.total_events &&
         generator_.generated() - chunk_first < chunk_events) {
    const std::uint64_t remaining = opts_.total_events - generator_.generated();
    const auto size = static_cast<std::size_t>(
        std::min<std::uint64_t>(remaining, 1 + batch_rng_.below(opts_.max_event_source_batch_size)));
    const std::uint64_t first_seq = generator_.generated() + 1;

    // The model sees the events in sequence order, each formatted once; the wire sees them
    // shuffled. Expectations refer to the chunk's copy of the line.
    order_.clear();
    for (std::size_t i = 0; i < size; ++i) {
      const event e = generator_.next();
      seq_text_.increment();
      assert(seq_text_.value() == e.seq);
      const auto line_index = static_cast<std::uint32_t>(lines.size());
      formatted_line& line = lines.emplace_back();
      line.assign(e, seq_text_);
      model_.apply(e, [&staged, line_index](connection_index c) { staged.push_back({c, line_index}); });
      order_.push_back(line_index);
      account(e, line);
    }
    shuffle(std::span<std::uint32_t>(order_), batch_rng_);

    const std::uint64_t last_seq = first_seq + size - 1;
    const bool reconnect_here = next_reconnect_seq_ != 0 && last_seq >= next_reconnect_seq_;
    const std::size_t split = reconnect_here ? size / 2 : size + 1;
    for (std::size_t i = 0; i < size; ++i) {
      if (i == split) {
        reconnect_at_ = used_;
        reconnect_pending_ = true;
        // Later lines go to the new connection, which the daemon may read before the old
        // one's tail: nothing sent so far may be duplicated on it.
        duplicate_floor_ = last_seq + 1;
      }
      maybe_write_garbage(first_seq);
      write_event_line(lines[order_[i]]);
    }
    batches_.push_back({used_, staged.size(), last_seq});

    if (reconnect_here) {
      --reconnects_planned_;
      next_reconnect_seq_ = reconnects_planned_ == 0
                                ? 0
                                : last_seq + std::max<std::uint64_t>(1, (opts_.total_events - last_seq) /
                                                                            (reconnects_planned_ + 1));
      break;  // at most one switch per chunk
    }
  }
  if (used_ == 0) {
    channel_.publish(chunk_, 0, 0, 0, /*last=*/true);  // nothing to send: hand it back
    chunk_ = nullptr;
    return false;
  }
  return true;
}

bool event_source::send_chunk() {
  std::size_t sent = 0;
  std::size_t next_batch = 0;
  std::size_t staged_published = 0;
  std::uint64_t last_progress = now_ns();
  const std::uint64_t timeout_ns = static_cast<std::uint64_t>(opts_.timeout_ms) * 1'000'000;

  while (sent < used_) {
    if (state_.stopping()) return false;
    if (reconnect_pending_ && sent == reconnect_at_) {
      close_connection();
      if (!open_connection()) return false;
      reconnect_pending_ = false;
      ++report_.reconnects;
      spdlog::info("event source: reconnected ({} so far) at byte {} of the stream", report_.reconnects,
                   report_.bytes + sent);
      continue;
    }
    const std::size_t limit = reconnect_pending_ && sent < reconnect_at_ ? reconnect_at_ : used_;
    const ssize_t n = send(fd_, buffer_.data() + sent, limit - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      const std::uint64_t now = now_ns();
      last_progress = now;
      // Publish every batch whose last byte is now with the kernel.
      const std::size_t first_batch = next_batch;
      while (next_batch < batches_.size() && batches_[next_batch].byte_end <= sent) ++next_batch;
      if (next_batch != first_batch) {
        const std::size_t staged_end = batches_[next_batch - 1].staged_end;
        const bool last = next_batch == batches_.size();
        channel_.publish(chunk_, staged_published, staged_end, now, last);
        if (last) chunk_ = nullptr;
        staged_published = staged_end;
        report_.events = batches_[next_batch - 1].last_seq;
        state_.events_sent.store(report_.events, std::memory_order_relaxed);
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pollfd pfd{fd_, POLLOUT, 0};
      poll(&pfd, 1, 100);
      if (now_ns() - last_progress > timeout_ns) {
        state_.fail("event source: the daemon read nothing for " + std::to_string(opts_.timeout_ms) + " ms (" +
                    std::to_string(report_.events) + " events fully sent)");
        return false;
      }
      continue;
    }
    state_.fail(std::string("event source: send failed after ") + std::to_string(report_.events) +
                " events: " + (n == 0 ? "connection closed" : std::strerror(errno)));
    return false;
  }
  report_.bytes += used_;
  return true;
}

void event_source::pace() {
  // The chunk is due once the events before it (all sent) have had their share of time.
  const auto due = report_.start_ns + static_cast<std::uint64_t>(static_cast<double>(report_.events) * 1e9 /
                                                                  static_cast<double>(opts_.max_rate));
  while (!state_.stopping()) {
    const std::uint64_t now = now_ns();
    if (now >= due) return;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::uint64_t>(due - now, 100'000'000)));
  }
}

bool event_source::wait_for_verifier() {
  // Backpressure from the verifier: without it a slow client thread lets the source run ahead
  // by whatever the kernel's socket buffers hold, and its queues (and page faults) grow with it.
  std::uint64_t waited = 0;
  while (!state_.stopping()) {
    const std::uint64_t verified = state_.notifications_verified.load(std::memory_order_relaxed);
    const std::uint64_t published = channel_.total_published();
    if (published < verified + opts_.max_in_flight) {
      if (waited > 0) ++report_.verifier_waits;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ++waited;
  }
  return false;
}

void event_source::run() {
  if (open_connection()) {
    report_.start_ns = now_ns();
    while (!state_.stopping() && wait_for_verifier() && build_chunk()) {
      if (opts_.max_rate > 0) pace();
      if (!send_chunk()) break;
    }
    report_.end_ns = now_ns();
    close_connection();
  }
  channel_.close();
  state_.source_done.store(true, std::memory_order_release);
}

}  // namespace followermaze
