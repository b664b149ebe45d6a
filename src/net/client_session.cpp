#include "eventserver/net/client_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "eventserver/core/event.hpp"
#include "eventserver/net/client_socket.hpp"
#include "eventserver/net/peer.hpp"
#include "eventserver/net/tcp_progress.hpp"

namespace eventserver {

namespace {
// Buffers that grew during a burst are released once drained, so an idle client costs
// little however busy it once was.
constexpr std::size_t keep_buffer_capacity = 64 * 1024;
// A client in catch-up reads history once this much of its queue is free (or all of it is):
// reads of a few KiB would cost a round trip to the reader thread for little.
constexpr std::size_t min_history_read = 16 * 1024;
constexpr std::size_t max_history_read = 256 * 1024;

// WebSocket close codes (docs/protocol.md). Stuck, slow and out-of-history clients get none:
// their connection is reset (see cut_off).
constexpr std::uint16_t close_token_expired = 4000;
constexpr std::uint16_t close_policy = 1008;  // a refused token
constexpr std::chrono::seconds min_refresh_interval{1};

void release_if_large(send_buffer& buffer) {
  if (buffer.capacity() > keep_buffer_capacity) buffer.release();
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

client_session::client_session(client_hub& hub, std::string peer, std::string transport, line_format lines)
    : max_queue_bytes_(hub.limits().max_queue_bytes),
      write_batch_bytes_(std::min(hub.limits().write_batch_bytes, max_queue_bytes_)),
      hub_(hub),
      stats_(hub.stats()),
      lines_(lines),
      peer_(std::move(peer)),
      transport_(std::move(transport)),
      serial_(stats_.clients_accepted),
      connected_since_ms_(now_unix_ms()),
      stuck_timer_(hub.executor()),
      retry_timer_(hub.executor()) {}

client_session::~client_session() {
  if (cursor_ && hub_.history() != nullptr) hub_.history()->release(serial_);
  hub_.client_closed(*this);
}

// --- Registration -------------------------------------------------------------------------

void client_session::register_as(const registration& who) {
  user_ = who.user;
  ++stats_.clients_registered;
  hub_.connect(user_, *this);
  SPDLOG_DEBUG("client {} registered as user {}", peer_, user_);
  arm_expiry_timer();
  if (!who.resumes()) {
    state_ = state::live;
    return;
  }
  state_ = state::catching_up;  // live notifications wait until the history up to them is sent
  status_lines_ = true;
  resume(who);
}

void client_session::on_id_line(std::string_view line) {
  const auto who = parse_registration(line);
  if (!who) {
    // Only the leading digits and '|' are quoted: whatever follows may be (part of) a token.
    const auto shown = std::min(line.find_first_not_of("0123456789|"), std::size_t{64});
    refuse(stats_.handshake_bad_id, "id line is not <user>[|<last>[|<epoch>]][ <token>] of unsigned 64-bit decimals: " +
                                        quote_for_log(line.substr(0, shown)) +
                                        (shown < line.size() ? fmt::format(" and {} more bytes", line.size() - shown) : ""));
    return;
  }
  if (auto refusal = check_token(*who)) {
    refuse(hub_.transport_stats().tokens.refused_at_handshake, *refusal);
    return;
  }
  registration accepted = *who;
  accepted.token = {};  // a view into the transport's buffer, which it reuses
  register_as(accepted);
}

std::optional<std::string> client_session::check_token(const registration& who) {
  if (!hub_.auth_required()) return std::nullopt;  // clientAuth none: a token, if any, is ignored
  const auth_verdict verdict = hub_.authenticate(who.user, who.token, true);
  if (!verdict.ok) return fmt::format("authentication refused for user {}: {}", who.user, verdict.refusal);
  token_expires_ = verdict.expires;
  return std::nullopt;
}

void client_session::on_token_line(std::string_view token) {
  if (!registered()) return;
  // Each token costs a signature check on the event thread: a client may refresh at most once
  // a second (real ones do every few minutes), so none can keep the thread busy with them.
  const auto now = std::chrono::steady_clock::now();
  if (last_refresh_ && now - *last_refresh_ < min_refresh_interval) {
    cut_off(hub_.transport_stats().tokens.disconnected_refused, "fresh tokens sent more often than once a second", close_policy);
    return;
  }
  last_refresh_ = now;
  const auth_verdict verdict = hub_.authenticate(user_, token, false);
  if (!verdict.ok) {
    cut_off(hub_.transport_stats().tokens.disconnected_refused, fmt::format("a fresh token was refused: {}", verdict.refusal), close_policy);
    return;
  }
  ++hub_.transport_stats().tokens.refreshes;
  token_expires_ = verdict.expires;
  arm_expiry_timer();
}

void client_session::token_line_too_long() {
  if (!registered()) return;
  cut_off(hub_.transport_stats().tokens.disconnected_refused, "a fresh token longer than any token (malformed)", close_policy);
}

void client_session::arm_expiry_timer() {
  if (token_expires_ == std::chrono::system_clock::time_point::max()) return;
  if (!expiry_timer_) expiry_timer_ = std::make_unique<asio::steady_timer>(hub_.executor());
  // The system clock's distance, on the steady clock: a step of the wall clock afterwards
  // moves the end by as much, which a token's lifetime tolerates.
  const auto left = token_expires_ - std::chrono::system_clock::now();
  expiry_timer_->expires_after(std::max(std::chrono::duration_cast<std::chrono::steady_clock::duration>(left),
                                        std::chrono::steady_clock::duration::zero()));
  expiry_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || !self->registered()) return;
    if (std::chrono::system_clock::now() < self->token_expires_) {
      self->arm_expiry_timer();  // the clock was stepped back: wait on
      return;
    }
    self->cut_off(self->hub_.transport_stats().tokens.disconnected_expired, "its token expired", close_token_expired);
  });
}

