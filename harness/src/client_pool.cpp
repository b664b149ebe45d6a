#include "followermaze/client_pool.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "followermaze/net.hpp"
#include "followermaze/protocol_lines.hpp"
#include "followermaze/wire.hpp"

namespace followermaze {

namespace {

// Per read. Small enough that the lines one connection checks are still in cache when the next
// connection checks the same ones (a broadcast is checked once per client), large enough that
// a read carries a thousand notifications.
constexpr std::size_t scratch_bytes = 16 * 1024;
constexpr std::uint64_t ms = 1'000'000;  // in ns
// A notification is at most ~70 bytes; a "line" this long without '\n' is garbage.
constexpr std::size_t max_received_line_bytes = 4096;
// Stuck readers announce a tiny receive window and a small segment size so the daemon's queue,
// not the kernel's buffers, has to absorb what they are sent. The segment size matters most:
// Linux grows a socket's send buffer in whole segments (about 2 x 10 of them while the peer's
// window is shut), and a loopback segment is 64 KiB, so with the default MSS the daemon's
// kernel held ~2.5 MB per stuck reader, more than a 1M-event run sends one. At 536 bytes it
// holds ~50 KB. Slow readers use the same, so they fall behind the daemon's queue, not the
// kernel's buffers.
constexpr int small_receive_buffer = 4096;
constexpr int small_max_segment = 536;
// Slow readers are read on a tick, not on readiness.
constexpr std::uint64_t slow_tick_ns = 2 * ms;
// Between two connection attempts while the daemon is down; chaos drops wait up to this long
// before the first, so the daemon has sent more in the meantime.
constexpr std::uint64_t retry_interval_ns = 50 * ms;

std::string expected_text(std::string_view line) { return printable(line); }

}  // namespace

std::string client_pool::handshake_text(const connection& c) {
  std::string_view line = c.handshake;
  while (line.ends_with('\n') || line.ends_with('\r')) line.remove_suffix(1);
  return printable(line);
}

namespace {

}  // namespace

std::string_view to_string(bad_client_kind kind) noexcept {
  switch (kind) {
    case bad_client_kind::not_a_number: return "not-a-number id";
    case bad_client_kind::negative: return "negative id";
    case bad_client_kind::trailing_junk: return "id with trailing junk";
    case bad_client_kind::overflow: return "id over 64 bits";
    case bad_client_kind::empty_line: return "empty id line";
    case bad_client_kind::overlong: return "overlong id line";
    case bad_client_kind::silent: return "silent (no id)";
  }
  return "unknown";
}

std::string bad_client_greeting(bad_client_kind kind) {
  switch (kind) {
    case bad_client_kind::not_a_number: return "abc\r\n";
    case bad_client_kind::negative: return "-42\r\n";
    case bad_client_kind::trailing_junk: return "12x\r\n";
    case bad_client_kind::overflow: return "99999999999999999999999\r\n";
    case bad_client_kind::empty_line: return "\r\n";
    case bad_client_kind::overlong: return std::string(4096, '7');
    case bad_client_kind::silent: return {};
  }
  return {};
}

std::vector<std::uint64_t> drop_points(std::uint64_t total_events, std::uint32_t times, prng& rng) {
  std::vector<std::uint64_t> points;
  if (total_events == 0) return points;
  for (std::uint32_t i = 0; i < times; ++i) points.push_back(1 + rng.below(total_events));
  std::sort(points.begin(), points.end());
  return points;
}

client_pool::client_pool(const options& opts, const expectation_model& model, expectation_channel& channel,
                         run_state& state, user_id first_stuck_user)
    : opts_(opts),
      model_(model),
      channel_(channel),
      state_(state),
      first_stuck_user_(first_stuck_user),
      scratch_(scratch_bytes),
      rng_(opts.random_seed ^ 0xc11e47c11e47c11eULL) {
  address_.sin_family = AF_INET;
  address_.sin_port = htons(opts.client_listener_port);
  inet_pton(AF_INET, opts.host.c_str(), &address_.sin_addr);  // checked by connect_all's connect_tcp
}

client_pool::~client_pool() {
  for (auto& c : connections_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

std::string client_pool::describe(const connection& c) const {
  switch (c.kind) {
    case role::verified: {
      std::string text = "client user " + std::to_string(c.user) + " (connection #" + std::to_string(c.index);
      if (c.member == group::slow) text += ", slow reader";
      if (c.member == group::reconnecting) text += ", chaos reconnect";
      return text + ")";
    }
    case role::stuck: return "stuck reader user " + std::to_string(c.user);
    case role::bad: return "bad client (" + std::string(to_string(c.bad)) + ")";
  }
  return "connection";
}

std::string client_pool::connect_all() {
  const std::size_t verified = model_.connection_count();
  connections_.reserve(opts_.chaos_bad_clients + verified + opts_.chaos_stuck_readers);

  // Bad clients first, so their handshakes are being rejected while the others register.
  for (std::uint32_t i = 0; i < opts_.chaos_bad_clients; ++i) {
    connection c;
    c.kind = role::bad;
    c.bad = static_cast<bad_client_kind>(i % bad_client_kind_count);
    connections_.push_back(std::move(c));
  }
  // Which verified connections are slow readers and which drop and resume: a seeded choice.
  std::vector<connection_index> order(verified);
  for (connection_index i = 0; i < verified; ++i) order[i] = i;
  shuffle(std::span<connection_index>(order), rng_);
  std::vector<group> member(verified, group::steady);
  for (std::size_t i = 0; i < verified && i < opts_.chaos_slow_readers; ++i) member[order[i]] = group::slow;
  for (std::size_t i = opts_.chaos_slow_readers; i < verified && i < std::size_t{opts_.chaos_slow_readers} + opts_.chaos_client_reconnect; ++i) {
    member[order[i]] = group::reconnecting;
  }
  for (connection_index i = 0; i < verified; ++i) {
    connection c;
    c.kind = role::verified;
    c.index = i;
    c.user = model_.connection_user(i);
    c.member = member[i];
    c.detached = c.member != group::steady;
    if (c.member == group::slow) {
      c.pacer = read_pacer(opts_.slow_read_fraction);
      ++report_.slow_readers;
    }
    if (c.member == group::reconnecting) {
      c.drops = drop_points(opts_.total_events, opts_.chaos_client_reconnect_times, rng_);
      ++report_.reconnect_clients;
    }
    connections_.push_back(std::move(c));
  }
  for (std::uint32_t i = 0; i < opts_.chaos_stuck_readers; ++i) {
    connection c;
    c.kind = role::stuck;
    c.user = first_stuck_user_ + i;
    connections_.push_back(std::move(c));
  }

  for (auto& c : connections_) {
    const bool small = c.kind == role::stuck || c.member == group::slow;
    auto result = connect_tcp(opts_.host, opts_.client_listener_port, opts_.connect_timeout_ms,
                              small ? small_receive_buffer : 0, small ? small_max_segment : 0);
    if (result.fd < 0) return describe(c) + ": " + result.error;
    c.fd = result.fd;
    c.connected_ns = now_ns();
    std::string greeting;
    if (c.kind == role::bad) {
      greeting = bad_client_greeting(c.bad);
    } else {
      greeting = std::to_string(c.user) + "\r\n";
    }
    if (!greeting.empty() && !send_all(c.fd, greeting.data(), greeting.size())) {
      // The daemon may already have closed an overlong greeting; that is its right.
      if (c.kind != role::bad) return describe(c) + ": sending the id line failed: " + std::strerror(errno);
    }
    set_nonblocking(c.fd);
  }
  return {};
}

std::uint64_t client_pool::run_epoch() const noexcept {
  const std::uint64_t epoch = state_.stream_epoch.load(std::memory_order_acquire);
  return epoch != 0 ? epoch : known_epoch_;
}

void client_pool::watch(connection& c, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &c;
  epoll_ctl(epoll_fd_, c.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
  c.in_epoll = true;
}

void client_pool::unwatch(connection& c) {
  if (!c.in_epoll) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  c.in_epoll = false;
}

void client_pool::drain_expectations() {
  const std::size_t drained = channel_.drain([this](connection_index index, const expectation& e) {
    connection& c = *by_index_[index];
    published_by_group_[static_cast<std::size_t>(c.member)] += 1;
    if (c.member == group::slow) c.pacer.published(e.line->length);
    if (c.detached) {
      c.copies.push(e.line->view(), e.line->kind, e.sent_ns);
      ++settled_;
      return false;
    }
    if (c.head == c.queue.size()) {
      c.queue.clear();
      c.head = 0;
    } else if (c.head >= 4096 && 2 * c.head >= c.queue.size()) {
      // Checked entries go, so a connection that never quite catches up still has a queue
      // bounded by what is in flight.
      c.queue.erase(c.queue.begin(), c.queue.begin() + static_cast<std::ptrdiff_t>(c.head));
      c.head = 0;
    }
    c.queue.push_back(e);
    return true;
  });
  if (drained > 0) {
    if (stream_start_ns_ == 0) stream_start_ns_ = now_ns();
    state_.notifications_settled.store(settled_, std::memory_order_relaxed);
  }
}

bool client_pool::next_expectation(connection& c) {
  if (c.detached ? !c.copies.empty() : c.head < c.queue.size()) return true;
  drain_expectations();
  return c.detached ? !c.copies.empty() : c.head < c.queue.size();
}

bool client_pool::on_status_line(connection& c, std::string_view line, std::uint64_t now) {
  const auto status = parse_status_line(line);
  const std::uint64_t epoch = run_epoch();
  if (c.state == phase::awaiting_epoch) {
    if (status && status->kind == status_kind::epoch && (status->epoch == epoch || epoch == 0)) {
      c.state = phase::live;
      c.last_progress_ns = now;
      return true;
    }
    if (status && status->kind == status_kind::epoch && status->epoch > epoch) {
      state_.fail(describe(c) + ": waiting for this run's stream (epoch " + std::to_string(epoch) +
                  ") to begin, received '" + printable(line) + "'");
      return false;
    }
    ++report_.skipped_lines;  // the older stream's: none of this run's business
    return true;
  }
  // phase::resuming: the first line after the resume handshake.
  const std::string asked = "after sending '" + handshake_text(c) + "'";
  if (!status || status->kind != status_kind::resumed) {
    state_.fail(describe(c) + ": " + asked + " the first line must be resumed|<epoch>|" + std::to_string(c.last_seq) +
                "|complete, received '" + printable(line) + "'");
    return false;
  }
  if (epoch == 0) known_epoch_ = status->epoch;
  const bool this_stream = epoch == 0 || status->epoch == epoch;
  if (this_stream && status->after == c.last_seq && status->complete) {
    c.state = phase::live;
    c.last_progress_ns = now;
    ++report_.resumes;
    if (c.handshake.find('|') != c.handshake.rfind('|')) ++report_.resumes_with_epoch;
    return true;
  }
  if (opts_.survive_restarts && status->epoch < epoch && c.last_seq == 0) {
    // The daemon came back without this run's stream in its log: the kill came before any of it
    // was durable, so this client cannot have missed anything; the stream begins again, with an
    // `epoch` line, once the source has resent its start.
    c.state = phase::awaiting_epoch;
    c.last_progress_ns = now;
    ++report_.awaited_epoch;
    return true;
  }
  state_.fail(describe(c) + ": " + asked + " received '" + printable(line) + "', expected resumed|" +
              std::to_string(epoch == 0 ? status->epoch : epoch) + "|" + std::to_string(c.last_seq) + "|complete" +
              (status->complete ? "" : ": history must reach back to a client that reconnects within the run"));
  return false;
}

void client_pool::process(connection& c, const char* data, std::size_t size, std::uint64_t received_ns) {
  const char* p = data;
  const char* const end = data + size;
  std::uint64_t verified_here = 0;
  std::uint64_t verified_bytes = 0;
  std::string_view last_line;
  const bool was_stalled = c.stalled;
  c.stalled = false;
  const auto member = static_cast<std::size_t>(c.member);
  latency_histogram& latency = c.member == group::steady ? report_.latency
                               : c.member == group::slow ? report_.slow_latency
                                                         : report_.reconnect_latency;
  while (p < end) {
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (newline == nullptr) break;
    const std::string_view line(p, static_cast<std::size_t>(newline + 1 - p));
    if (c.state != phase::live) {
      if (!on_status_line(c, line, received_ns)) return;
      p = newline + 1;
      continue;
    }
    // Read `closed` before looking for more: if it was closed before an empty drain, no
    // expectation can ever come for this line.
    const bool closed = channel_.closed();
    if (!next_expectation(c)) {
      if (closed) {
        state_.fail(describe(c) + ": unexpected extra line after all " + std::to_string(c.verified) +
                    " expected notifications: received '" + printable(line) + "'");
        return;
      }
      c.stalled = true;
      if (!was_stalled) stalled_.push_back(&c);
      break;
    }
    const std::string_view expected = c.detached ? c.copies.front_line() : c.queue[c.head].line->view();
    if (line != expected) {
      const event_kind kind = c.detached ? c.copies.front_kind() : c.queue[c.head].line->kind;
      std::string message = describe(c) + ": notification #" + std::to_string(c.verified + 1) + " is wrong: expected '" +
                            printable(expected) + "' (" + std::string(to_string(kind)) + "), received '" +
                            printable(line) + "'";
      const auto got = leading_sequence(line);
      const auto want = leading_sequence(expected);
      if (got && want && *got > *want) message += " (seq " + std::to_string(*want) + " missing or late)";
      if (got && want && *got < *want) message += " (out of order, duplicate or not for this user)";
      if (c.attempts > 0) message += " (after resuming with '" + handshake_text(c) + "')";
      state_.fail(std::move(message));
      return;
    }
    if (c.detached) {
      const std::uint64_t sent_ns = c.copies.front_sent_ns();
      latency.record(received_ns > sent_ns ? received_ns - sent_ns : 0);
      c.copies.pop();
    } else {
      const expectation& note = c.queue[c.head];
      latency.record(received_ns > note.sent_ns ? received_ns - note.sent_ns : 0);
      channel_.checked(note);  // may recycle the chunk `note` points into: last use of it
      ++c.head;
    }
    ++c.verified;
    ++verified_here;
    verified_bytes += line.size();
    last_line = line;
    p = newline + 1;
  }
  if (verified_here > 0) {
    c.last_progress_ns = received_ns;
    c.verified_bytes += verified_bytes;
    verified_total_ += verified_here;
    verified_by_group_[member] += verified_here;
    if (!c.detached) settled_ += verified_here;
    state_.notifications_verified.store(verified_total_, std::memory_order_relaxed);
    state_.notifications_settled.store(settled_, std::memory_order_relaxed);
    if (c.member == group::reconnecting || may_resume_on_break()) {
      // Once per read, not per line: the resume handshake needs only the last one.
      c.last_seq = leading_sequence(last_line).value_or(c.last_seq);
      if (c.next_drop < c.drops.size() && c.last_seq >= c.drops[c.next_drop]) {
        while (c.next_drop < c.drops.size() && c.drops[c.next_drop] <= c.last_seq) ++c.next_drop;
        c.drop_now = true;
      }
    }
  }
  const auto rest = static_cast<std::size_t>(end - p);
  if (!c.stalled && rest > max_received_line_bytes) {
    state_.fail(describe(c) + ": received " + std::to_string(rest) + " bytes without an end of line: '" +
                printable(std::string_view(p, rest)) + "'");
    return;
  }
  if (data == c.carry.data()) {
    // A retry of the carried bytes: drop what was checked.
    c.carry.erase(c.carry.begin(), c.carry.begin() + (p - data));
  } else {
    c.carry.assign(p, end);
  }
  c.carry_received_ns = received_ns;
}

void client_pool::on_readable(connection& c, std::uint64_t now, std::size_t max_bytes) {
  // The carried bytes go in front of the new ones so lines can be checked in place.
  const std::size_t carried = c.carry.size();
  if (scratch_.size() < carried + scratch_bytes) scratch_.resize(carried + scratch_bytes);
  if (carried > 0) std::memcpy(scratch_.data(), c.carry.data(), carried);
  const ssize_t n = recv(c.fd, scratch_.data() + carried, std::min(max_bytes, scratch_.size() - carried), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    const std::string why = n == 0 ? "the daemon closed the connection" : std::string("receive failed: ") + std::strerror(errno);
    if (may_resume_on_break()) {
      ++report_.broken;
      spdlog::debug("{}: {} ({} after {} notifications); resuming", describe(c), why,
                    c.state == phase::live ? "live" : "resuming", c.verified);
      drop(c, now, 0);
      return;
    }
    std::string message = describe(c) + ": " + why + " after " + std::to_string(c.verified) + " notifications";
    if (c.state == phase::resuming) {
      message += ", after the resume handshake '" + handshake_text(c) + "' (does the daemon support resuming?)";
    } else if (next_expectation(c)) {
      message += "; next expected '" +
                 expected_text(c.detached ? c.copies.front_line() : c.queue[c.head].line->view()) + "'";
    }
    state_.fail(std::move(message));
    return;
  }
  if (c.state == phase::live) c.read_bytes += static_cast<std::uint64_t>(n);
  // A stalled connection's carried lines keep their arrival time; new lines arrive now.
  const std::uint64_t received = c.stalled && carried > 0 ? c.carry_received_ns : now;
  process(c, scratch_.data(), carried + static_cast<std::size_t>(n), received);
  if (c.drop_now && !state_.stopping()) {
    ++report_.chaos_drops;
    drop(c, now, rng_.below(retry_interval_ns));
  }
}

void client_pool::drop(connection& c, std::uint64_t now, std::uint64_t delay_ns) {
  c.drop_now = false;
  if (c.fd >= 0) {
    unwatch(c);
    close(c.fd);
    c.fd = -1;
  }
  // Whatever came after the last verified notification is the daemon's to send again (and a
  // slow reader's pace counts it once more).
  c.carry.clear();
  c.stalled = false;
  c.read_bytes = c.verified_bytes;
  if (c.state == phase::live || c.state == phase::awaiting_epoch || c.state == phase::resuming) {
    // Each loss of the connection gets the whole time to come back.
    c.deadline_ns = now + static_cast<std::uint64_t>(
                              opts_.survive_restarts ? opts_.restart_timeout_ms : opts_.connect_timeout_ms) * ms;
  }
  if (!c.listed) {
    resuming_.push_back(&c);
    c.listed = true;
  }
  c.state = phase::waiting;
  c.retry_at_ns = now + delay_ns;
}

void client_pool::retry_later(connection& c, std::uint64_t now, const std::string& why) {
  if (c.fd >= 0) {
    unwatch(c);
    close(c.fd);
    c.fd = -1;
  }
  if (now >= c.deadline_ns) {
    state_.fail(describe(c) + ": could not resume within " +
                std::to_string(opts_.survive_restarts ? opts_.restart_timeout_ms : opts_.connect_timeout_ms) +
                " ms (--restart-timeout / --connectTimeout): " + why);
    return;
  }
  spdlog::trace("{}: {}; trying again", describe(c), why);
  c.state = phase::waiting;
  c.retry_at_ns = now + retry_interval_ns / 2 + rng_.below(retry_interval_ns);
}

void client_pool::try_connect(connection& c, std::uint64_t now) {
  if (opts_.survive_restarts && run_epoch() == 0) {
    // The source has not heard the daemon's first durable line yet; without this run's epoch a
    // resume could land in an older stream.
    c.retry_at_ns = now + 10 * ms;
    if (now >= c.deadline_ns) retry_later(c, now, "the run's stream epoch is still unknown");
    return;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    retry_later(c, now, std::string("socket: ") + std::strerror(errno));
    return;
  }
  if (c.member == group::slow) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small_receive_buffer, sizeof small_receive_buffer);
    setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &small_max_segment, sizeof small_max_segment);
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.fd = fd;
  c.state = phase::connecting;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) == 0) {
    on_connect_ready(c, now);
    return;
  }
  if (errno != EINPROGRESS) {
    retry_later(c, now, std::string("connect: ") + std::strerror(errno));
    return;
  }
  watch(c, EPOLLOUT);
}

