#include "eventserver/net/client_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "eventserver/core/event.hpp"

namespace eventserver {

namespace {
// Buffers that grew during a burst are released once drained, so an idle client costs
// little however busy it once was.
constexpr std::size_t keep_buffer_capacity = 64 * 1024;

std::string describe_peer(const tcp::socket& socket) {
  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return remote.address().to_string() + ":" + std::to_string(remote.port());
}

void release_if_large(send_buffer& buffer) {
  if (buffer.capacity() > keep_buffer_capacity) buffer.release();
}
}  // namespace

client_session::client_session(tcp::socket socket, client_hub& hub)
    : max_queue_bytes_(hub.limits().max_queue_bytes),
      write_batch_bytes_(std::min(hub.limits().write_batch_bytes, max_queue_bytes_)),
      hub_(hub),
      stats_(hub.stats()),
      socket_(std::move(socket)),
      handshake_timer_(socket_.get_executor()),
      peer_(describe_peer(socket_)),
      serial_(stats_.clients_accepted),
      connected_since_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()) {}

client_session::~client_session() { hub_.client_closed(*this); }

void client_session::start() {
  hub_.client_opened(*this);
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);  // writes are already coalesced
  socket_.non_blocking(true, ignored);               // writes are synchronous and must not block

  handshake_timer_.expires_after(hub_.limits().handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_handshake_timeout(ec); });
  // +2: the id line may be maxLineBytes long plus its "\r\n".
  asio::async_read_until(socket_, asio::dynamic_buffer(handshake_buffer_, hub_.limits().max_line_bytes + 2), '\n',
                         [self = shared_from_this()](const error_code& ec, std::size_t bytes) {
                           self->on_handshake(ec, bytes);
                         });
}

void client_session::on_handshake_timeout(const error_code& ec) {
  if (ec || state_ != state::handshake) return;
  reject(stats_.handshake_timeouts, "no id line within clientHandshakeTimeoutMs");
}

void client_session::on_handshake(const error_code& ec, std::size_t bytes) {
  if (state_ != state::handshake) return;  // timed out or shut down meanwhile
  auto& stats = stats_;
  if (ec == asio::error::not_found) {
    reject(stats.handshake_overlong, "id line longer than maxLineBytes");
    return;
  }
  if (ec) {
    ++stats.handshake_peer_closed;
    SPDLOG_DEBUG("client {} left before sending its id: {}", peer_, ec.message());
    close();
    return;
  }
  const std::string_view line = strip_cr(std::string_view(handshake_buffer_).substr(0, bytes - 1));
  const auto id = parse_user_id(line);
  if (!id) {
    reject(stats.handshake_bad_id, "id line is not an unsigned 64-bit decimal number: " + quote_for_log(line));
    return;
  }
  handshake_timer_.cancel();
  std::string().swap(handshake_buffer_);  // anything sent after the id line is ignored
  user_ = *id;
  state_ = state::active;
  ++stats.clients_registered;
  hub_.connect(user_, *this);
  SPDLOG_DEBUG("client {} registered as user {}", peer_, user_);
  do_read();
}

void client_session::reject(std::uint64_t& counter, std::string_view why) {
  ++counter;
  if (const auto suppressed = hub_.handshake_warnings().allow(std::chrono::steady_clock::now())) {
    spdlog::warn("client {} closed during handshake: {}{}", peer_, why,
                 suppressed_note(*suppressed));
  }
  close();
}

void client_session::do_read() {
  socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](const error_code& ec, std::size_t) {
    self->on_read(ec);
  });
}

void client_session::on_read(const error_code& ec) {
  if (!ec) {
    do_read();
    return;
  }
  if (state_ != state::active || ec == asio::error::operation_aborted) return;
  ++stats_.clients_disconnected_peer;
  SPDLOG_DEBUG("client {} (user {}) disconnected: {}", peer_, user_, ec.message());
  close();
}

void client_session::deliver(sequence_number seq, std::string_view notification, std::size_t readable) {
  auto& stats = stats_;
  if (state_ != state::active || finishing_) {
    ++stats.notifications_dropped_closing;
    return;
  }
  const std::size_t needed = notification.size();
  if (queued_bytes() + needed > write_batch_bytes_ && !waiting_writable_) {
    // A full batch goes now, without waiting for the flush pass. This is also the socket's
    // chance before the queue bound below is applied.
    flush();
    if (state_ != state::active) {  // the write failed: the peer is gone
      ++stats.notifications_dropped_closing;
      return;
    }
  }
  if (queued_bytes() + needed > max_queue_bytes_) {
    cut_off_slow(needed);
    return;
  }
  if (queue_.size() + needed > queue_.capacity()) grow_queue(needed);
  queue_.append_short(notification, readable);
  last_queued_seq_ = seq;
  ++notifications_;
  ++stats.notifications_delivered;
  if (!awaiting_flush_ && !waiting_writable_) {
    awaiting_flush_ = true;
    hub_.await_flush(*this);
  }
}