void client_session::refuse(std::uint64_t& counter, std::string_view why) {
  ++counter;
  refused(why);
}

void client_session::refused(std::string_view why) {
  if (const auto suppressed = hub_.handshake_warnings().allow(std::chrono::steady_clock::now())) {
    spdlog::warn("client {} closed during handshake: {}{}", peer_, why, suppressed_note(*suppressed));
  }
  close();
}

void client_session::peer_gone(const error_code& ec) {
  if (!registered() || ec == asio::error::operation_aborted) return;
  ++stats_.clients_disconnected_peer;
  SPDLOG_DEBUG("client {} (user {}) disconnected: {}", peer_, user_, ec.message());
  close();
}

// --- Live delivery ------------------------------------------------------------------------

void client_session::deliver(sequence_number seq, std::string_view notification, std::size_t readable) {
  if (state_ != state::live || finishing_) {
    // In catch-up the notification is not lost: the client reads it from history.
    if (state_ != state::catching_up) ++stats_.notifications_dropped_closing;
    return;
  }
  const std::size_t needed = notification.size();
  if (queued_bytes() + needed > write_batch_bytes_ && !write_pending_) {
    // A full batch goes now, without waiting for the flush pass. This is also the socket's
    // chance before the queue bound below is applied.
    flush();
    if (state_ != state::live) {  // the write failed: the peer is gone
      ++stats_.notifications_dropped_closing;
      return;
    }
    // All written: this notification is the oldest queued (the client may still be on the
    // flush pass's list, so the stamp below would not be reached).
    if (queued_bytes() == 0) oldest_arrival_ = hub_.applying_arrival();
  }
  if (queued_bytes() + needed > max_queue_bytes_) {
    overflow(seq, needed);
    return;
  }
  append_line(notification, readable);
  last_queued_seq_ = seq;
  ++notifications_;
  ++stats_.notifications_delivered;
  if (!awaiting_flush_ && !write_pending_) {
    // The first notification since the last write (the queue was empty): stamped here, once
    // per write rather than once per notification.
    oldest_arrival_ = hub_.applying_arrival();
    awaiting_flush_ = true;
    hub_.await_flush(*this);
  }
}

