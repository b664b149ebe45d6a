#include "eventserver/net/event_source_session.hpp"

#include <poll.h>

#include <spdlog/spdlog.h>

#include "eventserver/net/peer.hpp"

namespace eventserver {

namespace {
// A producer is told the durable position at most this often (the newest one each time).
constexpr std::chrono::milliseconds durable_interval{100};
// Large reads keep syscalls and flushes per event low: one 256 KiB read carries ~15k events.
constexpr std::size_t read_chunk_bytes = 256 * 1024;
// Under load, read on (without waiting for the reactor) while the socket has data, up to
// this many chunks per handler. The handler then ends with a flush pass (server::end_batch):
// with the source still ahead, clients are written only per clientWriteBatchBytes or
// clientWriteDelayMs; with nothing more to read, everything queued is written at once, so
// no latency is added when the source is quiet. (Before that policy, when every handler
// flushed every client, 2 chunks cut system time 0.68 -> ~0.35 s at the harness defaults.)
constexpr int chunks_per_handler = 2;

}  // namespace

event_source_session::event_source_session(tcp::socket socket, source_hub& hub)
    : socket_(std::move(socket)),
      hub_(hub),
      reader_(hub.max_line_bytes(), read_chunk_bytes),
      peer_(describe_peer(socket_)),
      durable_timer_(socket_.get_executor()) {}

event_source_session::~event_source_session() { hub_.source_closed(*this); }

void event_source_session::start() {
  hub_.source_opened(*this);
  error_code ignored;
  socket_.non_blocking(true, ignored);  // for the synchronous read-ahead in process()
  spdlog::info("event source connected from {} (resuming at sequence number {})", peer_,
               hub_.input().next_expected());
  do_read();
}

void event_source_session::do_read() {
  if (read_pending_ || peer_done_ || stopped_) return;
  read_pending_ = true;
  const std::span<char> room = reader_.prepare();
  read_size_ = room.size();
  socket_.async_read_some(asio::buffer(room.data(), room.size()),
                          [self = shared_from_this()](const error_code& ec, std::size_t bytes) {
                            self->on_read(ec, bytes);
                          });
}

void event_source_session::on_read(const error_code& ec, std::size_t bytes) {
  read_pending_ = false;
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    peer_done_ = true;  // the lines already buffered are still processed
    peer_error_ = ec;
  } else {
    hub_.input().note_read(bytes);
    reader_.commit(bytes);
    last_read_filled_ = bytes == read_size_;
    read_at_ = std::chrono::steady_clock::now();
  }
  process();  // also while paused: the new bytes may hold the awaited number
}

void event_source_session::process() {
  source_input input = hub_.input();
  bool more_to_read = false;  // the source is ahead of us: worth holding client writes back
  for (int chunk = 1;; ++chunk) {
    input.note_input(read_at_);  // once per read: the clock is read by the read, not per line
    switch (offer_lines(input)) {
      case held::no:
        break;
      case held::by_window:
        end_batch(true);  // stalled: as after a read that emptied the socket
        wait_for_room();
        return;
      case held::by_log:
        end_batch(false);  // the input is not idle, only held back: client writes stay coalesced
        wait_for_log();
        return;
    }
    if (chunk == chunks_per_handler) {
      more_to_read = last_read_filled_;  // not known for sure, but likely when it was
      break;
    }
    if (read_pending_ || peer_done_) break;
    // The log has too much waiting for the disk: read no more until it has room. The input
    // is not idle, only held back.
    if (hub_.input_blocked()) {
      more_to_read = true;
      break;
    }
    error_code ec;
    const std::span<char> room = reader_.prepare();
    const std::size_t bytes = socket_.read_some(asio::buffer(room.data(), room.size()), ec);
    if (ec == asio::error::would_block) break;
    if (ec) {
      peer_done_ = true;
      peer_error_ = ec;
      break;
    }
    input.note_read(bytes);
    reader_.commit(bytes);
    last_read_filled_ = bytes == room.size();
    read_at_ = std::chrono::steady_clock::now();
  }
  end_batch(!more_to_read);
  if (peer_done_) {
    finish();
  } else if (hub_.input_blocked()) {
    wait_for_log();
  } else {
    do_read();
  }
}

// Offers every buffered line (the hot loop). Stops early when the next line cannot enter the
// window, or every 1,024 lines when the log has filled its batches with what they released:
// the rest then waits in the buffer (bounded memory) and is read on once there is room.
event_source_session::held event_source_session::offer_lines(source_input& input) {
  parse_result parsed;
  line_ref line;  // padded: the reader's slack (the sequencer copies it in one move)
  // The connection's first lines: until one is not stale, this may be a producer starting over.
  while (start_over_.watching()) {
    if (!next_event_line(reader_, parsed, line)) return held::no;
    if (parsed.status == parse_status::no_sequence && line.view() == "durable?") {
      ask_for_durable();
      continue;
    }
    const auto outcome = input.offer_watched(start_over_, parsed, line, [this] { return hub_.lone_source(*this); });
    if (outcome == dispatcher::line_outcome::window_full) {
      if (!retry_behind_the_window()) return held::by_window;
      continue;
    }
    ++lines_;
    if (outcome == dispatcher::line_outcome::began_stream) hub_.stream_began();
  }
  while (next_event_line(reader_, parsed, line)) {
    if (parsed.status == parse_status::no_sequence && line.view() == "durable?") [[unlikely]] {
      ask_for_durable();
      continue;
    }
    if (input.offer(parsed, line) == dispatcher::line_outcome::window_full) [[unlikely]] {
      if (!retry_behind_the_window()) return held::by_window;
      continue;
    }
    if ((++lines_ & 1023) == 0 && hub_.input_blocked()) [[unlikely]] return held::by_log;
  }
  return held::no;
}