void client_pool::on_connect_ready(connection& c, std::uint64_t now) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    retry_later(c, now, std::string("connect: ") + std::strerror(error));
    return;
  }
  // The epoch is optional: without --survive-restarts every other resume leaves it out, so both
  // forms are exercised; with it, always there, since an older stream may be current.
  const std::uint64_t epoch = run_epoch();
  const bool with_epoch = opts_.survive_restarts || c.attempts % 2 == 0;
  c.handshake = resume_handshake(c.user, c.last_seq, with_epoch ? epoch : 0);
  const ssize_t n = send(c.fd, c.handshake.data(), c.handshake.size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(c.handshake.size())) {
    retry_later(c, now, n < 0 ? std::string("sending the resume handshake: ") + std::strerror(errno)
                              : std::string("the resume handshake did not fit the socket"));
    return;
  }
  ++c.attempts;
  c.state = phase::resuming;
  c.connected_ns = now;
  if (c.member == group::slow) {
    unwatch(c);  // read on the tick
  } else {
    watch(c, EPOLLIN);
  }
}

void client_pool::service_reconnects(std::uint64_t now) {
  for (std::size_t i = 0; i < resuming_.size() && !state_.stopping();) {
    connection& c = *resuming_[i];
    if (c.state == phase::live) {
      c.listed = false;
      resuming_[i] = resuming_.back();
      resuming_.pop_back();
      continue;
    }
    if (c.state == phase::waiting && now >= c.retry_at_ns) try_connect(c, now);
    if ((c.state == phase::connecting || c.state == phase::resuming) && now >= c.deadline_ns) {
      retry_later(c, now, c.state == phase::connecting ? "the connection attempt timed out"
                                                       : "no resumed line after '" + handshake_text(c) + "'");
    }
    ++i;
  }
}