void client_session::append_line(std::string_view line, std::size_t readable) {
  if (lines_ == line_format::crlf) {
    if (queue_.size() + line.size() > queue_.capacity()) grow_queue(line.size());
    queue_.append_short(line, readable);
    return;
  }
  // "payload\n": the "\r\n" of the line (or a bare '\n') becomes one '\n'.
  const std::size_t ending = line.size() >= 2 && line[line.size() - 2] == '\r' ? 2 : 1;
  const std::string_view payload = line.substr(0, line.size() - ending);
  if (queue_.size() + payload.size() + 1 > queue_.capacity()) grow_queue(payload.size() + 1);
  queue_.append_short(payload, readable);
  queue_.append("\n");
}

std::size_t client_session::whole_lines_within(std::string_view lines, std::size_t max) noexcept {
  if (lines.size() <= max) return lines.size();
  const auto last = lines.rfind('\n', max - 1);
  const auto end = last != std::string_view::npos ? last : lines.find('\n', max);
  return end != std::string_view::npos ? end + 1 : lines.size();
}

void client_session::append_status(std::string_view line) { append_line(line, line.size()); }

// Doubling, as std::string would, but a queue that stays within its write batch never gets
// more room than the batch: doubling would otherwise leave most clients with nearly twice it.
void client_session::grow_queue(std::size_t needed) {
  const std::size_t wanted = queue_.size() + needed;
  std::size_t capacity = std::max(wanted, 2 * queue_.capacity());
  if (wanted <= write_batch_bytes_) capacity = std::min(capacity, write_batch_bytes_);
  queue_.reserve(capacity);
}

// The queue cannot take the notification of `seq` even after a write: the client reads on
// from history if there is any, and is cut off if not.
void client_session::overflow(sequence_number seq, std::size_t needed) {
  if (hub_.history() == nullptr) {
    ++stats_.notifications_dropped_closing;
    cut_off(stats_.clients_disconnected_slow,
            fmt::format("slow reader, {} bytes queued + {} would exceed maxClientQueueBytes {}", queued_bytes(), needed,
                        max_queue_bytes_),
            std::nullopt);
    return;
  }
  ++stats_.catch_up_entered;
  const auto following = hub_.following(user_);
  start_catch_up(hub_.applied().epoch, seq, std::vector<user_id>(following.begin(), following.end()));
}

void client_session::cut_off(std::uint64_t& counter, std::string_view why, std::optional<std::uint16_t> close_code) {
  ++counter;
  // Rate-limited: a herd of stuck or slow readers must not flood the log.
  if (const auto suppressed = hub_.slow_client_warnings().allow(std::chrono::steady_clock::now())) {
    spdlog::warn("client {} (user {}) disconnected: {}{}", peer_, user_, why, suppressed_note(*suppressed));
  }
  state_ = state::cut_off;
  queue_.release();
  sent_ = 0;
  // Without a close code, what waits for it (here and in the kernel) will never be read: a
  // reset frees it at once. A close frame would only wait behind it.
  reset_ = !close_code;
  // We may be inside the router's fan-out: leave it before unregistering.
  asio::post(hub_.executor(), [self = shared_from_this(), close_code] {
    if (close_code) self->goodbye(*close_code, *close_code == close_token_expired ? "token expired" : "token refused");
    self->close();
  });
}

void client_session::flush_awaited() {
  awaiting_flush_ = false;
  flush();
}

void client_session::flush() {
  if ((state_ != state::live && state_ != state::catching_up) || write_pending_) return;
  write_now();
  if (state_ != state::live && state_ != state::catching_up) return;
  if (!write_pending_ && queued_bytes() == 0) {
    if (finishing_) close();
  }
  if (state_ == state::catching_up) read_history();  // never inside a fan-out: deliver() ignored it
}