// The last line could not enter the window: it goes back, and the lines behind it that fit
// go in. True when any did (the window may have moved: try the line again).
bool event_source_session::retry_behind_the_window() {
  reader_.unread_last_line();
  return take_lines_that_fit();
}

// The next line cannot enter the window; lines behind it in this session's buffer may (the
// awaited number a few lines on, in a shuffled batch). They go in now, the rest stays in order.
bool event_source_session::take_lines_that_fit() {
  source_input input = hub_.input();
  const std::size_t taken = reader_.take_all([this, &input](std::string_view line) {
    if (line == "durable?") {
      ask_for_durable();
      return true;
    }
    return input.offer_line(line) != dispatcher::line_outcome::window_full;
  });
  lines_ += taken;
  return taken != 0;
}

// Nothing this session holds can enter. It waits for room in the window; meanwhile it reads
// on while its buffer has room, since the awaited number may be in bytes not read yet.
void event_source_session::wait_for_room() {
  if (!paused_) {
    paused_ = true;
    hub_.pause_source(shared_from_this());
  }
  if (reader_.free_bytes() != 0) do_read();
}

// The log has too much waiting for the disk: read no more until it has room (TCP pushes back).
void event_source_session::wait_for_log() {
  if (paused_) return;
  paused_ = true;
  hub_.pause_source(shared_from_this());
}

void event_source_session::ask_for_durable() {
  if (wants_durable_) return;
  wants_durable_ = true;
  hub_.want_durable(*this);
}

// The producer is told the newest durable position, at most every durable_interval: one line
// at a time, written without blocking; a position that cannot go at once waits (only the
// newest) for the socket or the interval. So a producer that stops reading costs one line.
void event_source_session::note_durable(log_position position) {
  if (!wants_durable_ || stopped_) return;
  latest_durable_ = position;
  send_durable();
}

void event_source_session::send_durable() {
  if (durable_write_pending_ || durable_timer_armed_ || !latest_durable_ || latest_durable_ == sent_durable_) return;
  const auto now = std::chrono::steady_clock::now();
  if (sent_durable_ && now < durable_sent_at_ + durable_interval) {
    durable_timer_armed_ = true;
    durable_timer_.expires_at(durable_sent_at_ + durable_interval);
    durable_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      self->durable_timer_armed_ = false;
      if (!ec) self->send_durable();
    });
    return;
  }
  durable_line_ = fmt::format("durable|{}|{}\r\n", latest_durable_->epoch, latest_durable_->seq);
  sent_durable_ = latest_durable_;
  durable_sent_at_ = now;
  write_durable();
}

void event_source_session::write_durable() {
  error_code ec;
  const std::size_t written = socket_.write_some(asio::buffer(durable_line_), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return;  // the read side sees the end
  durable_line_.erase(0, written);
  if (durable_line_.empty()) {
    send_durable();  // a newer position may have come meanwhile
    return;
  }
  durable_write_pending_ = true;
  socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const error_code& wait_ec) {
    self->durable_write_pending_ = false;
    if (!wait_ec && !self->stopped_) self->write_durable();
  });
}

void event_source_session::end_batch(bool input_idle) {
  report_overlong();
  hub_.end_batch(input_idle);
}

void event_source_session::finish() {
  if (finished_) return;
  finished_ = true;
  hub_.input().note_unterminated(reader_.buffered_bytes());
  if (peer_error_ == asio::error::eof) {
    spdlog::info("event source {} disconnected after {} lines", peer_, lines_);
  } else {
    spdlog::warn("event source {} failed after {} lines: {}", peer_, lines_, peer_error_.message());
  }
}

void event_source_session::resume() {
  paused_ = false;
  if (!stopped_) process();
}

void event_source_session::stop() {
  stopped_ = true;
  durable_timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
}

bool event_source_session::peer_has_left() {
  if (stopped_ || peer_done_) return true;
  pollfd probe{};
  probe.fd = socket_.native_handle();
  probe.events = POLLRDHUP;
  return ::poll(&probe, 1, 0) == 1 && (probe.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void event_source_session::report_overlong() {
  const auto total = reader_.overlong_lines();
  hub_.input().note_overlong(total - overlong_reported_);
  overlong_reported_ = total;
}

}  // namespace eventserver