void client_pool::pace_slow_readers(std::uint64_t now) {
  for (connection* c : slow_) {
    if (state_.stopping()) return;
    if (c->fd < 0 || c->state == phase::connecting || c->state == phase::waiting) continue;
    std::size_t want = scratch_bytes;
    if (c->state == phase::live) {
      const std::uint64_t allowed = c->pacer.allowance(now, stream_start_ns_, stream_end_ns_);
      if (allowed <= c->read_bytes) continue;
      want = static_cast<std::size_t>(std::min<std::uint64_t>(allowed - c->read_bytes, scratch_bytes));
    }
    on_readable(*c, now, want);
    if (c->member == group::slow) {
      const std::uint64_t published = c->pacer.total_published();
      const std::uint64_t lag = published > c->verified_bytes ? published - c->verified_bytes : 0;
      report_.slow_peak_lag_bytes = std::max(report_.slow_peak_lag_bytes, lag);
    }
  }
}

void client_pool::on_bad_readable(connection& c) {
  const ssize_t n = recv(c.fd, scratch_.data(), scratch_.size(), 0);
  if (n > 0) {
    state_.fail(describe(c) + " received data it must never get: '" +
                printable(std::string_view(scratch_.data(), static_cast<std::size_t>(n))) + "'");
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  c.closed = true;  // EOF or reset: the daemon refused the handshake
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
}

void client_pool::check_timeouts(std::uint64_t now) {
  const std::uint64_t timeout = static_cast<std::uint64_t>(opts_.timeout_ms) * ms;
  drain_expectations();
  for (auto& c : connections_) {
    if (c.kind != role::verified) continue;
    if (c.state != phase::live && c.state != phase::awaiting_epoch) continue;  // their own deadline
    const bool owed = c.detached ? !c.copies.empty() : c.head < c.queue.size();
    if (!owed) {
      c.last_progress_ns = now;  // nothing owed: the clock starts when something is
      continue;
    }
    if (now - c.last_progress_ns <= timeout) continue;
    std::string message = describe(c) + ": timed out after " + std::to_string(opts_.timeout_ms) +
                          " ms waiting for notification #" + std::to_string(c.verified + 1);
    if (c.state == phase::awaiting_epoch) message += " (waiting for epoch|" + std::to_string(run_epoch()) + ")";
    const std::string_view line = c.detached ? c.copies.front_line() : c.queue[c.head].line->view();
    const event_kind kind = c.detached ? c.copies.front_kind() : c.queue[c.head].line->kind;
    message += ": expected '" + expected_text(line) + "' (" + std::string(to_string(kind)) + ")";
    message += c.carry.empty() ? ", received nothing since"
                               : ", holding partial input '" + printable(std::string_view(c.carry.data(), c.carry.size())) + "'";
    state_.fail(std::move(message));
    return;
  }
}

void client_pool::run() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    state_.fail(std::string("epoll_create1: ") + std::strerror(errno));
    state_.clients_done.store(true, std::memory_order_release);
    return;
  }
  by_index_.assign(model_.connection_count(), nullptr);
  for (auto& c : connections_) {
    if (c.kind == role::verified) by_index_[c.index] = &c;
  }
  for (auto& c : connections_) {
    if (c.kind == role::stuck) continue;  // never read until the end
    if (c.member == group::slow) {
      slow_.push_back(&c);  // read on the tick
      continue;
    }
    watch(c, EPOLLIN);
  }
  const std::uint64_t start = now_ns();
  for (auto& c : connections_) c.last_progress_ns = start;

  std::array<epoll_event, 512> events;
  std::uint64_t next_check = start + 50 * ms;
  std::uint64_t next_slow = start;
  std::uint64_t quiet_until = 0;  // 0: still streaming
  const auto non_slow = [this] {
    return published_by_group_[static_cast<std::size_t>(group::steady)] +
           published_by_group_[static_cast<std::size_t>(group::reconnecting)];
  };
  const auto non_slow_verified = [this] {
    return verified_by_group_[static_cast<std::size_t>(group::steady)] +
           verified_by_group_[static_cast<std::size_t>(group::reconnecting)];
  };

  while (!state_.stopping()) {
    int wait_ms = stalled_.empty() ? 20 : 1;
    if (!slow_.empty() || !resuming_.empty()) wait_ms = std::min(wait_ms, 2);
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) {
      state_.fail(std::string("epoll_wait: ") + std::strerror(errno));
      break;
    }
    const std::uint64_t now = now_ns();
    for (int i = 0; i < n && !state_.stopping(); ++i) {
      auto& c = *static_cast<connection*>(events[static_cast<std::size_t>(i)].data.ptr);
      if (c.kind != role::verified) {
        on_bad_readable(c);
      } else if (c.state == phase::connecting) {
        on_connect_ready(c, now);
      } else if (c.fd >= 0) {
        on_readable(c, now, scratch_bytes);
      }
    }
    if (!stalled_.empty()) {
      // Lines that arrived before their expectations were published: try them again.
      retrying_.swap(stalled_);
      stalled_.clear();
      for (connection* c : retrying_) {
        if (state_.stopping()) break;
        if (!c->stalled) continue;  // new data got it going already
        c->stalled = false;
        process(*c, c->carry.data(), c->carry.size(), c->carry_received_ns);
        if (c->drop_now && !state_.stopping()) {
          ++report_.chaos_drops;
          drop(*c, now, rng_.below(retry_interval_ns));
        }
      }
      retrying_.clear();
    }
    if (!slow_.empty() && now >= next_slow) {
      pace_slow_readers(now);
      next_slow = now + slow_tick_ns;
    }
    if (!resuming_.empty()) service_reconnects(now);
    if (now >= next_check) {
      check_timeouts(now);
      next_check = now + 50 * ms;
    }
    // `closed` is read before the drain: after it, everything published has been distributed.
    const bool closed = channel_.closed();
    drain_expectations();
    if (closed && stream_end_ns_ == 0) stream_end_ns_ = now;
    if (closed && report_.end_ns == 0 && non_slow_verified() == non_slow()) report_.end_ns = now;
    const auto slow_index = static_cast<std::size_t>(group::slow);
    if (closed && report_.slow_end_ns == 0 && report_.slow_readers > 0 &&
        verified_by_group_[slow_index] == published_by_group_[slow_index]) {
      report_.slow_end_ns = now;
    }
    if (quiet_until == 0 && closed && verified_total_ == channel_.total_published()) {
      // Everything expected has arrived; listen a little longer for anything unexpected.
      quiet_until = now + static_cast<std::uint64_t>(opts_.quiet_ms) * ms;
      spdlog::info("all {} expected notifications verified; listening {} ms for extras", verified_total_, opts_.quiet_ms);
    }
    if (quiet_until != 0 && now >= quiet_until) break;
  }
  report_.verified = verified_total_;
  report_.slow_verified = verified_by_group_[static_cast<std::size_t>(group::slow)];

  if (!state_.stopping()) {
    for (const auto& c : connections_) {
      if (c.kind == role::verified && c.state == phase::live && !c.carry.empty()) {
        state_.fail(describe(c) + ": received an incomplete last line '" +
                    printable(std::string_view(c.carry.data(), c.carry.size())) + "'");
        break;
      }
    }
  }
  if (!state_.stopping()) check_chaos_outcome();
  state_.clients_done.store(true, std::memory_order_release);
}