// One write of everything queued. Safe inside the fan-out: on failure it only marks the
// session and posts the close.
void client_session::write_now() {
  while (queued_bytes() != 0 && !write_pending_) {
    bool pending = false;
    error_code ec;
    const std::size_t taken = write(std::span<const char>(queue_.data() + sent_, queued_bytes()), pending, ec);
    if (ec) {
      ++stats_.clients_disconnected_peer;
      SPDLOG_DEBUG("client {} (user {}) write failed: {}", peer_, user_, ec.message());
      state_ = state::cut_off;  // no more deliveries; close outside the fan-out
      asio::post(hub_.executor(), [self = shared_from_this()] { self->close(); });
      return;
    }
    if (pending) {
      write_pending_ = true;
      arm_stuck_timer();
      return;
    }
    if (taken == 0) return;  // cannot happen with a synchronous transport; be safe
    written(taken, {});
    if (write_pending_) return;
  }
}

void client_session::written(std::size_t bytes, const error_code& ec) {
  const bool was_pending = write_pending_;
  write_pending_ = false;
  if (ec) {
    if (registered() && ec != asio::error::operation_aborted) {
      ++stats_.clients_disconnected_peer;
      close();
    }
    return;
  }
  if (bytes != 0) {
    transport_taken_ += bytes;
    if (oldest_arrival_ != std::chrono::steady_clock::time_point{} && state_ == state::live) {
      stats_.delivery_latency.observe(std::chrono::steady_clock::now() - oldest_arrival_);
    }
    stats_.bytes_out += bytes;
    ++stats_.client_writes;
    sent_ += bytes;
    if (sent_ == queue_.size()) {
      queue_.clear();
      sent_ = 0;
      oldest_arrival_ = {};
      last_sent_seq_ = last_queued_seq_;
      release_if_large(queue_);
    } else if (sent_ > queue_.size() / 2) {
      queue_.consume(sent_);  // keep the unsent tail at the front; amortised by the halving
      sent_ = 0;
    }
  }
  // An asynchronous completion: carry on from here (a synchronous one returns to write_now).
  if (was_pending) flush();
}

void client_session::finish() {
  if (!registered()) {
    close();
    return;
  }
  finishing_ = true;
  if (cursor_ && hub_.history() != nullptr) hub_.history()->release(serial_);
  cursor_.reset();  // at shutdown a client in catch-up gets what is queued, not the rest
  if (state_ == state::catching_up) state_ = state::live;
  flush();
}

void client_session::close() {
  if (state_ == state::closed) return;
  const bool was_registered = state_ == state::live || state_ == state::catching_up || state_ == state::cut_off;
  state_ = state::closed;
  if (was_registered) hub_.disconnect(user_, *this);
  stuck_timer_.cancel();
  retry_timer_.cancel();
  if (expiry_timer_) expiry_timer_->cancel();
  if (reset_) reset_on_close(lowest_socket());
  close_transport(finishing_ && !reset_);
}

void client_session::prepare_socket() { prepare_client_socket(lowest_socket(), hub_.limits().send_buffer_bytes); }

// --- Streams ------------------------------------------------------------------------------

void client_session::begin_stream(stream_epoch epoch) {
  // A client in catch-up meets the new epoch when its history of the old one ends.
  if (state_ != state::live || !status_lines_) return;
  append_status(fmt::format("epoch|{}\r\n", epoch));
  if (!awaiting_flush_ && !write_pending_) {
    awaiting_flush_ = true;
    hub_.await_flush(*this);
  }
}

// --- Catch-up and resume ------------------------------------------------------------------

void client_session::start_catch_up(stream_epoch epoch, sequence_number next, std::vector<user_id> following) {
  state_ = state::catching_up;
  oldest_arrival_ = {};  // what it reads from history is not live delivery
  cursor_.emplace(cursor{epoch, next, user_filter(user_, std::move(following))});
  // Not from inside the fan-out that got here: what is being applied now is not applied yet.
  asio::post(hub_.executor(), [self = shared_from_this()] { self->read_history(); });
}

