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
// Reads of one bad connection per readiness: a TLS record may hold more than one read takes.
constexpr int bad_reads_per_event = 16;

std::string expected_text(std::string_view line) { return printable(line); }

// A WebSocket client's lines are its text messages with "\r\n" put back (websocket.hpp): an empty
// line or a "\r" before the end means the message broke docs/protocol.md's framing rule.
std::string framing_hint(std::string_view line) {
  if (line == "\r\n" || line.ends_with("\r\r\n")) {
    return " (the WebSocket message broke the framing rule: whole lines separated by \\n, no \\r, no trailing \\n, "
           "never empty)";
  }
  return {};
}

// How a WebSocket close frame from the daemon reads in a message.
std::string close_text(const ws_frame_reader::close_frame& close) {
  std::string text = "the daemon closed the WebSocket with " + std::to_string(close.code);
  if (const auto meaning = ws_close_meaning(close.code); !meaning.empty()) {
    text += " (";
    text += meaning;
    text += ')';
  }
  if (!close.reason.empty()) text += " '" + printable(close.reason) + "'";
  return text;
}

}  // namespace

std::string client_pool::handshake_text(const connection& c) { return printable(c.handshake); }

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
  ws_raw_.resize(scratch_bytes);
  address_.sin_family = AF_INET;
  address_.sin_port = htons(opts.client_listener_port);
  inet_pton(AF_INET, opts.host.c_str(), &address_.sin_addr);  // checked by connect_all's connect_tcp
  ws_address_ = address_;
  ws_address_.sin_port = htons(opts.ws_listener_port);
  ws_host_ = (opts.tls_server_name.empty() ? opts.host : opts.tls_server_name) + ":" +
             std::to_string(opts.ws_listener_port);
  jwt_on_ = !opts.jwt_secret.empty();
  jwt_.secret = opts.jwt_secret;
  jwt_.ttl_s = opts.jwt_ttl_s;
  jwt_.audience = opts.jwt_audience;
  jwt_.issuer = opts.jwt_issuer;
}

