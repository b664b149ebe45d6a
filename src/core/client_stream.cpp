#include "eventserver/core/client_stream.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>

namespace eventserver {

resume_point decide_resume(sequence_number last, std::optional<stream_epoch> epoch, log_position applied,
                           sequence_number first_kept) noexcept {
  // Where delivery continues when history does not reach back to `last`: the live stream.
  resume_point at{applied.epoch, applied.seq, false};
  if (epoch && *epoch != applied.epoch) {
    // Another stream's position: this stream from its oldest notification still kept.
    if (first_kept != 0) at.after = first_kept - 1;
  } else if (last > applied.seq) {
    // A position the daemon never reached (its log lost a tail): live from here.
  } else if (first_kept != 0 && first_kept <= last + 1) {
    at.after = last;
    at.complete = true;
  } else if (first_kept != 0) {
    at.after = first_kept - 1;
  } else if (last == applied.seq) {
    at.complete = true;  // nothing to replay, nothing missed (history empty or none at all)
  }
  return at;
}

bool resume_ahead(sequence_number last, std::optional<stream_epoch> epoch, log_position applied) noexcept {
  if (epoch && *epoch != applied.epoch) return *epoch > applied.epoch;  // a later stream than this one's
  return last > applied.seq;
}

std::size_t whole_lines_within(std::string_view lines, std::size_t max) noexcept {
  if (lines.size() <= max) return lines.size();
  const auto last = lines.rfind('\n', max - 1);
  const auto end = last != std::string_view::npos ? last : lines.find('\n', max);
  return end != std::string_view::npos ? end + 1 : lines.size();
}

client_stream::client_stream(std::size_t max_queue_bytes, std::size_t write_batch_bytes, line_format lines) noexcept
    : max_queue_bytes_(max_queue_bytes),
      write_batch_bytes_(std::min(write_batch_bytes, max_queue_bytes)),
      lines_(lines) {}

namespace {

// The line without its ending ("\r\n", or a bare '\n'): what WebSocket frames as "payload\n".
std::size_t payload_size(line_ref line) noexcept {
  return line.size() - (line.size() >= 2 && line.data()[line.size() - 2] == '\r' ? 2 : 1);
}

}  // namespace

void client_stream::append_lf(line_ref line) {
  // "payload\n": the "\r\n" of the line (or a bare '\n') becomes one '\n'.
  const line_ref payload = line.prefix(payload_size(line));
  if (queue_.size() + payload.size() + 1 > queue_.capacity()) grow_queue(payload.size() + 1);
  queue_.append_short(payload);
  queue_.append("\n");
}

// Doubling, as std::string would, but a queue that stays within its write batch never gets
// more room than the batch: doubling would otherwise leave most clients with nearly twice it.
void client_stream::grow_queue(std::size_t needed) {
  const std::size_t wanted = queue_.size() + needed;
  std::size_t capacity = std::max(wanted, 2 * queue_.capacity());
  if (wanted <= write_batch_bytes_) capacity = std::min(capacity, write_batch_bytes_);
  queue_.reserve(capacity);
}

bool client_stream::written(std::size_t bytes) {
  sent_ += bytes;
  if (sent_ == queue_.size()) {
    queue_.clear();
    sent_ = 0;
    last_sent_seq_ = last_queued_seq_;
    if (queue_.capacity() > keep_buffer_capacity) queue_.release();
    return true;
  }
  if (sent_ > queue_.size() / 2) {
    queue_.consume(sent_);  // keep the unsent tail at the front; amortised by the halving
    sent_ = 0;
  }
  return false;
}

bool client_stream::announce_epoch(stream_epoch epoch) {
  if (!status_lines_) return false;
  const std::string line = fmt::format("epoch|{}\r\n", epoch);
  if (state_ == mode::catching_up && spill_ && !spill_->then) {
    stage(line);  // in order with the notifications kept
    return true;
  }
  if (state_ != mode::live) return false;
  append_status(line);
  return true;
}

void client_stream::begin_resume(user_id user, const resume_point& at, std::vector<user_id> following) {
  append_status(fmt::format("resumed|{}|{}|{}\r\n", at.epoch, at.after, at.complete ? "complete" : "incomplete"));
  last_queued_seq_ = at.after;
  last_sent_seq_ = at.after;
  start_catch_up(user, at.epoch, at.after + 1, std::move(following));
}

bool client_stream::fall_behind(bool has_history, user_id user, stream_epoch epoch, sequence_number seq,
                                std::span<const user_id> following) {
  if (!has_history) {
    cut_off(cut_off_reason::slow);
    return false;
  }
  // From the notification that did not fit: nothing is lost, nothing sent twice.
  start_catch_up(user, epoch, seq, std::vector<user_id>(following.begin(), following.end()));
  return true;
}

void client_stream::start_catch_up(user_id user, stream_epoch epoch, sequence_number next,
                                   std::vector<user_id> following) {
  state_ = mode::catching_up;
  cursor_ = std::make_unique<cursor>(cursor{epoch, next, user_filter(user, std::move(following))});
}

client_stream::read_step client_stream::next_read(log_position applied, std::uint64_t reader,
                                                  history_request& request) {
  if (state_ != mode::catching_up || finishing_) return read_step::none;
  if (spill_) {
    const read_step step = next_spill_read(request);
    if (step != read_step::none || !cursor_) return step;
  }
  if (!cursor_ || cursor_->reading) return read_step::none;
  cursor& at = *cursor_;
  if (at.epoch == applied.epoch && at.next > applied.seq) {
    // Everything applied is queued: the next live notification is the one after it.
    cursor_.reset();
    state_ = mode::live;
    return read_step::go_live;
  }
  const std::size_t room = max_queue_bytes_ - std::min(max_queue_bytes_, queued_bytes());
  if (room < std::min(min_history_read, max_queue_bytes_ / 2)) return read_step::wait;
  request.reader = reader;
  request.epoch = at.epoch;
  request.from = at.next;
  // Never past what was applied: the live stream must not get it after the client did.
  request.until = at.epoch == applied.epoch ? applied.seq : ~sequence_number{0};
  request.max_bytes = std::min(room, max_history_read);
  at.reading = true;
  return read_step::read;
}

client_stream::read_step client_stream::next_spill_read(history_request& request) {
  spill_state& spill = *spill_;
  if (spill.reading) return read_step::none;
  const std::size_t room = max_queue_bytes_ - std::min(max_queue_bytes_, queued_bytes());
  if (spill.stored != 0) {
    if (room < std::min(min_history_read, max_queue_bytes_ / 2)) return read_step::wait;
    request.max_bytes = std::min(room, max_history_read);
    spill.reading = true;
    return read_step::read_spill;
  }
  if (!spill.staged.empty()) {
    if (room < std::min(min_history_read, max_queue_bytes_ / 2)) return read_step::wait;
    const std::size_t take = whole_lines_within(std::string_view(spill.staged.data(), spill.staged.size()), room);
    queue_lines(std::span<const char>(spill.staged.data(), take));
    spill.staged.erase(spill.staged.begin(), spill.staged.begin() + static_cast<std::ptrdiff_t>(take));
    if (spill.staged.empty()) spill.staged.shrink_to_fit();
    return read_step::queued;
  }
  // All read: the log's part next, or live.
  if (spill.then) {
    cursor_ = std::make_unique<cursor>(std::move(*spill.then));
    spill_.reset();
    return read_step::none;  // next_read() goes on with the cursor
  }
  spill_.reset();
  state_ = mode::live;
  return read_step::go_live;
}

client_stream::offer_result client_stream::offer_aside(line_ref line) {
  if (state_ != mode::catching_up) return offer_result::dropped;
  if (!spill_ || spill_->then || finishing_) return offer_result::in_history;
  keep(line);
  return spill_->staged.size() >= spill_block_bytes ? offer_result::block_ready : offer_result::kept;
}

client_stream::offer_result client_stream::past_bound(line_ref line) {
  if (!may_spill_) return offer_result::over_bound;
  state_ = mode::catching_up;
  spill_ = std::make_unique<spill_state>();
  keep(line);
  return offer_result::spilled;
}

void client_stream::keep(line_ref line) {
  stage(line);
  ++notifications_;
  ++spilled_notifications_;
}

void client_stream::stage(line_ref line) {
  std::vector<char>& staged = spill_->staged;
  if (lines_ == line_format::crlf) {
    staged.insert(staged.end(), line.data(), line.data() + line.size());
    return;
  }
  staged.insert(staged.end(), line.data(), line.data() + payload_size(line));
  staged.push_back('\n');
}

std::vector<char> client_stream::take_spill_block() {
  if (!spill_) return {};
  std::vector<char> block = std::move(spill_->staged);
  spill_->staged.clear();
  spill_->stored += block.size();
  return block;
}

void client_stream::spill_refused(std::vector<char> block, user_id user, stream_epoch epoch, sequence_number next,
                                  std::span<const user_id> following) {
  if (!spill_) return;
  spill_->stored -= std::min<std::uint64_t>(spill_->stored, block.size());
  spill_->staged = std::move(block);
  spill_->then.emplace(cursor{epoch, next, user_filter(user, std::vector<user_id>(following.begin(), following.end()))});
}

bool client_stream::take_spill(std::span<const char> bytes) {
  if (!spill_ || state_ != mode::catching_up) return true;  // cut off or finishing meanwhile
  spill_->reading = false;
  if (bytes.empty()) return spill_->stored == 0;
  spill_->stored -= std::min<std::uint64_t>(spill_->stored, bytes.size());
  queue_lines(bytes);
  return true;
}

// Whole lines already in the transport's format; the newest notification among them is the
// last line that begins with its number (status lines begin with a word).
void client_stream::queue_lines(std::span<const char> bytes) {
  if (queue_.size() + bytes.size() > queue_.capacity()) grow_queue(bytes.size());
  std::string_view rest(bytes.data(), bytes.size());
  queue_.append(rest);
  while (!rest.empty()) {
    rest.remove_suffix(1);  // the last line's '\n'
    const auto start = rest.rfind('\n');
    const std::string_view line = start == std::string_view::npos ? rest : rest.substr(start + 1);
    if (const auto bar = line.find('|'); bar != std::string_view::npos) {
      if (const auto seq = parse_u64(line.substr(0, bar))) {
        last_queued_seq_ = *seq;
        return;
      }
    }
    rest = start == std::string_view::npos ? std::string_view{} : rest.substr(0, start + 1);
  }
}

client_stream::chunk_result client_stream::take_history(const history_chunk& chunk, log_position applied,
                                                         std::uint64_t& taken) {
  taken = 0;
  if (state_ != mode::catching_up || !cursor_) return chunk_result::ignored;
  cursor& at = *cursor_;
  at.reading = false;
  if (chunk.result != history_chunk::outcome::ok) return chunk_result::out_of_history;
  if (chunk.runs.empty()) {
    if (at.epoch != applied.epoch) {
      // The end of an older stream: the next one, from its start.
      ++at.epoch;
      at.next = 1;
      at.filter = user_filter(at.filter.user(), {});
      if (status_lines_) append_status(fmt::format("epoch|{}\r\n", at.epoch));
    } else if (at.next <= applied.seq) {
      return chunk_result::retry_later;  // a history that lags what was applied
    }
  }
  for (const history_run& run : chunk.runs) {
    if (run.first != at.next) break;  // not the run asked for: read again from where we are
    // Only this user's lines, found without parsing the rest (core/user_filter.hpp).
    at.filter.scan(run.lines, run.first, [this, &taken](sequence_number seq, std::string_view line) {
      append_line(line);
      last_queued_seq_ = seq;
      ++taken;
    });
    at.next = run.first + run.count;
  }
  notifications_ += taken;
  history_notifications_ += taken;
  return chunk_result::taken;
}

std::optional<log_position> client_stream::cursor_position() const noexcept {
  if (!cursor_) return std::nullopt;
  return log_position{cursor_->epoch, cursor_->next};
}

void client_stream::finish() noexcept {
  finishing_ = true;
  cursor_.reset();
  spill_.reset();  // at shutdown a client in catch-up gets what is queued, not the rest
  if (state_ == mode::catching_up) state_ = mode::live;
}

void client_stream::cut_off(cut_off_reason why) noexcept {
  state_ = mode::cut_off;
  cut_reason_ = why;
  spill_.reset();
  queue_.release();
  sent_ = 0;
}

bool client_stream::close() noexcept {
  const bool was_registered = state_ == mode::live || state_ == mode::catching_up || state_ == mode::cut_off;
  state_ = mode::closed;
  return was_registered;
}

std::uint64_t client_stream::behind(sequence_number processed_head, stream_epoch epoch) const noexcept {
  if (spill_ && !cursor_) return processed_head > last_sent_seq_ ? processed_head - last_sent_seq_ : 0;
  if (cursor_ && cursor_->epoch == epoch) {
    return processed_head >= cursor_->next ? processed_head - cursor_->next + 1 : 0;
  }
  return queued_bytes() == 0 || processed_head < last_sent_seq_ ? 0 : processed_head - last_sent_seq_;
}

}  // namespace eventserver
