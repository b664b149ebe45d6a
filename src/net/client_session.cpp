#include "eventserver/net/client_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "eventserver/core/event.hpp"
#include "eventserver/net/client_socket.hpp"
#include "eventserver/net/peer.hpp"
#include "eventserver/net/tcp_progress.hpp"

namespace eventserver {

namespace {
// WebSocket close codes (docs/protocol.md). Stuck, slow and out-of-history clients get none:
// their connection is reset (see cut_off).
constexpr std::uint16_t close_token_expired = 4000;
constexpr std::uint16_t close_policy = 1008;  // a refused token
constexpr std::chrono::seconds min_refresh_interval{1};

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

client_session::client_session(client_hub& hub, std::string peer, std::string transport, line_format lines)
    : hub_(hub),
      stats_(hub.stats()),
      stream_(hub.limits().max_queue_bytes, hub.limits().write_batch_bytes, lines),
      peer_(std::move(peer)),
      transport_(std::move(transport)),
      serial_(stats_.clients_accepted),
      connected_since_ms_(now_unix_ms()),
      stuck_timer_(hub.executor()),
      retry_timer_(hub.executor()) {
  if (hub.spill() != nullptr) stream_.allow_spill();
}

client_session::~client_session() {
  if (stream_.has_cursor()) release_reader();
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
    stream_.register_live();
    return;
  }
  stream_.register_resuming();  // live notifications wait until the history up to them is sent
  resume(who);
}

void client_session::on_id_line(std::string_view line) {
  const auto who = parse_registration(line);
  if (!who) {
    // Only the leading digits and '|' are quoted: whatever follows may be (part of) a token.
    const auto shown = std::min(line.find_first_not_of("0123456789|"), std::size_t{64});
    refuse(stats_.handshake_bad_id, "id line is not <user>[|<last>[|<epoch>]][ <token>] of unsigned 64-bit decimals: " +
                                        quote_peer_bytes(line.substr(0, shown)) +
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
    cut_off(cut_off_reason::token_refused, hub_.transport_stats().tokens.disconnected_refused,
            "fresh tokens sent more often than once a second");
    return;
  }
  last_refresh_ = now;
  const auth_verdict verdict = hub_.authenticate(user_, token, false);
  if (!verdict.ok) {
    cut_off(cut_off_reason::token_refused, hub_.transport_stats().tokens.disconnected_refused,
            fmt::format("a fresh token was refused: {}", verdict.refusal));
    return;
  }
  ++hub_.transport_stats().tokens.refreshes;
  token_expires_ = verdict.expires;
  arm_expiry_timer();
}

void client_session::token_line_too_long() {
  if (!registered()) return;
  cut_off(cut_off_reason::token_refused, hub_.transport_stats().tokens.disconnected_refused,
          "a fresh token longer than any token (malformed)");
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
    self->cut_off(cut_off_reason::token_expired, self->hub_.transport_stats().tokens.disconnected_expired, "its token expired");
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

void client_session::deliver(sequence_number seq, line_ref notification) {
  auto verdict = stream_.offer(seq, notification, !write_pending_);
  if (verdict == client_stream::offer_result::write_first) {
    // A full batch goes now, without waiting for the flush pass. This is also the socket's
    // chance before the queue bound is applied.
    flush();
    // All written: this notification is the oldest queued (the client may still be on the
    // flush pass's list, so the stamp below would not be reached).
    if (stream_.live() && stream_.queued_bytes() == 0) oldest_arrival_ = hub_.applying_arrival();
    verdict = stream_.offer(seq, notification, false);  // the write failed: the peer is gone
  }
  switch (verdict) {
    case client_stream::offer_result::queued:
      break;
    case client_stream::offer_result::over_bound:
      overflow(seq, notification.size());
      return;
    case client_stream::offer_result::spilled:
    case client_stream::offer_result::kept:
    case client_stream::offer_result::block_ready:
      spilled(seq, verdict);
      return;
    case client_stream::offer_result::in_history:
      return;  // not lost: the client reads it from history
    case client_stream::offer_result::write_first:
    case client_stream::offer_result::dropped:
      ++stats_.notifications_dropped_closing;
      return;
  }
  ++stats_.notifications_delivered;
  if (!awaiting_flush_ && !write_pending_) {
    // The first notification since the last write (the queue was empty): stamped here, once
    // per write rather than once per notification.
    oldest_arrival_ = hub_.applying_arrival();
    awaiting_flush_ = true;
    hub_.await_flush(*this);
  }
}

// The queue cannot take the notification of `seq` even after a write: the client reads on
// from history if there is any, and is cut off if not.
void client_session::overflow(sequence_number seq, std::size_t needed) {
  const std::size_t queued = queued_bytes();
  if (stream_.fall_behind(hub_.history() != nullptr, user_, hub_.applied().epoch, seq, hub_.following(user_))) {
    ++stats_.catch_up_entered;
    read_history_soon();
    return;
  }
  ++stats_.notifications_dropped_closing;
  cut_off(cut_off_reason::slow, stats_.clients_disconnected_slow,
          fmt::format("slow reader, {} bytes queued + {} would exceed maxClientQueueBytes {}", queued, needed,
                      hub_.limits().max_queue_bytes));
}

// The stream kept the notification of `seq` for its spill (offer: spilled, kept, block_ready):
// its own notifications, read back in order, cost less than filtering the log again. A full
// block goes to the store; one the store refuses (its budget) stays with the stream, and the
// client reads the log after it.
void client_session::spilled(sequence_number seq, client_stream::offer_result verdict) {
  ++stats_.spill_notifications;
  ++stats_.notifications_delivered;
  if (verdict == client_stream::offer_result::spilled) {
    spill_owner_ = true;
    ++stats_.catch_up_entered;
    ++stats_.spill_entered;
    read_history_soon();
    return;
  }
  if (verdict != client_stream::offer_result::block_ready) return;
  std::vector<char> block = stream_.take_spill_block();
  if (hub_.spill()->write(serial_, block)) return;
  // Refused (the budget): write() left the block as it was.
  ++stats_.spill_refused;
  stream_.spill_refused(std::move(block), user_, hub_.applied().epoch, seq + 1, hub_.following(user_));
}

void client_session::on_spill(spill_store::read_result result) {
  if (!result.error.empty() || !stream_.take_spill(result.bytes)) {
    ++stats_.notifications_dropped_closing;
    cut_off(cut_off_reason::slow, stats_.clients_disconnected_spill,
            fmt::format("its spill could not be read back ({}); it may resume",
                        result.error.empty() ? "the store lost it" : result.error));
    return;
  }
  flush();  // writes, and reads on (read_history) or goes live
}

void client_session::drop_spill() {
  if (!spill_owner_) return;
  spill_owner_ = false;
  if (hub_.spill() != nullptr) hub_.spill()->drop(serial_);
}

void client_session::cut_off(cut_off_reason why, std::uint64_t& counter, std::string_view text) {
  ++counter;
  // Rate-limited: a herd of stuck or slow readers must not flood the log.
  if (const auto suppressed = hub_.slow_client_warnings().allow(std::chrono::steady_clock::now())) {
    spdlog::warn("client {} (user {}) disconnected: {}{}", peer_, user_, text, suppressed_note(*suppressed));
  }
  stream_.cut_off(why);
  drop_spill();
  // What waits for a reset client (here and in the kernel) will never be read: a reset frees
  // it at once. A close frame would only wait behind it.
  reset_ = resets_connection(why);
  std::optional<std::uint16_t> close_code;
  if (!reset_) close_code = why == cut_off_reason::token_expired ? close_token_expired : close_policy;
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
  if (!stream_.registered() || write_pending_) return;
  write_now();
  if (!stream_.registered()) return;
  if (!write_pending_ && queued_bytes() == 0) {
    if (stream_.finishing()) close();
  }
  if (stream_.catching_up()) read_history();  // never inside a fan-out: deliver() ignored it
}

// One write of everything queued. Safe inside the fan-out: on failure it only marks the
// session and posts the close.
void client_session::write_now() {
  while (queued_bytes() != 0 && !write_pending_) {
    bool pending = false;
    error_code ec;
    const std::size_t taken = write(stream_.unsent(), pending, ec);
    if (ec) {
      ++stats_.clients_disconnected_peer;
      SPDLOG_DEBUG("client {} (user {}) write failed: {}", peer_, user_, ec.message());
      stream_.broken();  // no more deliveries; close outside the fan-out
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
    if (oldest_arrival_ != std::chrono::steady_clock::time_point{} && stream_.live()) {
      stats_.delivery_latency.observe(std::chrono::steady_clock::now() - oldest_arrival_);
    }
    stats_.bytes_out += bytes;
    ++stats_.client_writes;
    if (stream_.written(bytes)) oldest_arrival_ = {};
  }
  // An asynchronous completion: carry on from here (a synchronous one returns to write_now).
  if (was_pending) flush();
}

void client_session::finish() {
  if (!registered()) {
    close();
    return;
  }
  if (stream_.has_cursor()) release_reader();
  stream_.finish();  // at shutdown a client in catch-up gets what is queued, not the rest
  drop_spill();
  flush();
}

void client_session::close() {
  if (closed()) return;
  const bool was_registered = stream_.close();
  if (was_registered) hub_.disconnect(user_, *this);
  drop_spill();
  stuck_timer_.cancel();
  retry_timer_.cancel();
  if (expiry_timer_) expiry_timer_->cancel();
  if (reset_) reset_on_close(lowest_socket());
  close_transport(stream_.finishing() && !reset_);
}

void client_session::prepare_socket() { prepare_client_socket(lowest_socket(), hub_.limits().send_buffer_bytes); }

// --- Streams ------------------------------------------------------------------------------

void client_session::begin_stream(stream_epoch epoch) {
  if (!stream_.announce_epoch(epoch)) return;
  if (!awaiting_flush_ && !write_pending_) {
    awaiting_flush_ = true;
    hub_.await_flush(*this);
  }
}

// --- Catch-up and resume ------------------------------------------------------------------

// The stream is in catch-up now.
void client_session::read_history_soon() {
  oldest_arrival_ = {};  // what it reads from history is not live delivery
  // Not from inside the fan-out that got here: what is being applied now is not applied yet.
  asio::post(hub_.executor(), [self = shared_from_this()] { self->read_history(); });
}

// <user>|<last>[|<epoch>]: everything of the user after <last> if history still has it, told
// first in one status line whether it does.
void client_session::resume(const registration& who) {
  if (hub_.limits().resume_wait.count() > 0 && resume_ahead(*who.last, who.epoch, hub_.applied())) {
    wait_for_position(who);
    return;
  }
  resume_now(who);
}

void client_session::resume_now(const registration& who) {
  history_source* history = hub_.history();
  const log_position applied = hub_.applied();
  const sequence_number first = history != nullptr ? history->first_available(applied.epoch).value_or(0) : 0;
  const resume_point at = decide_resume(*who.last, who.epoch, applied, first);
  if (at.after == applied.seq) {
    const auto following = hub_.following(user_);
    begin_resume(at, std::vector<user_id>(following.begin(), following.end()));
    return;
  }
  if (auto following = hub_.following_after(user_, at.after)) {
    begin_resume(at, std::move(*following));
    return;
  }
  // Whom the user followed at `after`, rebuilt from the log (a reader thread): meanwhile no
  // notification is sent; live ones wait in history.
  history->following_at(user_, at.epoch, at.after, [self = shared_from_this(), at](std::optional<std::vector<user_id>> set) {
    if (!self->stream_.awaiting_resume()) return;  // gone meanwhile
    if (set) {
      self->begin_resume(at, std::move(*set));
      return;
    }
    // History cannot tell: the live stream from here, and the client is told.
    const auto now = self->hub_.following(self->user_);
    const log_position applied_now = self->hub_.applied();
    self->begin_resume(resume_point{applied_now.epoch, applied_now.seq, false}, std::vector<user_id>(now.begin(), now.end()));
  });
}

// An edge behind the stream is asked for a position it has yet to apply (its client was on a
// faster edge): it waits until it has, bounded by resume_wait, then resumes as usual (past the
// bound, as any position not reached: `incomplete`, live from here). Meanwhile the client is
// in catch-up without a cursor, so live notifications are left to history.
void client_session::wait_for_position(const registration& who) {
  awaited_ = who;
  hub_.await_applied(*this);
  retry_timer_.expires_after(hub_.limits().resume_wait);
  retry_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || !self->awaited_) return;
    SPDLOG_DEBUG("client {} (user {}): resume position not reached within the wait", self->peer_, self->user_);
    self->end_wait_for_position();
  });
}

void client_session::applied_moved() {
  if (!awaited_ || !stream_.awaiting_resume()) {
    awaited_.reset();
    return;
  }
  if (resume_ahead(*awaited_->last, awaited_->epoch, hub_.applied())) {
    hub_.await_applied(*this);  // not yet
    return;
  }
  retry_timer_.cancel();
  end_wait_for_position();
}

void client_session::end_wait_for_position() {
  const registration who = *awaited_;
  awaited_.reset();
  if (!stream_.awaiting_resume()) return;  // cut off or closed meanwhile
  // Not from inside the applying that moved the stream: what is being applied is not yet.
  asio::post(hub_.executor(), [self = shared_from_this(), who] {
    if (self->stream_.awaiting_resume()) self->resume_now(who);
  });
}

void client_session::begin_resume(const resume_point& at, std::vector<user_id> following) {
  ++(at.complete ? stats_.resumes_complete : stats_.resumes_incomplete);
  stream_.begin_resume(user_, at, std::move(following));
  read_history_soon();
}

void client_session::read_history() {
  history_request request;
  switch (stream_.next_read(hub_.applied(), serial_, request)) {
    case client_stream::read_step::none:
    case client_stream::read_step::wait:  // written() brings it back here
      return;
    case client_stream::read_step::go_live:
      went_live();
      return;
    case client_stream::read_step::read:
      hub_.history()->read(request, [self = shared_from_this()](history_chunk chunk) { self->on_history(std::move(chunk)); });
      return;
    case client_stream::read_step::read_spill:
      hub_.spill()->read(serial_, request.max_bytes,
                         [self = shared_from_this()](spill_store::read_result result) { self->on_spill(std::move(result)); });
      return;
    case client_stream::read_step::queued:
      flush();
      return;
  }
}

void client_session::on_history(history_chunk chunk) {
  std::uint64_t taken = 0;
  switch (stream_.take_history(chunk, hub_.applied(), taken)) {
    case client_stream::chunk_result::ignored:
      return;
    case client_stream::chunk_result::out_of_history: {
      const log_position at = stream_.cursor_position().value_or(log_position{});
      ++stats_.notifications_dropped_closing;
      cut_off(cut_off_reason::out_of_history, stats_.clients_out_of_history,
              fmt::format("catching up at sequence number {} of epoch {}, but history no longer has it: {}", at.seq,
                          at.epoch, chunk.reason.empty() ? "retention removed it" : chunk.reason));
      return;
    }
    case client_stream::chunk_result::retry_later:
      // Applied but not readable yet (a history that lags what was applied): look again soon
      // rather than ask the reader in a tight loop.
      retry_timer_.expires_after(std::chrono::milliseconds(5));
      retry_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->read_history();
      });
      return;
    case client_stream::chunk_result::taken:
      stats_.notifications_delivered += taken;
      stats_.history_notifications += taken;
      flush();  // writes, and reads on (read_history) or goes live
      return;
  }
}