// <user>|<last>[|<epoch>]: everything of the user after <last> if history still has it, told
// first in one status line whether it does.
void client_session::resume(const registration& who) {
  history_source* history = hub_.history();
  const log_position applied = hub_.applied();
  const stream_epoch epoch = applied.epoch;
  const sequence_number last = *who.last;
  // The first number of this stream history still holds; 0 when it holds none.
  const sequence_number first = history != nullptr ? history->first_available(epoch).value_or(0) : 0;
  sequence_number after = applied.seq;  // where delivery continues when the history is incomplete
  bool complete = false;
  if (who.epoch && *who.epoch != epoch) {
    // Another stream's position: this stream from its oldest notification still kept.
    if (first != 0) after = first - 1;
  } else if (last > applied.seq) {
    // A position the daemon never reached (its log lost a tail): live from here.
  } else if (first != 0 && first <= last + 1) {
    after = last;
    complete = true;
  } else if (first != 0) {
    after = first - 1;
  } else if (last == applied.seq) {
    complete = true;  // nothing to replay, nothing missed (history empty or none at all)
  }
  if (after == applied.seq) {
    const auto following = hub_.following(user_);
    begin_resume(epoch, after, complete, std::vector<user_id>(following.begin(), following.end()));
    return;
  }
  if (auto following = hub_.following_after(user_, after)) {
    begin_resume(epoch, after, complete, std::move(*following));
    return;
  }
  // Whom the user followed at `after`, rebuilt from the log (a reader thread): meanwhile no
  // notification is sent; live ones wait in history.
  history->following_at(user_, epoch, after,
                        [self = shared_from_this(), epoch, after, complete](std::optional<std::vector<user_id>> set) {
                          if (self->state_ != state::catching_up || self->cursor_) return;  // gone meanwhile
                          if (set) {
                            self->begin_resume(epoch, after, complete, std::move(*set));
                            return;
                          }
                          // History cannot tell: the live stream from here, and the client is told.
                          const auto now = self->hub_.following(self->user_);
                          self->begin_resume(self->hub_.applied().epoch, self->hub_.applied().seq, false,
                                             std::vector<user_id>(now.begin(), now.end()));
                        });
}

void client_session::begin_resume(stream_epoch epoch, sequence_number after, bool complete,
                                  std::vector<user_id> following) {
  ++(complete ? stats_.resumes_complete : stats_.resumes_incomplete);
  append_status(fmt::format("resumed|{}|{}|{}\r\n", epoch, after, complete ? "complete" : "incomplete"));
  last_queued_seq_ = after;
  last_sent_seq_ = after;
  start_catch_up(epoch, after + 1, std::move(following));
}

void client_session::read_history() {
  if (state_ != state::catching_up || !cursor_ || cursor_->reading || finishing_) return;
  history_source* history = hub_.history();
  const log_position applied = hub_.applied();
  cursor& at = *cursor_;
  if (at.epoch == applied.epoch && at.next > applied.seq) {
    go_live();
    return;
  }
  const std::size_t room = max_queue_bytes_ - std::min(max_queue_bytes_, queued_bytes());
  if (room < std::min(min_history_read, max_queue_bytes_ / 2)) return;  // written() brings it back here
  history_request request;
  request.reader = serial_;
  request.epoch = at.epoch;
  request.from = at.next;
  request.until = at.epoch == applied.epoch ? applied.seq : ~sequence_number{0};
  request.max_bytes = std::min(room, max_history_read);
  at.reading = true;
  history->read(request, [self = shared_from_this()](history_chunk chunk) { self->on_history(std::move(chunk)); });
}