// Doubling, as std::string would, but a queue that stays within its write batch never gets
// more room than the batch: doubling would otherwise leave most clients with nearly twice it.
void client_session::grow_queue(std::size_t needed) {
  const std::size_t wanted = queue_.size() + needed;
  std::size_t capacity = std::max(wanted, 2 * queue_.capacity());
  if (wanted <= write_batch_bytes_) capacity = std::min(capacity, write_batch_bytes_);
  queue_.reserve(capacity);
}

void client_session::cut_off_slow(std::size_t needed) {
  auto& stats = stats_;
  ++stats.clients_disconnected_slow;
  ++stats.notifications_dropped_closing;
  // Rate-limited too: a herd of stuck readers must not flood the log.
  if (const auto suppressed = hub_.slow_client_warnings().allow(std::chrono::steady_clock::now())) {
    spdlog::warn("client {} (user {}) disconnected: slow reader, {} bytes queued + {} would exceed "
                 "maxClientQueueBytes {}{}",
                 peer_, user_, queued_bytes(), needed, max_queue_bytes_, suppressed_note(*suppressed));
  }
  state_ = state::cut_off;
  queue_.release();
  sent_ = 0;
  // We are inside the router's fan-out: leave it before unregistering.
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
}

void client_session::flush_awaited() {
  awaiting_flush_ = false;
  flush();
}

void client_session::flush() {
  if (state_ != state::active || waiting_writable_) return;
  write_now();
  if (state_ != state::active) return;
  if (queued_bytes() == 0) {
    if (finishing_) close();
    return;
  }
  // The socket is full: continue when the client has read some.
  waiting_writable_ = true;
  socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const error_code& ec) {
    self->on_writable(ec);
  });
}

void client_session::on_writable(const error_code& ec) {
  waiting_writable_ = false;
  if (ec) {
    if (state_ == state::active && ec != asio::error::operation_aborted) {
      ++stats_.clients_disconnected_peer;
      close();
    }
    return;
  }
  flush();
}

// One non-blocking write of everything queued. Safe inside the fan-out: on failure it only
// marks the session and posts the close.
void client_session::write_now() {
  if (queued_bytes() == 0) return;
  error_code ec;
  const std::size_t written = socket_.write_some(asio::buffer(queue_.data() + sent_, queued_bytes()), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return;
  if (ec) {
    ++stats_.clients_disconnected_peer;
    SPDLOG_DEBUG("client {} (user {}) write failed: {}", peer_, user_, ec.message());
    state_ = state::cut_off;  // no more deliveries; close outside the fan-out
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
    return;
  }
  auto& stats = stats_;
  stats.bytes_out += written;
  ++stats.client_writes;
  sent_ += written;
  if (sent_ == queue_.size()) {
    queue_.clear();
    sent_ = 0;
    last_sent_seq_ = last_queued_seq_;
    release_if_large(queue_);
  } else if (sent_ > queue_.size() / 2) {
    queue_.consume(sent_);  // keep the unsent tail at the front; amortised by the halving
    sent_ = 0;
  }
}

connection_info client_session::info(sequence_number processed_head) const {
  connection_info out;
  out.user = user_;
  out.registered = state_ == state::active;
  out.remote = peer_;
  out.connected_since_ms = connected_since_ms_;
  out.queued_bytes = queued_bytes();
  out.notifications = notifications_;
  out.last_sequence = last_sent_seq_;
  out.behind = behind(processed_head);
  return out;
}

void client_session::finish() {
  if (state_ != state::active) {
    close();
    return;
  }
  finishing_ = true;
  flush();
}

void client_session::close() {
  if (state_ == state::closed) return;
  const bool was_registered = state_ == state::active || state_ == state::cut_off;
  state_ = state::closed;
  if (was_registered) hub_.disconnect(user_, *this);
  handshake_timer_.cancel();
  error_code ignored;
  if (finishing_) socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace eventserver