// The stream has switched to live: the next live notification follows the last read.
void client_session::went_live() {
  release_reader();
  drop_spill();  // read back to its end: its file is closed until it spills again
  ++stats_.catch_up_rejoined;
  SPDLOG_DEBUG("client {} (user {}) caught up", peer_, user_);
  flush();  // what history (or a status line) queued last
}

void client_session::release_reader() {
  if (hub_.history() != nullptr) hub_.history()->release(serial_);
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
  if (ec || !stream_.registered() || !write_pending_) return;
  if (peer_taken() != taken_at_arming_) {
    arm_stuck_timer();  // it took bytes since: watch on from here
    return;
  }
  cut_off(cut_off_reason::stuck, stats_.clients_disconnected_stuck,
          fmt::format("stuck: it took no byte for clientWriteTimeoutMs ({} ms), {} bytes waiting",
                      hub_.limits().write_timeout.count(), queued_bytes()));
}

std::uint64_t client_session::peer_taken() {
  return tcp_bytes_acked(lowest_socket().native_handle()).value_or(transport_taken_);
}

// --- What the admin endpoints show --------------------------------------------------------

std::uint64_t client_session::behind(sequence_number processed_head) const noexcept {
  return stream_.behind(processed_head, hub_.applied().epoch);
}

connection_info client_session::info(sequence_number processed_head) const {
  connection_info out;
  out.user = user_;
  out.registered = registered();
  out.remote = peer_;
  out.connected_since_ms = connected_since_ms_;
  out.queued_bytes = queued_bytes();
  out.notifications = stream_.notifications();
  out.last_sequence = stream_.last_sent();
  out.behind = behind(processed_head);
  out.transport = transport_;
  out.mode = !stream_.catching_up() ? "live" : stream_.spilling() ? "spill" : "catch-up";
  return out;
}

}  // namespace eventserver