void client_session::on_history(history_chunk chunk) {
  if (state_ != state::catching_up || !cursor_) return;
  cursor& at = *cursor_;
  at.reading = false;
  if (chunk.result != history_chunk::outcome::ok) {
    ++stats_.notifications_dropped_closing;
    cut_off(stats_.clients_out_of_history,
            fmt::format("catching up at sequence number {} of epoch {}, but history no longer has it: {}", at.next,
                        at.epoch, chunk.reason.empty() ? "retention removed it" : chunk.reason),
            std::nullopt);
    return;
  }
  if (chunk.runs.empty()) {
    if (at.epoch != hub_.applied().epoch) {
      // The end of an older stream: the next one, from its start.
      ++at.epoch;
      at.next = 1;
      at.filter = user_filter(user_, {});
      if (status_lines_) append_status(fmt::format("epoch|{}\r\n", at.epoch));
    } else if (at.next <= hub_.applied().seq) {
      // Applied but not readable yet (a history that lags what was applied): look again soon
      // rather than ask the reader in a tight loop.
      retry_timer_.expires_after(std::chrono::milliseconds(5));
      retry_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->read_history();
      });
      return;
    }
  }
  for (const history_run& run : chunk.runs) {
    if (run.first != at.next) break;  // not the run asked for: read again from where we are
    // Only this user's lines, found without parsing the rest (core/user_filter.hpp).
    at.filter.scan(run.lines, run.first, [this](sequence_number seq, std::string_view line) {
      append_line(line, line.size());
      last_queued_seq_ = seq;
      ++notifications_;
      ++history_notifications_;
      ++stats_.notifications_delivered;
      ++stats_.history_notifications;
    });
    at.next = run.first + run.count;
  }
  flush();  // writes, and reads on (read_history) or goes live
}

void client_session::go_live() {
  if (hub_.history() != nullptr) hub_.history()->release(serial_);
  cursor_.reset();
  state_ = state::live;
  ++stats_.catch_up_rejoined;
  SPDLOG_DEBUG("client {} (user {}) caught up", peer_, user_);
  flush();  // what history (or a status line) queued last
}

// --- Stuck clients ------------------------------------------------------------------------

// Armed when a write starts waiting for the socket. Each time it fires it asks the kernel what
// the peer has taken since: something, and it watches on; nothing while the write still
// waits, and the client is stuck. So a client that takes a byte per clientWriteTimeoutMs is
// never cut off, and one that takes nothing is cut off within two of them.
void client_session::arm_stuck_timer() {
  if (stuck_timer_armed_ || hub_.limits().write_timeout.count() == 0) return;
  stuck_timer_armed_ = true;
  taken_at_arming_ = peer_taken();
  stuck_timer_.expires_after(hub_.limits().write_timeout);
  stuck_timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_stuck_timer(ec); });
}

void client_session::on_stuck_timer(const error_code& ec) {
  stuck_timer_armed_ = false;
  if (ec || (state_ != state::live && state_ != state::catching_up) || !write_pending_) return;
  if (peer_taken() != taken_at_arming_) {
    arm_stuck_timer();  // it took bytes since: watch on from here
    return;
  }
  cut_off(stats_.clients_disconnected_stuck,
          fmt::format("stuck: it took no byte for clientWriteTimeoutMs ({} ms), {} bytes waiting",
                      hub_.limits().write_timeout.count(), queued_bytes()),
          std::nullopt);
}

std::uint64_t client_session::peer_taken() {
  return tcp_bytes_acked(lowest_socket().native_handle()).value_or(transport_taken_);
}

// --- What the admin endpoints show --------------------------------------------------------

std::uint64_t client_session::behind(sequence_number processed_head) const noexcept {
  if (cursor_ && cursor_->epoch == hub_.applied().epoch) {
    return processed_head >= cursor_->next ? processed_head - cursor_->next + 1 : 0;
  }
  return queued_bytes() == 0 || processed_head < last_sent_seq_ ? 0 : processed_head - last_sent_seq_;
}

connection_info client_session::info(sequence_number processed_head) const {
  connection_info out;
  out.user = user_;
  out.registered = registered();
  out.remote = peer_;
  out.connected_since_ms = connected_since_ms_;
  out.queued_bytes = queued_bytes();
  out.notifications = notifications_;
  out.last_sequence = last_sent_seq_;
  out.behind = behind(processed_head);
  out.transport = transport_;
  out.mode = state_ == state::catching_up ? "catch-up" : "live";
  return out;
}

