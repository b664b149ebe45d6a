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
constexpr std::uint64_t ms = 1'000'000;  // in ns
// docs/protocol.md: the stale lines a source sends before the 1 of a new stream are taken into
// it up to 64 KiB; past half of that the 1 goes first (bring_sequence_one_forward).
constexpr std::size_t new_stream_carry_bytes = 32 * 1024;

bool would_block(int error) noexcept { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

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
      first_stuck_user_(settings.first_stuck_user),
      read_buffer_(4096) {
  report_.stuck_bytes.assign(settings.stuck_users, 0);
  state_.expect_stuck_readers(settings.stuck_users);
  order_.reserve(opts.max_event_source_batch_size);
  if (opts.chaos_reconnect > 0 && opts.total_events > 1) {
    reconnects_planned_ = opts.chaos_reconnect;
    next_reconnect_seq_ = std::max<std::uint64_t>(1, opts.total_events / (reconnects_planned_ + 1));
  }
}

event_source::~event_source() {
  close_connection();
  for (const int fd : lingering_) close(fd);
}

bool event_source::open_connection() {
  auto connection = connect_tcp(opts_.host, opts_.event_listener_port, opts_.connect_timeout_ms);
  if (connection.fd < 0) {
    state_.fail("event source: " + connection.error);
    return false;
  }
  return adopt_connection(connection.fd);
}

bool event_source::adopt_connection(int fd) {
  fd_ = fd;
  set_nonblocking(fd_);
  peer_closed_ = false;
  reset_reader();
  if (!opts_.survive_restarts) return true;
  // The daemon writes its durable position only to a source that asks (docs/protocol.md).
  // Ten bytes on a fresh connection: the socket buffer takes them at once.
  static constexpr char ask[] = "durable?\r\n";
  if (send(fd_, ask, sizeof ask - 1, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof ask - 1)) {
    state_.fail(std::string("event source: cannot ask for the durable position: ") + std::strerror(errno));
    close_connection();
    return false;
  }
  return true;
}

bool event_source::open_first_connection() {
  if (!opts_.survive_restarts) return open_connection();
  // The run's epoch comes from the first durable line, so wait for it; a kill now is survived
  // like any other.
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(opts_.restart_timeout_ms) * ms;
  spdlog::info("event source: waiting for the daemon's durable position (--survive-restarts)");
  for (;;) {
    if (!connect_until(deadline)) return false;
    const io got = await_first_durable(deadline);
    if (got == io::failed) return false;
    if (got == io::ok) break;
    close_connection();
  }
  on_durable_lines();
  spdlog::info("event source: the daemon holds epoch {} durable through {}: this run's stream is epoch {}{}",
               report_.first_durable->epoch, report_.first_durable->seq, stream_->epoch,
               stream_->old_position > 0 ? " (it starts over)" : "");
  return true;
}

void event_source::close_connection() noexcept {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
}

void event_source::retire_connection() noexcept {
  if (fd_ < 0) return;
  // FIN after the data: the daemon reads everything that was sent, then sees end of stream.
  shutdown(fd_, SHUT_WR);
  if (!peer_closed_) {
    // Whatever the daemon wrote and has not been read yet would turn close() into a reset.
    while (true) {
      const ssize_t n = recv(fd_, read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT);
      if (n > 0) {
        daemon_talks_ = true;
        continue;
      }
      if (n == 0 || !would_block(errno)) peer_closed_ = true;
      break;
    }
  }
  if (daemon_talks_ && !peer_closed_) {
    lingering_.push_back(fd_);
    ++report_.lingered;
    fd_ = -1;
    return;
  }
  close_connection();
}

void event_source::finish_connection(std::uint64_t deadline_ns) {
  if (fd_ < 0) return;
  if (read_daemon() == io::ok && daemon_talks_) {
    // Like a lingering connection, but still reading its durable lines: the report shows the
    // position the daemon reached.
    shutdown(fd_, SHUT_WR);
    ++report_.lingered;
    while (read_daemon() == io::ok) {
      if (now_ns() >= deadline_ns) {
        ++report_.lingered_unclosed;
        break;
      }
      if (state_.clients_done.load(std::memory_order_acquire)) break;
      pollfd pfd{fd_, POLLIN, 0};
      poll(&pfd, 1, 50);
    }
    close_connection();
  } else {
    retire_connection();
  }
  reset_reader();
}

void event_source::service_lingering(std::uint64_t deadline_ns, bool wait) {
  while (!lingering_.empty()) {
    for (std::size_t i = 0; i < lingering_.size();) {
      const int fd = lingering_[i];
      bool done = false;
      for (int reads = 0; reads < 64; ++reads) {
        const ssize_t n = recv(fd, read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT);
        if (n > 0) continue;  // a durable line for a connection that is done: nothing to learn
        done = n == 0 || !would_block(errno);
        break;
      }
      if (done) {
        close(fd);
        lingering_[i] = lingering_.back();
        lingering_.pop_back();
      } else {
        ++i;
      }
    }
    if (!wait || lingering_.empty()) return;
    if (now_ns() >= deadline_ns) {
      report_.lingered_unclosed += lingering_.size();
      break;
    }
    // Once every notification has been verified the daemon holds the whole stream: nothing the
    // old connections could still lose matters.
    if (state_.clients_done.load(std::memory_order_acquire) || state_.stopping()) break;
    std::vector<pollfd> fds;
    for (const int fd : lingering_) fds.push_back({fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 50);
  }
  for (const int fd : lingering_) close(fd);
  lingering_.clear();
}

event_source::io event_source::read_daemon() {
  if (fd_ < 0 || peer_closed_) return io::broken;
  bool any = false;
  for (int reads = 0; reads < 64; ++reads) {
    const ssize_t n = recv(fd_, read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT);
    if (n > 0) {
      daemon_talks_ = true;
      any = true;
      reader_.feed(read_buffer_.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && would_block(errno)) break;
    peer_closed_ = true;
    break;
  }
  if (any) on_durable_lines();
  if (!lingering_.empty()) service_lingering(0, false);
  if (state_.stopping()) return io::failed;
  return peer_closed_ ? io::broken : io::ok;
}

void event_source::reset_reader() {
  report_.durable_lines += reader_.lines() - reader_.unknown_lines();
  report_.unknown_lines += reader_.unknown_lines();
  if (reader_.unknown_lines() > 0) {
    spdlog::warn("event source: the daemon wrote {} lines that are not durable positions, the last '{}'",
                 reader_.unknown_lines(), reader_.last_unknown());
  }
  reader_ = durable_reader{};
  // Only a connection made before the stream began reports the position it starts from.
  if (report_.start_ns != 0) learn_stream_ = false;
}

void event_source::on_durable_lines() {
  const auto first = reader_.first();
  const auto latest = reader_.latest();
  if (!first) return;
  if (!report_.first_durable) report_.first_durable = first;
  report_.last_durable = latest;
  if (!stream_) {
    if (!learn_stream_) return;
    stream_ = stream_start_from(*first);
    report_.stream_epoch = stream_->epoch;
    state_.stream_epoch.store(stream_->epoch, std::memory_order_release);
  }
  if (latest->epoch == stream_->epoch && latest->seq > durable_) {
    durable_ = latest->seq;
    durable_changed_ns_ = now_ns();
    // Not while a resend walks the retained chunks: it holds a reference into them.
    if (opts_.survive_restarts && !resending_) retained_.retire(durable_);
  } else if (latest->epoch > stream_->epoch && opts_.survive_restarts) {
    state_.fail("event source: the daemon reports epoch " + std::to_string(latest->epoch) +
                ", newer than this run's stream (epoch " + std::to_string(stream_->epoch) +
                "): another producer started a stream, or the daemon did not start this one as docs/protocol.md says");
  }
}

bool event_source::connect_until(std::uint64_t deadline_ns) {
  for (;;) {
    const std::uint64_t now = now_ns();
    const auto left_ms = static_cast<std::uint32_t>(deadline_ns > now ? (deadline_ns - now) / ms : 0);
    auto connection = connect_tcp(opts_.host, opts_.event_listener_port, left_ms);
    if (connection.fd >= 0) return adopt_connection(connection.fd);
    if (now_ns() >= deadline_ns || state_.stopping()) {
      state_.fail("event source: could not reconnect within --restart-timeout (" +
                  std::to_string(opts_.restart_timeout_ms) + " ms): " + connection.error);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

event_source::io event_source::await_first_durable(std::uint64_t deadline_ns) {
  while (!reader_.first()) {
    const io got = read_daemon();
    if (got != io::ok) return got;
    if (reader_.first()) break;
    const std::uint64_t now = now_ns();
    if (now >= deadline_ns) {
      state_.fail("event source: the daemon wrote no durable|<epoch>|<seq> line within " +
                  std::to_string(opts_.restart_timeout_ms) +
                  " ms of connecting; --survive-restarts needs a daemon that reports its durable position "
                  "(docs/protocol.md)");
      return io::failed;
    }
    pollfd pfd{fd_, POLLIN, 0};
    poll(&pfd, 1, static_cast<int>(std::min<std::uint64_t>((deadline_ns - now) / ms + 1, 100)));
  }
  return io::ok;
}

event_source::io event_source::send_range(const char* data, std::size_t size) {
  std::uint64_t last_progress = now_ns();
  const std::uint64_t timeout_ns = static_cast<std::uint64_t>(opts_.timeout_ms) * ms;
  while (size > 0) {
    if (state_.stopping()) return io::failed;
    const ssize_t n = send(fd_, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      report_.resent_bytes += static_cast<std::uint64_t>(n);
      last_progress = now_ns();
      continue;
    }
    if (n < 0 && would_block(errno)) {
      // Not POLLIN once the daemon's end is closed: it would be ready for ever.
      pollfd pfd{fd_, static_cast<short>(POLLOUT | (peer_closed_ ? 0 : POLLIN)), 0};
      poll(&pfd, 1, 100);
      if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        if (read_daemon() == io::failed) return io::failed;
      }
      if (now_ns() - last_progress > timeout_ns) {
        state_.fail("event source: the daemon read nothing for " + std::to_string(opts_.timeout_ms) +
                    " ms while the source resent what it had lost");
        return io::failed;
      }
      continue;
    }
    return io::broken;
  }
  return io::ok;
}

void event_source::bring_one_forward_in_chunk(std::uint64_t old_position) {
  if (chunk_first_seq_ != 1 || batches_.empty()) return;
  const auto moved = bring_sequence_one_forward(std::span<char>(buffer_.data(), batches_.front().byte_end),
                                                old_position, new_stream_carry_bytes);
  if (moved.length == 0) return;
  ++report_.ones_brought_forward;
  if (reconnect_pending_) reconnect_at_ = moved.shifted(reconnect_at_);
}

bool event_source::recover(bool keep_old, std::uint64_t& resume_from) {
  const bool broken = !keep_old;
  std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(opts_.restart_timeout_ms) * ms;
  for (;;) {
    if (keep_old) {
      retire_connection();
      keep_old = false;
    } else {
      close_connection();  // broken: nothing more will cross it
    }
    if (!connect_until(deadline)) return false;
    const io got = await_first_durable(deadline);
    if (got == io::failed) return false;
    if (got == io::broken) continue;

    // Connected and told where the daemon stands: a later break gets the whole timeout again.
    deadline = now_ns() + static_cast<std::uint64_t>(opts_.restart_timeout_ms) * ms;
    const stream_position reported = *reader_.first();
    // What this run was told is durable: whole retired chunks, and the newest durable line (a
    // chunk is retired only once all of it is durable, and resends cut the lines below it).
    const resend_plan plan = plan_resend(*stream_, reported, std::max(retained_.held_from(), durable_ + 1));
    if (!plan.error.empty()) {
      state_.fail("event source: " + plan.error);
      return false;
    }
    if (plan.from > generator_.generated() + 1) {
      state_.fail("event source: the daemon reports epoch " + std::to_string(reported.epoch) + " durable through " +
                  std::to_string(reported.seq) + ", past the " + std::to_string(generator_.generated()) +
                  " events this run has generated");
      return false;
    }
    durable_ = plan.from - 1;
    durable_changed_ns_ = now_ns();
    if (plan.starts_over) {
      // The stream must begin again exactly as the first time: its 1 first unless the daemon
      // would count everything before it as stale.
      stream_->old_position = plan.old_position;
      ++report_.starts_over;
      const auto first = retained_.first_batch();
      if (!first.empty()) {
        if (bring_sequence_one_forward(first, plan.old_position, new_stream_carry_bytes).length > 0) {
          ++report_.ones_brought_forward;
        }
      } else {
        bring_one_forward_in_chunk(plan.old_position);
      }
    }
    // Later chunks' garbage duplicates must not reach back into what the old connection may
    // still deliver.
    duplicate_floor_ = generator_.generated() + 1;
    resending_ = true;
    const io resent = retained_.resend(plan.from, [this](const char* data, std::size_t size) {
      return send_range(data, size) == io::ok;
    }) ? io::ok : (state_.stopping() ? io::failed : io::broken);
    resending_ = false;
    retained_.retire(durable_);
    if (resent == io::failed) return false;
    if (resent == io::broken) continue;
    if (broken) ++report_.recoveries;
    resume_from = plan.from;
    spdlog::info("event source: {}; the daemon holds epoch {} through {}: resending from {}{}",
                 broken ? "reconnected after a broken connection (" + std::to_string(report_.recoveries) + " so far)"
                        : std::string("switched connections (chaos reconnect)"),
                 reported.epoch, reported.seq, plan.from, plan.starts_over ? " (this run's stream starts over)" : "");
    return true;
  }
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
    const auto reader = static_cast<std::uint32_t>(e.to - first_stuck_user_);
    report_.stuck_bytes[reader] += line.length;  // as delivered, "\r\n" included
    stuck_marks_.push_back({batches_.size(), reader, static_cast<std::uint32_t>(line.length)});  // the batch being built
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
  stuck_marks_.clear();
  reconnect_pending_ = false;
  // Paced, a chunk holds about a millisecond's worth of events so the pace is smooth.
  const std::uint64_t chunk_first = generator_.generated();
  chunk_first_seq_ = chunk_first + 1;
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
  if (opts_.survive_restarts && stream_ && stream_->old_position > 0) bring_one_forward_in_chunk(stream_->old_position);
  return true;
}

bool event_source::send_chunk() {
  std::size_t sent = 0;
  std::size_t next_batch = 0;
  std::size_t staged_published = 0;
  std::size_t stuck_published = 0;  // stuck_marks_ handed to run_state
  std::uint64_t last_progress = now_ns();
  const std::uint64_t timeout_ns = static_cast<std::uint64_t>(opts_.timeout_ms) * ms;
  const bool survive = opts_.survive_restarts;

  // Resumes the chunk after a recovery: from its first batch holding a number the daemon lacks,
  // without the lines it holds (see retained_stream.hpp: resent stale lines could start a new
  // stream). The cut moves the chunk's boundaries; batches already published stay published.
  const auto rewind = [&](std::uint64_t from) {
    sent_batches_.clear();
    for (const auto& b : batches_) sent_batches_.push_back({b.byte_end, b.last_seq});
    const std::size_t again = std::min(sent, resend_offset(sent_batches_, from));
    stale_line_cut cut;
    used_ = cut.apply(buffer_.data(), again, used_, from);
    for (auto& b : batches_) b.byte_end = cut.shifted(b.byte_end);
    if (reconnect_pending_) reconnect_at_ = cut.shifted(reconnect_at_);
    report_.resent_bytes += cut.shifted(sent) - again;
    sent = again;
    last_progress = now_ns();
  };

  if (const io got = read_daemon(); got == io::failed) {
    return false;
  } else if (got == io::broken && survive) {
    std::uint64_t from = 0;
    if (!recover(/*keep_old=*/false, from)) return false;
    rewind(from);
  }
  while (sent < used_) {
    if (state_.stopping()) return false;
    if (reconnect_pending_ && sent == reconnect_at_) {
      reconnect_pending_ = false;
      if (survive) {
        std::uint64_t from = 0;
        if (!recover(/*keep_old=*/true, from)) return false;
        rewind(from);
      } else {
        retire_connection();
        if (!open_connection()) return false;
      }
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
      // Publish every batch whose last byte is now with the kernel (once: a resend after a
      // recovery goes over bytes already published).
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
        for (; stuck_published < stuck_marks_.size() && stuck_marks_[stuck_published].batch < next_batch;
             ++stuck_published) {
          const auto& mark = stuck_marks_[stuck_published];
          state_.stuck_message_sent(mark.reader, mark.bytes, now);
        }
      }
      continue;
    }
    if (n < 0 && would_block(errno)) {
      // Not POLLIN once the daemon's end is closed: it would be ready for ever.
      pollfd pfd{fd_, static_cast<short>(POLLOUT | (peer_closed_ ? 0 : POLLIN)), 0};
      poll(&pfd, 1, 100);
      if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const io got = read_daemon();
        if (got == io::failed) return false;
        if (got == io::broken && survive) {
          std::uint64_t from = 0;
          if (!recover(/*keep_old=*/false, from)) return false;
          rewind(from);
          continue;
        }
      }
      if (now_ns() - last_progress > timeout_ns) {
        state_.fail("event source: the daemon read nothing for " + std::to_string(opts_.timeout_ms) + " ms (" +
                    std::to_string(report_.events) + " events fully sent)");
        return false;
      }
      continue;
    }
    if (survive) {
      std::uint64_t from = 0;
      if (!recover(/*keep_old=*/false, from)) return false;
      rewind(from);
      continue;
    }
    state_.fail(std::string("event source: send failed after ") + std::to_string(report_.events) +
                " events: " + (n == 0 ? "connection closed" : std::strerror(errno)));
    return false;
  }
  report_.bytes += used_;
  return true;
}

void event_source::retain_chunk() {
  sent_batches_.clear();
  for (const auto& b : batches_) sent_batches_.push_back({b.byte_end, b.last_seq});
  retained_.push(buffer_, used_, sent_batches_);
  if (buffer_.size() < chunk_bytes + 4096) buffer_.resize(chunk_bytes + 4096);
  // The daemon may have reported this chunk durable while it was being sent.
  retained_.retire(durable_);
  report_.retained_peak_bytes = std::max(report_.retained_peak_bytes, retained_.bytes());
}

bool event_source::wait_for_durable(std::uint64_t target, bool room) {
  // room: wait until the retained bytes fit the restart buffer; else until `target` is durable.
  const std::uint64_t timeout_ns = static_cast<std::uint64_t>(opts_.timeout_ms) * ms;
  const auto satisfied = [&] { return room ? retained_.bytes() < opts_.restart_buffer : durable_ >= target; };
  if (satisfied()) return true;
  if (room) ++report_.durable_waits;
  durable_changed_ns_ = now_ns();
  while (!state_.stopping()) {
    const io got = read_daemon();
    if (got == io::failed) return false;
    if (got == io::broken) {
      std::uint64_t from = 0;
      if (!recover(/*keep_old=*/false, from)) return false;
      durable_changed_ns_ = now_ns();
    }
    if (satisfied()) return true;
    if (now_ns() - durable_changed_ns_ > timeout_ns) {
      const auto last = report_.last_durable.value_or(stream_position{});
      state_.fail("event source: the daemon's durable position for this run's stream (epoch " +
                  std::to_string(stream_->epoch) + ") stayed at " + std::to_string(durable_) + " for " +
                  std::to_string(opts_.timeout_ms) + " ms " +
                  (room ? "with " + std::to_string(retained_.bytes()) + " bytes sent and not yet durable (--restart-buffer)"
                        : "after the last event (" + std::to_string(target) + ") was sent") +
                  "; its last durable line said epoch " + std::to_string(last.epoch) + " at " +
                  std::to_string(last.seq) +
                  (last.epoch < stream_->epoch ? " (did it start this run's stream? newStreamPolicy \"continue\" never does)"
                                               : ""));
      return false;
    }
    pollfd pfd{fd_, POLLIN, 0};
    poll(&pfd, 1, 100);
  }
  return false;
}

bool event_source::wait_for_verifier() {
  // Backpressure from the verifier: without it a slow client thread lets the source run ahead
  // by whatever the kernel's socket buffers hold, and its queues (and page faults) grow with it.
  std::uint64_t waited = 0;
  while (!state_.stopping()) {
    const std::uint64_t settled = state_.notifications_settled.load(std::memory_order_relaxed);
    const std::uint64_t published = channel_.total_published();
    if (published < settled + opts_.max_in_flight) {
      if (waited > 0) ++report_.verifier_waits;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ++waited;
  }
  return false;
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

void event_source::publish_unsent_chunk() {
  channel_.publish(chunk_, 0, chunk_->staged.size(), now_ns(), /*last=*/true);
  chunk_ = nullptr;
  report_.events = generator_.generated();
  report_.bytes += used_;
  state_.events_sent.store(report_.events, std::memory_order_relaxed);
}

void event_source::run() {
  if (opts_.observe) {
    report_.start_ns = now_ns();
    while (!state_.stopping() && wait_for_verifier() && build_chunk()) publish_unsent_chunk();
    report_.end_ns = now_ns();
    channel_.close();
    state_.source_done.store(true, std::memory_order_release);
    return;
  }
  const bool survive = opts_.survive_restarts;
  if (open_first_connection()) {
    report_.start_ns = now_ns();
    while (!state_.stopping() && wait_for_verifier() && (!survive || wait_for_durable(0, /*room=*/true)) &&
           build_chunk()) {
      if (opts_.max_rate > 0) pace();
      if (!send_chunk()) break;
      if (survive) retain_chunk();
    }
    report_.end_ns = now_ns();
    channel_.close();
    if (survive && !state_.stopping()) wait_for_durable(generator_.generated(), /*room=*/false);
    finish_connection(now_ns() + static_cast<std::uint64_t>(opts_.timeout_ms) * ms);
    service_lingering(now_ns() + static_cast<std::uint64_t>(opts_.timeout_ms) * ms, /*wait=*/true);
  } else {
    channel_.close();
  }
  state_.source_done.store(true, std::memory_order_release);
}

}  // namespace followermaze
