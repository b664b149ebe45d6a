#include "followermaze/client_pool.hpp"

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
// holds ~50 KB.
constexpr int stuck_receive_buffer = 4096;
constexpr int stuck_max_segment = 536;

std::string expected_text(const expectation& e) { return printable(e.line->view()); }

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

client_pool::client_pool(const options& opts, const expectation_model& model, expectation_channel& channel,
                         run_state& state, user_id first_stuck_user)
    : opts_(opts),
      model_(model),
      channel_(channel),
      state_(state),
      first_stuck_user_(first_stuck_user),
      scratch_(scratch_bytes) {}

client_pool::~client_pool() {
  for (auto& c : connections_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

std::string client_pool::describe(const connection& c) const {
  switch (c.kind) {
    case role::verified: return "client user " + std::to_string(c.user) + " (connection #" + std::to_string(c.index) + ")";
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
  for (connection_index i = 0; i < verified; ++i) {
    connection c;
    c.kind = role::verified;
    c.index = i;
    c.user = model_.connection_user(i);
    connections_.push_back(std::move(c));
  }
  for (std::uint32_t i = 0; i < opts_.chaos_stuck_readers; ++i) {
    connection c;
    c.kind = role::stuck;
    c.user = first_stuck_user_ + i;
    connections_.push_back(std::move(c));
  }

  for (auto& c : connections_) {
    auto result = connect_tcp(opts_.host, opts_.client_listener_port, opts_.connect_timeout_ms,
                              c.kind == role::stuck ? stuck_receive_buffer : 0,
                              c.kind == role::stuck ? stuck_max_segment : 0);
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

void client_pool::drain_expectations() {
  channel_.drain([this](connection_index index, const expectation& e) {
    connection& c = *by_index_[index];
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
  });
}

bool client_pool::next_expectation(connection& c) {
  if (c.head < c.queue.size()) return true;
  drain_expectations();
  return c.head < c.queue.size();
}

void client_pool::process(connection& c, const char* data, std::size_t size, std::uint64_t received_ns) {
  const char* p = data;
  const char* const end = data + size;
  std::uint64_t verified_here = 0;
  const bool was_stalled = c.stalled;
  c.stalled = false;
  while (p < end) {
    const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (newline == nullptr) break;
    const std::string_view line(p, static_cast<std::size_t>(newline + 1 - p));
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
    const expectation& note = c.queue[c.head];
    const std::string_view expected = note.line->view();
    if (line != expected) {
      std::string message = describe(c) + ": notification #" + std::to_string(c.verified + 1) + " is wrong: expected '" +
                            printable(expected) + "' (" + std::string(to_string(note.line->kind)) + "), received '" +
                            printable(line) + "'";
      const auto got = leading_sequence(line);
      const auto want = leading_sequence(expected);
      if (got && want && *got > *want) message += " (seq " + std::to_string(*want) + " missing or late)";
      if (got && want && *got < *want) message += " (out of order, duplicate or not for this user)";
      state_.fail(std::move(message));
      return;
    }
    report_.latency.record(received_ns > note.sent_ns ? received_ns - note.sent_ns : 0);
    channel_.checked(note);  // may recycle the chunk `note` points into: last use of it
    ++c.head;
    ++c.verified;
    ++verified_here;
    p = newline + 1;
  }
  if (verified_here > 0) {
    c.last_progress_ns = received_ns;
    verified_total_ += verified_here;
    state_.notifications_verified.store(verified_total_, std::memory_order_relaxed);
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

void client_pool::on_readable(connection& c, std::uint64_t now) {
  // The carried bytes go in front of the new ones so lines can be checked in place.
  const std::size_t carried = c.carry.size();
  if (scratch_.size() < carried + scratch_bytes) scratch_.resize(carried + scratch_bytes);
  if (carried > 0) std::memcpy(scratch_.data(), c.carry.data(), carried);
  const ssize_t n = recv(c.fd, scratch_.data() + carried, scratch_.size() - carried, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    state_.fail(describe(c) + ": receive failed after " + std::to_string(c.verified) +
                " notifications: " + std::strerror(errno));
    return;
  }
  if (n == 0) {
    std::string message = describe(c) + ": the daemon closed the connection after " + std::to_string(c.verified) +
                          " notifications";
    if (next_expectation(c)) message += "; next expected '" + expected_text(c.queue[c.head]) + "'";
    state_.fail(std::move(message));
    return;
  }
  // A stalled connection's carried lines keep their arrival time; new lines arrive now.
  const std::uint64_t received = c.stalled && carried > 0 ? c.carry_received_ns : now;
  process(c, scratch_.data(), carried + static_cast<std::size_t>(n), received);
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
    if (c.head == c.queue.size()) {
      c.last_progress_ns = now;  // nothing owed: the clock starts when something is
      continue;
    }
    if (now - c.last_progress_ns <= timeout) continue;
    std::string message = describe(c) + ": timed out after " + std::to_string(opts_.timeout_ms) +
                          " ms waiting for notification #" + std::to_string(c.verified + 1);
    if (next_expectation(c)) {
      message += ": expected '" + expected_text(c.queue[c.head]) + "' (" + std::string(to_string(c.queue[c.head].line->kind)) + ")";
    }
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
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
  }
  const std::uint64_t start = now_ns();
  for (auto& c : connections_) c.last_progress_ns = start;

  std::array<epoll_event, 512> events;
  std::uint64_t next_check = start + 50 * ms;
  std::uint64_t quiet_until = 0;  // 0: still streaming

  while (!state_.stopping()) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), stalled_.empty() ? 20 : 1);
    if (n < 0 && errno != EINTR) {
      state_.fail(std::string("epoll_wait: ") + std::strerror(errno));
      break;
    }
    const std::uint64_t now = now_ns();
    for (int i = 0; i < n && !state_.stopping(); ++i) {
      auto& c = *static_cast<connection*>(events[static_cast<std::size_t>(i)].data.ptr);
      if (c.kind == role::verified) {
        on_readable(c, now);
      } else {
        on_bad_readable(c);
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
      }
      retrying_.clear();
    }
    if (now >= next_check) {
      check_timeouts(now);
      next_check = now + 50 * ms;
    }
    // `closed` is read before the drain: after it, everything published has been distributed.
    const bool closed = channel_.closed();
    drain_expectations();
    if (quiet_until == 0 && closed && verified_total_ == channel_.total_published()) {
      // Everything expected has arrived; listen a little longer for anything unexpected.
      report_.end_ns = now;
      quiet_until = now + static_cast<std::uint64_t>(opts_.quiet_ms) * ms;
      spdlog::info("all {} expected notifications verified; listening {} ms for extras", verified_total_, opts_.quiet_ms);
    }
    if (quiet_until != 0 && now >= quiet_until) break;
  }
  report_.verified = verified_total_;

  if (!state_.stopping()) {
    for (const auto& c : connections_) {
      if (c.kind == role::verified && !c.carry.empty()) {
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