client_pool::~client_pool() {
  for (auto& c : connections_) {
    c.tls.reset();
    if (c.fd >= 0) close(c.fd);
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

std::string client_pool::describe(const connection& c) const {
  switch (c.kind) {
    case role::verified: {
      std::string text = "client user " + std::to_string(c.user) + " (connection #" + std::to_string(c.index);
      if (c.websocket) text += ", WebSocket";
      if (c.member == group::slow) text += ", slow reader";
      if (c.member == group::reconnecting) text += ", chaos reconnect";
      return text + ")";
    }
    case role::stuck: return "stuck reader user " + std::to_string(c.user);
    case role::bad: return "bad client (" + std::string(to_string(c.bad)) + ")";
    case role::bad_token:
      return "bad-token connection (" + std::string(to_string(c.bad_token)) + ", user " + std::to_string(c.user) +
             (c.websocket ? ", WebSocket)" : ")");
  }
  return "connection";
}

std::string client_pool::connect_all() {
  if (opts_.tls) {
    const tls_settings settings{opts_.tls_ca_file, opts_.tls_cert_file, opts_.tls_key_file,
                                opts_.tls_server_name.empty() ? opts_.host : opts_.tls_server_name};
    if (auto error = tls_.init(settings); !error.empty()) return error;
  }
  const std::size_t verified = model_.connection_count();
  connections_.reserve(opts_.chaos_bad_clients + opts_.chaos_bad_tokens + verified + opts_.chaos_stuck_readers);

  // Bad clients first, so their handshakes are being rejected while the others register.
  for (std::uint32_t i = 0; i < opts_.chaos_bad_clients; ++i) {
    connection c;
    c.kind = role::bad;
    c.bad = static_cast<bad_client_kind>(i % bad_client_kind_count);
    connections_.push_back(std::move(c));
  }
  // Bad tokens name connected users: a daemon that let one in would send it that user's
  // notifications, which the check catches. With WebSocket clients in the run, every other one
  // goes in an upgrade request instead (alternately as ?token= and as a Bearer header).
  std::vector<bad_token_kind> token_kinds;
  for (std::uint8_t k = 0; k < bad_token_kind_count; ++k) {
    if (bad_token_applies(static_cast<bad_token_kind>(k), jwt_)) token_kinds.push_back(static_cast<bad_token_kind>(k));
  }
  for (std::uint32_t i = 0; i < opts_.chaos_bad_tokens; ++i) {
    connection c;
    c.kind = role::bad_token;
    c.bad_token = token_kinds[(opts_.ws_clients > 0 ? i / 2 : i) % token_kinds.size()];
    c.user = model_.connection_user(static_cast<connection_index>((std::uint64_t{i} * 7919) % verified));
    c.websocket = opts_.ws_clients > 0 && i % 2 == 1;
    c.token_in_header = c.websocket && (i / 2) % 2 == 1;
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
  // Which speak WebSocket: spread evenly over the same order (slow readers first, then the
  // reconnecting ones, then the steady), so each group gets its share.
  std::vector<bool> websocket(verified, false);
  for (std::size_t i = 0; i < verified; ++i) {
    websocket[order[i]] = (i + 1) * opts_.ws_clients / verified > i * opts_.ws_clients / verified;
  }
  for (connection_index i = 0; i < verified; ++i) {
    connection c;
    c.kind = role::verified;
    c.index = i;
    c.user = model_.connection_user(i);
    c.member = member[i];
    c.detached = c.member != group::steady;
    c.websocket = websocket[i];
    c.token_in_header = c.websocket && i % 2 == 1;
    if (c.member == group::slow) {
      c.pacer = read_pacer(opts_.slow_read_fraction);
      ++report_.slow_readers;
    }
    if (c.member == group::reconnecting) {
      c.drops = drop_points(opts_.total_events, opts_.chaos_client_reconnect_times, rng_);
      ++report_.reconnect_clients;
    }
    if (c.websocket) {
      ++report_.ws_clients;
      if (c.member == group::slow) ++report_.ws_slow;
      if (c.member == group::reconnecting) ++report_.ws_reconnecting;
    }
    connections_.push_back(std::move(c));
  }
  for (std::uint32_t i = 0; i < opts_.chaos_stuck_readers; ++i) {
    connection c;
    c.kind = role::stuck;
    c.user = first_stuck_user_ + i;
    connections_.push_back(std::move(c));
  }

  std::uint32_t slot = 0;
  for (auto& c : connections_) {
    const bool small = c.kind == role::stuck || c.member == group::slow;
    c.port_slot = slot++;
    auto result = connect_tcp(opts_.host, port_of(c),
                              opts_.connect_timeout_ms, small ? small_receive_buffer : 0, small ? small_max_segment : 0);
    if (result.fd < 0) return describe(c) + ": " + result.error;
    c.fd = result.fd;
    c.connected_ns = now_ns();
    set_nonblocking(c.fd);
    begin_setup(c, phase::live);
    if (auto error = establish(c); !error.empty()) return describe(c) + ": " + error;
  }
  return {};
}

std::uint16_t client_pool::port_of(const connection& c) const {
  const std::vector<std::uint16_t>& ports = c.websocket ? opts_.ws_ports : opts_.client_ports;
  if (ports.empty()) return c.websocket ? opts_.ws_listener_port : opts_.client_listener_port;
  return ports[c.port_slot % ports.size()];
}

std::string client_pool::fresh_token(user_id user) {
  ++report_.tokens_signed;
  return sign_token(jwt_, user, unix_now_s());
}

std::string client_pool::greeting(connection& c, bool resume) {
  if (c.kind == role::bad) {
    c.handshake = printable(bad_client_greeting(c.bad));
    return bad_client_greeting(c.bad);
  }
  std::string token;
  if (c.kind == role::bad_token) {
    token = bad_token(c.bad_token, jwt_, c.user, unix_now_s());
  } else if (jwt_on_) {
    token = fresh_token(c.user);
    // A fresh token at 2/3 of this one's life (whole seconds: exp is in seconds).
    c.token_refresh_at_s = unix_now_s() + std::max<std::int64_t>(1, std::int64_t{jwt_.ttl_s} * 2 / 3);
  }
  // The epoch is optional: without --survive-restarts every other resume leaves it out, so both
  // forms are exercised; with it, always there, since an older stream may be current.
  const std::uint64_t epoch = run_epoch();
  c.with_epoch = resume && epoch != 0 && (opts_.survive_restarts || c.attempts % 2 == 0);
  const std::uint64_t named_epoch = c.with_epoch ? epoch : 0;
  const std::optional<std::uint64_t> last = resume ? std::optional<std::uint64_t>(c.last_seq) : std::nullopt;
  if (c.websocket) {
    c.ws_key = ws_new_key();
    const bool in_query = !token.empty() && !c.token_in_header;
    c.handshake = "GET " + ws_target(c.user, last, named_epoch, in_query ? "<token>" : "");
    if (!token.empty() && c.token_in_header) c.handshake += " with Authorization: Bearer <token>";
    return ws_upgrade_request(ws_host_, ws_target(c.user, last, named_epoch, in_query ? token : ""), c.ws_key,
                              c.token_in_header ? token : "");
  }
  std::string line = resume ? resume_handshake(c.user, c.last_seq, named_epoch) : std::to_string(c.user) + "\r\n";
  line.resize(line.size() - 2);  // the token goes before the line end
  c.handshake = line;
  if (!token.empty()) {
    c.handshake += " <token>";
    line += ' ';
    line += token;
  }
  line += "\r\n";
  return line;
}

void client_pool::begin_setup(connection& c, phase after) {
  count_frames(c);
  c.after_setup = after;
  c.outbox.clear();
  c.upgrade.clear();
  c.frames = ws_frame_reader{};
  c.close_answered = false;
  c.upgrade_seen = false;
  c.upgraded = false;
  c.read_wants_write = false;
  if (tls_.enabled()) {
    c.state = phase::securing;  // the greeting follows the handshake
    return;
  }
  c.outbox = greeting(c, after == phase::resuming);
  c.state = c.websocket && c.kind == role::verified ? phase::upgrading : after;
}

client_pool::setup_step client_pool::advance_setup(connection& c, std::string& error) {
  if (c.state == phase::securing) {
    if (!c.tls) {
      c.tls = tls_.start(c.fd, error);
      if (!c.tls) return setup_step::refused;
    }
    const io_result step = tls_handshake(c.tls.get());
    switch (step.status) {
      case io_status::ok: break;
      case io_status::want_read: c.setup_wait = EPOLLIN; return setup_step::wait_readable;
      case io_status::want_write: c.setup_wait = EPOLLOUT; return setup_step::wait_writable;
      case io_status::closed:
      case io_status::failed:
        error = step.error;
        // A certificate that does not verify now will not verify on the next try either.
        return SSL_get_verify_result(c.tls.get()) != X509_V_OK ? setup_step::refused : setup_step::broken;
    }
    ++report_.tls_handshakes;
    if (report_.tls_description.empty()) report_.tls_description = tls_description(c.tls.get());
    c.outbox = greeting(c, c.after_setup == phase::resuming);
    c.state = c.websocket && c.kind == role::verified ? phase::upgrading : c.after_setup;
  }
  if (!flush_outbox(c, error)) return setup_step::broken;
  if (c.state != phase::upgrading) return setup_step::done;  // the rest of a greeting goes when the socket takes it
  if (!c.outbox.empty()) {
    c.setup_wait = EPOLLOUT;
    return setup_step::wait_writable;
  }
  std::array<char, 4096> buffer;
  for (;;) {
    const io_result got = stream_read(c.fd, c.tls.get(), buffer.data(), buffer.size());
    switch (got.status) {
      case io_status::ok: break;
      case io_status::want_read: c.setup_wait = EPOLLIN; return setup_step::wait_readable;
      case io_status::want_write: c.setup_wait = EPOLLOUT; return setup_step::wait_writable;
      case io_status::closed:
        error = "the daemon closed the connection before answering the upgrade '" + handshake_text(c) + "'";
        return setup_step::broken;
      case io_status::failed:
        error = "reading the upgrade response: " + got.error;
        return setup_step::broken;
    }
    c.upgrade.append(buffer.data(), got.bytes);
    const auto response = parse_upgrade_response(c.upgrade, c.ws_key);
    switch (response.result) {
      case ws_upgrade_response::outcome::incomplete: continue;
      case ws_upgrade_response::outcome::refused:
        error = "the daemon refused the WebSocket upgrade '" + handshake_text(c) + "': " + response.error;
        return setup_step::refused;
      case ws_upgrade_response::outcome::invalid:
        error = "the response to the upgrade '" + handshake_text(c) + "' breaks RFC 6455: " + response.error;
        return setup_step::refused;
      case ws_upgrade_response::outcome::accepted: break;
    }
    ++report_.ws_upgrades;
    // What followed the header is the first frames: their lines wait in `carry` until the
    // connection is set up (on_setup_done).
    ws_lines_.clear();
    if (!ws_ingest(c, c.upgrade.data() + response.header_bytes, c.upgrade.size() - response.header_bytes, ws_lines_)) {
      error = "a WebSocket protocol violation right after the upgrade: " + c.frames.error();
      return setup_step::refused;
    }
    c.carry.assign(ws_lines_.begin(), ws_lines_.end());
    std::string().swap(c.upgrade);
    c.state = c.after_setup;
    return setup_step::done;
  }
}

void client_pool::continue_setup(connection& c, std::uint64_t now) {
  std::string error;
  switch (advance_setup(c, error)) {
    case setup_step::done: on_setup_done(c, now); return;
    case setup_step::wait_readable:
    case setup_step::wait_writable: update_watch(c); return;
    case setup_step::broken: retry_later(c, now, error); return;
    case setup_step::refused: state_.fail(describe(c) + ": " + error); return;
  }
}

void client_pool::on_setup_done(connection& c, std::uint64_t now) {
  if (c.after_setup == phase::resuming) {
    ++c.attempts;
    c.connected_ns = now;
  }
  if (c.kind != role::verified) return;
  if (c.frames.close()) {
    ++report_.ws_closes;
    on_broken(c, now, close_text(*c.frames.close()) + " right after the upgrade");
    return;
  }
  update_watch(c);
  if (!c.carry.empty()) {
    // Lines that came with the 101: checked on the loop's next turn, like lines that waited for
    // their expectations.
    c.carry_received_ns = now;
    if (!c.stalled) {
      c.stalled = true;
      stalled_.push_back(&c);
    }
  }
  if (tls_pending(c.tls.get())) read_again(c);
}

std::string client_pool::establish(connection& c) {
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(opts_.timeout_ms) * ms;
  const bool bad = c.kind == role::bad || c.kind == role::bad_token;
  for (;;) {
    std::string error;
    setup_step step = advance_setup(c, error);
    if (step == setup_step::done) {
      // connect_all sends the whole greeting before the next connection, as it always has.
      while (!c.outbox.empty() && step == setup_step::done) {
        if (!flush_outbox(c, error)) step = setup_step::broken;
        if (c.outbox.empty() || step != setup_step::done) break;
        if (now_ns() >= deadline) return "the daemon did not take the greeting within " + std::to_string(opts_.timeout_ms) + " ms";
        pollfd pfd{c.fd, POLLOUT, 0};
        poll(&pfd, 1, 100);
      }
      if (step == setup_step::done) {
        on_setup_done(c, now_ns());
        return {};
      }
    }
    if (step == setup_step::broken || step == setup_step::refused) {
      // The daemon may close a bad greeting (an overlong id) before it is all sent: its right.
      if (bad && c.state != phase::securing) return {};
      return error;
    }
    const std::uint64_t now = now_ns();
    if (now >= deadline) {
      return std::string(c.state == phase::securing ? "the TLS handshake" : "the WebSocket upgrade") +
             " did not finish within " + std::to_string(opts_.timeout_ms) + " ms (--timeout)";
    }
    pollfd pfd{c.fd, static_cast<short>(step == setup_step::wait_readable ? POLLIN : POLLOUT), 0};
    poll(&pfd, 1, static_cast<int>(std::min<std::uint64_t>((deadline - now) / ms + 1, 100)));
  }
}

bool client_pool::flush_outbox(connection& c, std::string& error) {
  while (!c.outbox.empty()) {
    const io_result put = stream_write(c.fd, c.tls.get(), c.outbox.data(), c.outbox.size());
    switch (put.status) {
      case io_status::ok: c.outbox.erase(0, put.bytes); continue;
      case io_status::want_read:   // TLS: retried after the next read
      case io_status::want_write: return true;
      case io_status::closed: error = "the daemon closed the connection"; return false;
      case io_status::failed: error = "send failed: " + put.error; return false;
    }
  }
  return true;
}

bool client_pool::ws_ingest(connection& c, const char* data, std::size_t size, std::vector<char>& lines) {
  ws_controls_.clear();
  const bool ok = c.frames.feed(data, size, lines, ws_controls_);
  for (const auto& control : ws_controls_) {
    if (control.opcode != ws_opcode::ping) continue;  // an unasked-for pong needs no answer
    append_client_frame(c.outbox, ws_opcode::pong, control.payload, ws_new_mask());
    ++report_.ws_pings;
  }
  if (c.frames.close() && !c.close_answered) {
    // RFC 6455 section 5.5.1: a close is answered with a close, echoing its code.
    const auto& close = *c.frames.close();
    append_client_frame(c.outbox, ws_opcode::close, close.code == 1005 ? std::string() : ws_close_payload(close.code, ""),
                        ws_new_mask());
    c.close_answered = true;
  }
  return ok;
}

void client_pool::count_frames(connection& c) {
  report_.ws_frames += c.frames.frames();
  report_.ws_messages += c.frames.messages();
  report_.ws_fragmented += c.frames.fragmented_messages();
  c.frames = ws_frame_reader{};
}

void client_pool::refresh_tokens() {
  if (!jwt_on_) return;
  const std::int64_t now_s = unix_now_s();
  for (auto& c : connections_) {
    if (c.kind != role::verified || c.fd < 0 || c.token_refresh_at_s == 0 || now_s < c.token_refresh_at_s) continue;
    if (c.state != phase::live && c.state != phase::resuming && c.state != phase::awaiting_epoch) continue;
    // docs/protocol.md: a line (a text frame) holding only a fresh token extends the session.
    const std::string token = fresh_token(c.user);
    if (c.websocket) {
      append_client_frame(c.outbox, ws_opcode::text, token, ws_new_mask());
    } else {
      c.outbox += token;
      c.outbox += "\r\n";
    }
    c.token_refresh_at_s = now_s + std::max<std::int64_t>(1, std::int64_t{jwt_.ttl_s} * 2 / 3);
    ++report_.token_refreshes;
    std::string error;
    flush_outbox(c, error);  // a failed connection shows on its next read
    update_watch(c);
  }
}

std::uint64_t client_pool::run_epoch() const noexcept {
  const std::uint64_t epoch = state_.stream_epoch.load(std::memory_order_acquire);
  return epoch != 0 ? epoch : known_epoch_;
}

void client_pool::watch(connection& c, std::uint32_t events) {
  if (epoll_fd_ < 0 || c.fd < 0) return;  // connect_all runs before the loop has an epoll set
  if (events == 0) {
    unwatch(c);
    return;
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &c;
  epoll_ctl(epoll_fd_, c.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
  c.in_epoll = true;
  c.watched = events;
}

void client_pool::unwatch(connection& c) {
  if (!c.in_epoll) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  c.in_epoll = false;
  c.watched = 0;
}

std::uint32_t client_pool::wanted_events(const connection& c) const noexcept {
  switch (c.state) {
    case phase::waiting: return 0;
    case phase::connecting: return EPOLLOUT;
    case phase::securing:
    case phase::upgrading: return c.setup_wait;
    case phase::live:
    case phase::resuming:
    case phase::awaiting_epoch: break;
  }
  std::uint32_t events = c.member == group::slow ? 0U : std::uint32_t{EPOLLIN};  // slow readers: on the tick
  if (!c.outbox.empty() || c.read_wants_write) events |= std::uint32_t{EPOLLOUT};
  return events;
}

void client_pool::update_watch(connection& c) {
  if (c.fd < 0) return;
  const std::uint32_t events = wanted_events(c);
  if (c.in_epoll && events == c.watched) return;
  watch(c, events);
}

void client_pool::read_again(connection& c) {
  if (c.again || c.member == group::slow) return;  // slow readers are read on the tick anyway
  c.again = true;
  again_.push_back(&c);
}

void client_pool::close_socket(connection& c) {
  if (c.fd < 0) return;
  unwatch(c);
  c.tls.reset();  // no close_notify: a drop is abrupt on purpose, and a broken one cannot send it
  close(c.fd);
  c.fd = -1;
  c.outbox.clear();
  c.read_wants_write = false;
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
    if (c.with_epoch) ++report_.resumes_with_epoch;
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
  latency_histogram& latency = c.member == group::slow           ? report_.slow_latency
                               : c.member == group::reconnecting ? report_.reconnect_latency
                               : c.websocket                     ? report_.ws_latency
                                                                 : report_.latency;
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
                    " expected notifications: received '" + printable(line) + "'" +
                    (c.websocket ? framing_hint(line) : std::string()));
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
      if (c.websocket) message += framing_hint(line);
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

void client_pool::on_event(connection& c, std::uint32_t events, std::uint64_t now) {
  switch (c.state) {
    case phase::connecting: on_connect_ready(c, now); return;
    case phase::securing:
    case phase::upgrading: continue_setup(c, now); return;
    case phase::waiting: return;
    case phase::live:
    case phase::resuming:
    case phase::awaiting_epoch: break;
  }
  if ((events & EPOLLOUT) != 0 && !c.outbox.empty()) {
    std::string error;
    flush_outbox(c, error);  // a failed connection shows on the read below or the next one
  }
  const bool readable = (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 || (c.read_wants_write && (events & EPOLLOUT) != 0);
  if (readable && c.member != group::slow) on_readable(c, now, scratch_bytes);
  update_watch(c);
}

void client_pool::on_readable(connection& c, std::uint64_t now, std::size_t max_bytes) {
  // The carried bytes go in front of the new ones so lines can be checked in place. A
  // WebSocket's bytes are decoded first, into lines after the carried ones.
  const std::size_t carried = c.carry.size();
  io_result got;
  if (c.websocket) {
    got = stream_read(c.fd, c.tls.get(), ws_raw_.data(), std::min(max_bytes, ws_raw_.size()));
  } else {
    if (scratch_.size() < carried + scratch_bytes) scratch_.resize(carried + scratch_bytes);
    if (carried > 0) std::memcpy(scratch_.data(), c.carry.data(), carried);
    got = stream_read(c.fd, c.tls.get(), scratch_.data() + carried, std::min(max_bytes, scratch_.size() - carried));
  }
  const bool wanted_write = c.read_wants_write;
  c.read_wants_write = got.status == io_status::want_write;
  if (got.status == io_status::want_read || got.status == io_status::want_write) {
    if (c.read_wants_write != wanted_write) update_watch(c);
    return;
  }
  if (got.status != io_status::ok) {
    on_broken(c, now, got.status == io_status::closed ? std::string("the daemon closed the connection")
                                                      : "receive failed: " + got.error);
    return;
  }
  if (c.state == phase::live) c.read_bytes += got.bytes;
  const char* data = scratch_.data();
  std::size_t size = carried + got.bytes;
  if (c.websocket) {
    ws_lines_.assign(c.carry.begin(), c.carry.end());
    if (!ws_ingest(c, ws_raw_.data(), got.bytes, ws_lines_)) {
      state_.fail(describe(c) + ": a WebSocket protocol violation: " + c.frames.error());
      return;
    }
    data = ws_lines_.data();
    size = ws_lines_.size();
  }
  // A stalled connection's carried lines keep their arrival time; new lines arrive now.
  const std::uint64_t received = c.stalled && carried > 0 ? c.carry_received_ns : now;
  process(c, data, size, received);
  if (state_.stopping()) return;
  if (c.websocket) {
    if (!c.outbox.empty()) {
      std::string error;
      flush_outbox(c, error);  // pongs; a failed connection shows on the next read
      update_watch(c);
    }
    if (c.frames.close()) {
      // After the lines before it: they were the daemon's to send and are checked.
      ++report_.ws_closes;
      on_broken(c, now, close_text(*c.frames.close()));
      return;
    }
  }
  if (c.drop_now) {
    ++report_.chaos_drops;
    drop(c, now, rng_.below(retry_interval_ns));
    return;
  }
  if (tls_pending(c.tls.get())) read_again(c);
}

void client_pool::on_broken(connection& c, std::uint64_t now, const std::string& why) {
  if (may_resume_on_break()) {
    ++report_.broken;
    spdlog::debug("{}: {} ({} after {} notifications); resuming", describe(c), why,
                  c.state == phase::live ? "live" : "resuming", c.verified);
    // A connection that breaks before its resumed line waits like a refused one: whatever took
    // it (a daemon not ready yet, a proxy in front of a stopped one) may take the next at once.
    drop(c, now, c.state == phase::resuming ? retry_interval_ns : 0);
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
}

void client_pool::drop(connection& c, std::uint64_t now, std::uint64_t delay_ns) {
  c.drop_now = false;
  close_socket(c);
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
  close_socket(c);
  c.carry.clear();  // lines decoded from a 101 that came with a connection now given up
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
  // Each attempt goes to the next daemon of --clientPorts / --wsPorts: a client of an edge that
  // died resumes on another.
  ++c.port_slot;
  sockaddr_in address = c.websocket ? ws_address_ : address_;
  address.sin_port = htons(port_of(c));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    on_connect_ready(c, now);
    return;
  }
  if (errno != EINPROGRESS) {
    retry_later(c, now, std::string("connect: ") + std::strerror(errno));
    return;
  }
  update_watch(c);
}

void client_pool::on_connect_ready(connection& c, std::uint64_t now) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    retry_later(c, now, std::string("connect: ") + std::strerror(error));
    return;
  }
  begin_setup(c, phase::resuming);
  continue_setup(c, now);
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
    if (now >= c.deadline_ns) {
      switch (c.state) {
        case phase::connecting: retry_later(c, now, "the connection attempt timed out"); break;
        case phase::securing: retry_later(c, now, "the TLS handshake timed out"); break;
        case phase::upgrading: retry_later(c, now, "no response to the upgrade '" + handshake_text(c) + "'"); break;
        case phase::resuming: retry_later(c, now, "no resumed line after '" + handshake_text(c) + "'"); break;
        case phase::live:
        case phase::waiting:
        case phase::awaiting_epoch: break;
      }
    }
    ++i;
  }
}

void client_pool::pace_slow_readers(std::uint64_t now) {
  for (connection* c : slow_) {
    if (state_.stopping()) return;
    if (c->fd < 0 || c->state == phase::connecting || c->state == phase::waiting || c->state == phase::securing ||
        c->state == phase::upgrading) {
      continue;  // set-up runs on epoll readiness
    }
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
  for (int reads = 0; reads < bad_reads_per_event && !c.closed; ++reads) {
    const io_result got = stream_read(c.fd, c.tls.get(), scratch_.data(), scratch_.size());
    if (got.status == io_status::ok) {
      if (c.kind == role::bad_token && c.websocket) {
        if (!on_refusal_bytes(c, scratch_.data(), got.bytes)) return;
        continue;
      }
      state_.fail(describe(c) + " received data it must never get: '" +
                  printable(std::string_view(scratch_.data(), got.bytes)) + "'");
      return;
    }
    if (got.status == io_status::want_read || got.status == io_status::want_write) return;
    c.closed = true;  // EOF or reset: the daemon refused the handshake
    unwatch(c);
  }
}

bool client_pool::on_refusal_bytes(connection& c, const char* data, std::size_t size) {
  // A refused upgrade may look three ways, all of them without a notification: the connection
  // closed at once (docs/protocol.md: "closes the connection without a byte written"), an HTTP
  // error status, or a 101 followed by a close frame with 1008 ("authentication refused").
  if (!c.upgrade_seen) {
    c.upgrade.append(data, size);
    const auto response = parse_upgrade_response(c.upgrade, c.ws_key);
    switch (response.result) {
      case ws_upgrade_response::outcome::incomplete: return true;
      case ws_upgrade_response::outcome::invalid:
        state_.fail(describe(c) + ": the response to its upgrade breaks RFC 6455: " + response.error);
        return false;
      case ws_upgrade_response::outcome::refused:
        c.upgrade_seen = true;
        ++report_.bad_tokens_http_refused;
        return true;  // what follows is the error's body
      case ws_upgrade_response::outcome::accepted: break;
    }
    c.upgrade_seen = true;
    c.upgraded = true;
    const std::string rest = c.upgrade.substr(response.header_bytes);
    return rest.empty() || on_refusal_bytes(c, rest.data(), rest.size());
  }
  if (!c.upgraded) return true;
  const bool closed_before = c.frames.close().has_value();
  ws_lines_.clear();
  if (!ws_ingest(c, data, size, ws_lines_)) {
    state_.fail(describe(c) + ": a WebSocket protocol violation: " + c.frames.error());
    return false;
  }
  if (!ws_lines_.empty()) {
    state_.fail(describe(c) + " was upgraded and sent '" +
                printable(std::string_view(ws_lines_.data(), ws_lines_.size())) +
                "': a connection whose token is refused must get no notification");
    return false;
  }
  if (c.frames.close() && !closed_before) {
    if (c.frames.close()->code != 1008) {
      state_.fail(describe(c) + ": upgraded, then " + close_text(*c.frames.close()) +
                  "; docs/protocol.md closes a refused token with 1008");
      return false;
    }
    ++report_.bad_tokens_ws_closed;
  }
  std::string error;
  flush_outbox(c, error);  // the close (or a pong) in answer; the daemon closes the connection either way
  return true;
}

void client_pool::check_timeouts(std::uint64_t now) {
  const std::uint64_t timeout = static_cast<std::uint64_t>(opts_.timeout_ms) * ms;
  refresh_tokens();
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
    if (c.kind != role::verified) {
      if (!c.closed) watch(c, EPOLLIN);
      continue;
    }
    if (c.member == group::slow) slow_.push_back(&c);  // read on the tick
    update_watch(c);
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
    if (!again_.empty()) wait_ms = 0;
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) {
      state_.fail(std::string("epoll_wait: ") + std::strerror(errno));
      break;
    }
    const std::uint64_t now = now_ns();
    for (int i = 0; i < n && !state_.stopping(); ++i) {
      const auto& event = events[static_cast<std::size_t>(i)];
      auto& c = *static_cast<connection*>(event.data.ptr);
      if (c.kind != role::verified) {
        on_bad_readable(c);
      } else if (c.fd >= 0) {
        on_event(c, event.events, now);
      }
    }
    if (!again_.empty()) {
      // TLS connections whose SSL object holds bytes the socket will not signal again.
      again_now_.swap(again_);
      again_.clear();
      for (connection* c : again_now_) {
        c->again = false;
        if (state_.stopping()) break;
        if (c->fd >= 0 && (c->state == phase::live || c->state == phase::resuming || c->state == phase::awaiting_epoch)) {
          on_readable(*c, now, scratch_bytes);
        }
      }
      again_now_.clear();
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
  for (auto& c : connections_) count_frames(c);
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
      const io_result got = stream_read(c.fd, c.tls.get(), scratch_.data(), scratch_.size());
      if (got.status == io_status::ok) {
        report_.stuck_bytes_received += got.bytes;
        idle_since[i] = 0;
        ++i;
        continue;
      }
      if (got.status == io_status::closed || got.status == io_status::failed) {
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

void client_pool::await_stuck_cut_off() {
  // The rule (--chaos-stuck-timeout, nonzero): a stuck reader must be disconnected within the
  // daemon's clientWriteTimeoutMs, plus the slack (2 s, plus the verified clients' worst latency:
  // how far behind the source the daemon ran), of the moment the batch holding the last private
  // message to it was accepted by the kernel. Sent more than its socket holds, it had bytes
  // waiting from then on at the latest, which its socket, never read, could not take.
  //
  // Not read while waiting: reading would let its socket take bytes again and restart the
  // daemon's clock. A daemon that closes it with a plain close() leaves its FIN behind the bytes
  // the reader has not taken, so the socket itself shows nothing; the daemon's end of the
  // connection in /proc/net/tcp does (FIN_WAIT1), when the daemon runs on this host, and so does
  // a reset. Either ends the wait for that reader early; the drain that follows decides.
  const std::uint64_t load = std::max(report_.latency.max(), report_.ws_latency.max());
  report_.stuck_timeout_rule = true;
  report_.stuck_slack_ns = stuck_reader_slack_ns(load);
  struct waiting {
    connection* c;
    std::uint64_t sent_ns;
    std::uint64_t deadline_ns;
    bool ever_open = false;
    bool done = false;
  };
  std::vector<waiting> readers;
  for (auto& c : connections_) {
    if (c.kind != role::stuck || c.fd < 0) continue;
    const std::uint64_t sent = state_.stuck_last_sent_ns(c.user - first_stuck_user_);
    if (sent == 0) continue;  // never sent a message: nothing waits for it, nothing to wait for
    readers.push_back({&c, sent, stuck_reader_deadline_ns(opts_, sent, load)});
  }
  const std::uint64_t start = now_ns();
  std::uint64_t next_table = start;
  bool announced = false;
  std::vector<int> fds;
  std::vector<waiting*> asked;
  for (bool first_look = true; !state_.stopping(); first_look = false) {
    const std::uint64_t now = now_ns();
    const auto seen_closed = [&](waiting& r) {
      r.done = true;
      if (first_look) {
        ++report_.stuck_closed_before_wait;  // when it closed is not known, only that it had
        return;
      }
      ++report_.stuck_seen_closed;
      report_.stuck_latest_close_ns = std::max(report_.stuck_latest_close_ns, now - r.sent_ns);
    };
    for (auto& r : readers) {
      if (r.done) continue;
      pollfd pfd{r.c->fd, POLLRDHUP, 0};
      if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) seen_closed(r);
    }
    if (now >= next_table) {
      fds.clear();
      asked.clear();
      for (auto& r : readers) {
        if (r.done) continue;
        fds.push_back(r.c->fd);
        asked.push_back(&r);
      }
      const auto ends = peer_ends(fds);
      for (std::size_t i = 0; i < asked.size(); ++i) {
        waiting& r = *asked[i];
        if (ends[i] == peer_end::open) r.ever_open = true;
        if (ends[i] == peer_end::closed || (ends[i] == peer_end::unknown && r.ever_open)) seen_closed(r);
      }
      next_table = now + 100 * ms;
    }
    std::uint64_t last_deadline = 0;
    for (const auto& r : readers) {
      if (!r.done) last_deadline = std::max(last_deadline, r.deadline_ns);
    }
    if (now >= last_deadline) break;
    if (!announced) {
      announced = true;
      spdlog::info("waiting up to {} ms for the daemon to disconnect the stuck readers (clientWriteTimeoutMs {} ms + "
                   "{} ms after the last message to each: --chaos-stuck-timeout)",
                   (last_deadline - now) / ms, opts_.chaos_stuck_timeout_ms, report_.stuck_slack_ns / ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  report_.stuck_waited_ns = now_ns() - start;
}

bool client_pool::judge_stuck_readers() {
  // After the drain: a reader still connected fails the run if it was sent more than its socket
  // can hold (--chaos-kernel-slack), since bytes waited for it; otherwise it proves nothing.
  std::vector<const connection*> open;
  for (const auto& c : connections_) {
    if (c.kind != role::stuck || c.closed) continue;
    if (state_.stuck_bytes_sent(c.user - first_stuck_user_) > opts_.chaos_kernel_slack) {
      open.push_back(&c);
    } else {
      ++report_.stuck_unproven;
    }
  }
  if (open.empty()) return true;
  const connection& first = *open.front();
  const std::size_t index = first.user - first_stuck_user_;
  std::string message =
      "chaos stuck readers: " + describe(first) + " was not disconnected within " +
      std::to_string(opts_.chaos_stuck_timeout_ms + report_.stuck_slack_ns / ms) + " ms (clientWriteTimeoutMs " +
      std::to_string(opts_.chaos_stuck_timeout_ms) + " ms, from --chaos-stuck-timeout or --daemonConfig, + " +
      std::to_string(report_.stuck_slack_ns / ms) + " ms of slack) of the last private message to it, although it " +
      "was sent " + std::to_string(state_.stuck_bytes_sent(index)) + " bytes, more than its socket holds (" +
      "--chaos-kernel-slack " + std::to_string(opts_.chaos_kernel_slack) +
      "): the daemon must disconnect a client whose socket takes nothing for clientWriteTimeoutMs";
  if (open.size() > 1) {
    message += "; also still connected:";
    for (std::size_t i = 1; i < open.size() && i <= 10; ++i) message += (i == 1 ? " user " : ", ") + std::to_string(open[i]->user);
    if (open.size() > 11) message += " and " + std::to_string(open.size() - 11) + " more";
  }
  state_.fail(std::move(message));
  return false;
}

void client_pool::check_chaos_outcome() {
  const bool stuck_timeout = opts_.chaos_stuck_timeout_ms > 0 && opts_.chaos_stuck_readers > 0;
  if (stuck_timeout) await_stuck_cut_off();
  drain_stuck_readers();
  if (stuck_timeout && !judge_stuck_readers()) return;

  // Bad clients: a rejected handshake must have been closed at once, a silent one within the
  // daemon's handshake timeout of connecting (plus a second for its timer and the scheduler).
  // With --chaos-handshake-timeout=0 the silent ones are only counted.
  const std::uint64_t handshake_timeout = static_cast<std::uint64_t>(opts_.chaos_handshake_timeout_ms) * ms;
  const bool check_silent = handshake_timeout > 0;
  const std::uint64_t rejected_deadline = now_ns() + 1000 * ms;
  bool announced = false;
  for (auto& c : connections_) {
    if (c.kind != role::bad && c.kind != role::bad_token) continue;
    const bool silent = c.kind == role::bad && c.bad == bad_client_kind::silent;
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
    if (c.kind == role::bad_token) {
      const auto k = static_cast<std::size_t>(c.bad_token);
      ++report_.bad_tokens_by_kind[k];
      if (c.closed) ++report_.bad_tokens_closed_by_kind[k];
      if (c.websocket) ++report_.bad_tokens_ws;
      continue;
    }
    const auto k = static_cast<std::size_t>(c.bad);
    ++report_.bad_clients_by_kind[k];
    if (c.closed) ++report_.bad_clients_closed_by_kind[k];
  }
  if (state_.stopping()) return;
  for (std::size_t k = 0; k < bad_token_kind_count; ++k) {
    if (report_.bad_tokens_closed_by_kind[k] == report_.bad_tokens_by_kind[k]) continue;
    state_.fail("bad tokens (" + std::string(to_string(static_cast<bad_token_kind>(k))) + "): " +
                std::to_string(report_.bad_tokens_by_kind[k] - report_.bad_tokens_closed_by_kind[k]) + " of " +
                std::to_string(report_.bad_tokens_by_kind[k]) +
                " still connected at the end; the daemon must close a connection whose token it refuses");
    return;
  }
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