void client_pool::drain_stuck_readers() {
  // Read what the kernel holds for each stuck reader; a cut-off connection then reports EOF
  // (or a reset), a live one runs dry. Bounded: 3 s for all of them.
  const std::uint64_t deadline = now_ns() + 3000 * ms;
  std::vector<connection*> open;
  for (auto& c : connections_) {
    if (c.kind == role::stuck) open.push_back(&c);
  }
  report_.stuck_readers = static_cast<std::uint32_t>(open.size());
  std::vector<std::uint64_t> idle_since(open.size(), 0);
  while (!open.empty() && now_ns() < deadline) {
    for (std::size_t i = 0; i < open.size();) {
      connection& c = *open[i];
      const ssize_t n = recv(c.fd, scratch_.data(), scratch_.size(), 0);
      if (n > 0) {
        report_.stuck_bytes_received += static_cast<std::uint64_t>(n);
        idle_since[i] = 0;
        ++i;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        c.closed = true;
        ++report_.stuck_cut_off;
        open[i] = open.back();
        open.pop_back();
        idle_since[i] = idle_since.back();
        idle_since.pop_back();
        continue;
      }
      if (idle_since[i] == 0) idle_since[i] = now_ns();
      if (now_ns() - idle_since[i] > 500 * ms) {  // dry for half a second: still connected
        open[i] = open.back();
        open.pop_back();
        idle_since[i] = idle_since.back();
        idle_since.pop_back();
        continue;
      }
      ++i;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void client_pool::check_chaos_outcome() {
  drain_stuck_readers();

  // Bad clients: a rejected handshake must have been closed at once, a silent one within the
  // daemon's handshake timeout of connecting (plus a second for its timer and the scheduler).
  // With --chaos-handshake-timeout=0 the silent ones are only counted.
  const std::uint64_t handshake_timeout = static_cast<std::uint64_t>(opts_.chaos_handshake_timeout_ms) * ms;
  const bool check_silent = handshake_timeout > 0;
  const std::uint64_t rejected_deadline = now_ns() + 1000 * ms;
  bool announced = false;
  for (auto& c : connections_) {
    if (c.kind != role::bad) continue;
    const bool silent = c.bad == bad_client_kind::silent;
    const std::uint64_t deadline =
        silent ? (check_silent ? c.connected_ns + handshake_timeout + 1000 * ms : 0) : rejected_deadline;
    if (silent && !c.closed && check_silent && !announced && now_ns() < deadline) {
      announced = true;
      spdlog::info("waiting up to {} ms for the daemon's handshake timeout to close the silent clients",
                   (deadline - now_ns()) / ms);
    }
    while (!c.closed && !state_.stopping()) {
      const std::uint64_t now = now_ns();
      if (now >= deadline) break;
      pollfd pfd{c.fd, POLLIN, 0};
      poll(&pfd, 1, static_cast<int>(std::min<std::uint64_t>((deadline - now) / ms + 1, 100)));
      on_bad_readable(c);
    }
    if (!c.closed && !state_.stopping()) on_bad_readable(c);
    const auto k = static_cast<std::size_t>(c.bad);
    ++report_.bad_clients_by_kind[k];
    if (c.closed) ++report_.bad_clients_closed_by_kind[k];
  }
  if (state_.stopping()) return;
  for (std::size_t k = 0; k < bad_client_kind_count; ++k) {
    const auto kind = static_cast<bad_client_kind>(k);
    if (report_.bad_clients_closed_by_kind[k] == report_.bad_clients_by_kind[k]) continue;
    const std::string open = std::to_string(report_.bad_clients_by_kind[k] - report_.bad_clients_closed_by_kind[k]) +
                             " of " + std::to_string(report_.bad_clients_by_kind[k]);
    if (kind != bad_client_kind::silent) {
      state_.fail("bad clients (" + std::string(to_string(kind)) + "): " + open +
                  " still connected at the end; the daemon must close a connection whose id line is invalid");
      return;
    }
    if (check_silent) {
      state_.fail("bad clients (" + std::string(to_string(kind)) + "): " + open + " still connected " +
                  std::to_string(opts_.chaos_handshake_timeout_ms + 1000) +
                  " ms after connecting; the daemon must close a connection that sends no id within its "
                  "clientHandshakeTimeoutMs (taken to be " + std::to_string(opts_.chaos_handshake_timeout_ms) +
                  " ms: --chaos-handshake-timeout)");
      return;
    }
  }
}

}  // namespace followermaze