// --- The TCP transport ----------------------------------------------------------------------

tcp_client_session::tcp_client_session(tcp::socket socket, client_hub& hub)
    : client_session(hub, describe_peer(socket), "tcp", line_format::crlf),
      socket_(std::move(socket)),
      handshake_timer_(socket_.get_executor()) {}

void tcp_client_session::start() {
  hub().client_opened(*this);
  prepare_socket();
  error_code ignored;
  socket_.non_blocking(true, ignored);  // writes are synchronous and must not block

  handshake_timer_.expires_after(hub().limits().handshake_timeout);
  handshake_timer_.async_wait([self = self()](const error_code& ec) { self->on_handshake_timeout(ec); });
  // +2: the id line may be max_handshake_bytes long plus its "\r\n".
  asio::async_read_until(socket_, asio::dynamic_buffer(handshake_buffer_, hub().limits().max_handshake_bytes + 2), '\n',
                         [self = self()](const error_code& ec, std::size_t bytes) { self->on_handshake(ec, bytes); });
}

void tcp_client_session::on_handshake_timeout(const error_code& ec) {
  if (ec || !handshaking()) return;
  refuse(stats().handshake_timeouts, "no id line within clientHandshakeTimeoutMs");
}

void tcp_client_session::on_handshake(const error_code& ec, std::size_t bytes) {
  if (!handshaking()) return;  // timed out or shut down meanwhile
  if (ec == asio::error::not_found) {
    refuse(stats().handshake_overlong, "id line longer than maxLineBytes");
    return;
  }
  if (ec) {
    ++stats().handshake_peer_closed;
    SPDLOG_DEBUG("client {} left before sending its id: {}", peer(), ec.message());
    close();
    return;
  }
  handshake_timer_.cancel();
  on_id_line(strip_cr(std::string_view(handshake_buffer_).substr(0, bytes - 1)));
  if (!registered()) return;
  handshake_buffer_.erase(0, bytes);
  if (hub().auth_required()) {
    read_token_line();  // what follows the id line may be fresh tokens
    return;
  }
  std::string().swap(handshake_buffer_);  // anything sent after the id line is ignored
  do_read();
}

void tcp_client_session::read_token_line() {
  asio::async_read_until(socket_, asio::dynamic_buffer(handshake_buffer_, hub().limits().max_handshake_bytes + 2), '\n',
                         [self = self()](const error_code& ec, std::size_t bytes) { self->on_token_read(ec, bytes); });
}

void tcp_client_session::on_token_read(const error_code& ec, std::size_t bytes) {
  if (ec == asio::error::not_found) {
    token_line_too_long();
    return;
  }
  if (ec) {
    peer_gone(ec);
    return;
  }
  on_token_line(strip_cr(std::string_view(handshake_buffer_).substr(0, bytes - 1)));
  handshake_buffer_.erase(0, bytes);
  if (registered()) read_token_line();
}

void tcp_client_session::do_read() {
  socket_.async_read_some(asio::buffer(discard_),
                          [self = self()](const error_code& ec, std::size_t) { self->on_read(ec); });
}

void tcp_client_session::on_read(const error_code& ec) {
  if (!ec) {
    do_read();
    return;
  }
  peer_gone(ec);
}

std::size_t tcp_client_session::write(std::span<const char> bytes, bool& pending, error_code& ec) {
  const std::size_t taken = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    // The socket is full: continue when the client has read some.
    pending = true;
    socket_.async_wait(tcp::socket::wait_write,
                       [self = self()](const error_code& wait_ec) { self->written(0, wait_ec); });
    return 0;
  }
  return taken;
}

void tcp_client_session::close_transport(bool graceful) {
  handshake_timer_.cancel();
  error_code ignored;
  if (graceful) socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace eventserver
