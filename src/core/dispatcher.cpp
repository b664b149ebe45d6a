#include "eventserver/core/dispatcher.hpp"

#include <cstdint>

#include <spdlog/spdlog.h>

namespace eventserver {

namespace {
// A flood of bad lines costs at most this many warnings per second per kind.
constexpr std::size_t warn_burst = 5;
constexpr std::chrono::seconds warn_interval{1};

// The line a no-op keeps in the log, padded as the sequencer's lines are.
constexpr char empty_line_storage[line_ref::readable_margin] = "\r\n";
constexpr line_ref empty_line{empty_line_storage, 2, sizeof empty_line_storage};

// What offer_sequenced checks before it takes anything: an events batch is exactly `count`
// lines each ending in "\r\n", a skip has no body, and the numbers stay within 64 bits.
bool well_formed(const sequenced_batch& batch) noexcept {
  if (batch.first_seq == 0 || batch.first_seq - 1 > UINT64_MAX - batch.count) return false;
  if (batch.type == sequenced_batch::kind::skipped) return batch.body.empty();
  std::uint64_t lines = 0;
  for (std::string_view rest = batch.body; !rest.empty(); ++lines) {
    const std::size_t end = rest.find('\n');
    if (end == std::string_view::npos || end == 0 || rest[end - 1] != '\r') return false;
    rest.remove_prefix(end + 1);
  }
  return lines == batch.count;
}
}  // namespace

dispatcher::dispatcher(const stream_settings& settings, stream_counters& stats)
    : stats_(stats),
      max_pending_(settings.max_pending_events),
      sequencer_(settings.max_pending_events),
      changes_(settings.recent_graph_changes),
      new_stream_(settings.new_stream),
      router_(stats),
      gaps_(settings.gap_timeout),
      no_sequence_warnings_(warn_burst, warn_interval),
      bad_body_warnings_(warn_burst, warn_interval),
      duplicate_warnings_(warn_burst, warn_interval),
      stale_warnings_(warn_burst, warn_interval),
      overlong_warnings_(warn_burst, warn_interval),
      window_full_warnings_(warn_burst, warn_interval),
      too_far_warnings_(warn_burst, warn_interval),
      sequenced_warnings_(warn_burst, warn_interval),
      max_sequence_jump_(settings.max_sequence_jump) {
  router_.record_changes(changes_);
}

dispatcher::line_outcome dispatcher::offer_parsed(const parse_result& parsed, line_ref line) {
  if (parsed.status == parse_status::no_sequence) {
    ++stats_.lines_received;
    ++stats_.rejected_no_sequence;
    warn(no_sequence_warnings_, "dropped event line with no readable sequence number", line);
    return line_outcome::consumed;
  }

  const sequence_number seq = parsed.ev.seq;
  // The window is the range of numbers after the awaited one, maxPendingEvents long: a line
  // further ahead waits in its source (TCP pushes back) rather than take a place that the
  // numbers before it will need, so a source racing ahead cannot starve the one holding the
  // awaited number. The awaited number itself always enters (it releases, never holds).
  const sequence_number next = sequencer_.next_expected();
  if (seq > next && (seq - next > sequencer_.max_pending() || sequencer_.full())) return refuse_ahead(seq, line);
  ++stats_.lines_received;

  switch (sequencer_.offer(parsed.ev, line)) {
    case sequencer::offer_result::accepted:
      ++stats_.events_accepted;
      if (parsed.status == parse_status::bad_body) {
        ++stats_.rejected_bad_body;
        warn(bad_body_warnings_, "event line with a bad body: its sequence number is consumed as a no-op", line);
      }
      break;
    case sequencer::offer_result::duplicate:
      ++stats_.rejected_duplicate;
      warn(duplicate_warnings_, "dropped event line whose sequence number is already pending", line);
      break;
    case sequencer::offer_result::stale:
      ++stats_.rejected_stale;
      warn(stale_warnings_, "dropped event line whose sequence number was already processed", line);
      return line_outcome::stale;
  }
  if (sequencer_.ready()) release_ready();
  return line_outcome::consumed;
}

// A line the window cannot take now. Far enough ahead, it is rejected for good: holding it
// would hold back the lines behind it in its source (maxSequenceJump). Otherwise it waits in
// its source, and the stall it may cause is visible (lowest_refused_ feeds the gap monitor).
dispatcher::line_outcome dispatcher::refuse_ahead(sequence_number seq, std::string_view line) {
  const sequence_number next = sequencer_.next_expected();
  if (max_sequence_jump_ != 0 && seq - next > max_sequence_jump_) {
    ++stats_.lines_received;
    ++stats_.rejected_too_far;
    if (const auto suppressed = too_far_warnings_.allow(clock::now())) {
      spdlog::warn("dropped event line more than maxSequenceJump ({}) past the awaited sequence number {}: {}{}",
                   max_sequence_jump_, next, quote_peer_bytes(line), suppressed_note(*suppressed));
    }
    return line_outcome::consumed;
  }
  if (!lowest_refused_ || seq < *lowest_refused_) lowest_refused_ = seq;
  if (window_full_logged_) return line_outcome::window_full;
  window_full_logged_ = true;  // counted and logged once until the window moves, however many refusals
  ++stats_.window_full_pauses;
  if (const auto suppressed = window_full_warnings_.allow(clock::now())) {
    spdlog::warn("reorder window full ({} events pending, waiting for sequence number {}): sequence number {} "
                 "and what follows it in its source wait{}",
                 sequencer_.pending(), next, seq, suppressed_note(*suppressed));
  }
  return line_outcome::window_full;
}

void dispatcher::release_ready() {
  // Two loops, so that the common one carries no branch on whether there is a log.
  const auto released =
      log_ == nullptr ? sequencer_.drain([this](const event& ev, line_ref notification) {
        SPDLOG_TRACE("apply seq {} {} {}->{}", ev.seq, to_string(ev.type), ev.from, ev.to);
        router_.apply(ev, notification);
      })
                      : sequencer_.drain([this](const event& ev, line_ref notification) {
                          SPDLOG_TRACE("log seq {} {} {}->{}", ev.seq, to_string(ev.type), ev.from, ev.to);
                          // A no-op keeps its place in the log as an empty line: its bytes are not kept.
                          log_->append(ev, notification.empty() ? empty_line : notification);
                        });
  stats_.events_processed += released;
  if (released != 0) {
    window_full_logged_ = false;  // the window moved: a refusal is news again
    lowest_refused_.reset();      // refused lines are offered again by their sources
  }
}

void dispatcher::note_overlong(std::uint64_t lines) {
  if (lines == 0) return;
  stats_.rejected_overlong += lines;
  if (const auto suppressed = overlong_warnings_.allow(clock::now())) {
    spdlog::warn("dropped {} event line(s) longer than maxLineBytes{}", lines,
                 suppressed_note(*suppressed));
  }
}

void dispatcher::note_unterminated(std::size_t bytes) {
  if (bytes == 0) return;
  ++stats_.rejected_unterminated;
  spdlog::warn("event source closed in the middle of a line: dropped its last {} byte(s)", bytes);
}

void dispatcher::end_batch(clock::time_point now) {
  gaps_.observe(sequencer_.next_expected(), sequencer_.blocked() || lowest_refused_.has_value(), now);
}

std::optional<sequencer::gap> dispatcher::skip_expired_gap(clock::time_point now) {
  if (!gaps_.expired(now)) return std::nullopt;
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - *gaps_.since());
  auto target = sequencer_.lowest_pending();
  if (lowest_refused_ && (!target || *lowest_refused_ < *target)) target = lowest_refused_;
  if (!target) return std::nullopt;
  const auto skipped = sequencer_.skip_to(*target);
  if (!skipped) return std::nullopt;
  given_up(*skipped);
  if (skipped->first == skipped->last) {
    spdlog::warn("gap timeout: skipped missing sequence number {} after waiting {} ms", skipped->first, waited.count());
  } else {
    spdlog::warn("gap timeout: skipped missing sequence numbers {}..{} after waiting {} ms", skipped->first,
                 skipped->last, waited.count());
  }
  release_ready();
  end_batch(now);
  return skipped;
}

void dispatcher::given_up(const sequencer::gap& skipped) {
  lowest_refused_.reset();
  window_full_logged_ = false;
  if (log_ != nullptr) log_->append_skip(skipped.first, skipped.last);
  ++stats_.gaps_skipped;
  stats_.sequence_numbers_skipped += skipped.last - skipped.first + 1;
}

dispatcher::batch_outcome dispatcher::offer_sequenced(stream_epoch epoch, const sequenced_batch& batch) {
  if (!well_formed(batch)) {
    warn(sequenced_warnings_, "refused a malformed stored batch (its numbers, or a body that is not its count of lines)", batch.body);
    return batch_outcome::malformed;
  }
  if (epoch < epoch_) return batch_outcome::stale;
  if (epoch > epoch_) begin_new_stream(epoch);
  if (batch.count == 0) return batch_outcome::applied;
  const sequence_number next = sequencer_.next_expected();
  if (batch.first_seq > next) return batch_outcome::gap;
  if (batch.last_seq() < next) return batch_outcome::stale;
  if (batch.type == sequenced_batch::kind::skipped) {
    take_skip(batch);
  } else {
    take_events(batch, next);
  }
  return batch_outcome::applied;
}

void dispatcher::take_skip(const sequenced_batch& batch) {
  sequence_number target = batch.last_seq() + 1;
  // Only with lines offered by offer_line as well: the skip stops at the lowest one held.
  if (const auto held = sequencer_.lowest_pending(); held && *held < target) target = *held;
  if (const auto skipped = sequencer_.skip_to(target)) {
    given_up(*skipped);
    release_ready();
  }
}

void dispatcher::take_events(const sequenced_batch& batch, sequence_number next) {
  std::uint64_t taken = 0;
  sequence_number seq = batch.first_seq;
  for (std::string_view rest = batch.body; !rest.empty(); ++seq) {
    const std::size_t end = rest.find('\n');  // well_formed: every line ends in "\r\n"
    const std::string_view payload = rest.substr(0, end - 1);
    rest.remove_prefix(end + 1);
    if (seq < next) continue;  // already processed (a batch delivered again)
    event ev{seq, event_type::no_op, 0, 0};  // "\r\n" alone: a no-op keeps its number
    if (!payload.empty()) {
      const parse_result parsed = parse_event(payload);
      if (parsed.status == parse_status::ok && parsed.ev.seq == seq) {
        ev = parsed.ev;
      } else {
        ++stats_.rejected_bad_body;
        warn(sequenced_warnings_, "stored event line that is not its batch's next event: applied as a no-op", payload);
      }
    }
    if (sequencer_.full()) release_ready();
    if (sequencer_.offer(ev, payload) == sequencer::offer_result::accepted) ++taken;
  }
  stats_.lines_received += taken;
  stats_.events_accepted += taken;
  release_ready();
}

log_pipeline& dispatcher::open_log(log_backend& backend, log_pipeline::limits bounds, log_position durable) {
  owned_log_ = std::make_unique<log_pipeline>(backend, bounds, durable);
  log_ = owned_log_.get();
  epoch_ = log_->epoch();
  return *log_;
}

void dispatcher::recover(stream_epoch epoch, sequence_number applied, follower_graph graph) {
  epoch_ = epoch;
  sequencer_ = sequencer(max_pending_, applied + 1);
  router_.install_graph(std::move(graph));
}

log_position dispatcher::applied() const noexcept {
  if (log_ != nullptr) return log_->durable_position();
  return {epoch_, sequencer_.next_expected() - 1};
}

void dispatcher::apply_durable(clock::time_point now) {
  log_->durable([this, now](const log_batch& batch) {
    if (batch.type() == log_batch::kind::events) {
      stats_.durable_latency.observe(now - batch.arrival(), batch.count());
      applying_arrival_ = batch.arrival();
    }
    apply(batch);
  });
}

void dispatcher::apply(const log_batch& batch) {
  switch (batch.type()) {
    case log_batch::kind::events: {
      const char* line = batch.body();
      std::size_t readable = batch.readable_from_body();  // to the end of its slack
      sequence_number seq = batch.first_seq();
      // A no-op's line is "\r\n" alone; the router notifies nobody of a no-op.
      for (const logged_event& e : batch.events()) {
        const std::uint32_t size = e.size();
        router_.apply(event{seq, e.type(), e.from, e.to}, line_ref(line, size, readable));
        line += size;
        readable -= size;
        ++seq;
      }
      break;
    }
    case log_batch::kind::skipped:
      break;
    case log_batch::kind::epoch_start:
      router_.begin_stream(batch.epoch());
      break;
  }
}

void dispatcher::begin_new_stream(stream_epoch epoch) {
  epoch_ = epoch;
  sequencer_ = sequencer(max_pending_, 1);
  lowest_refused_.reset();
  window_full_logged_ = false;
  gaps_.observe(1, false, clock::now());
  if (log_ == nullptr) {
    router_.begin_stream(epoch_);
    return;
  }
  log_->begin_epoch(epoch_);
  log_->apply_ready_markers([this](const log_batch& batch) { apply(batch); });
}

// A source's line 1 after stale lines only, under newStreamPolicy restart, alone and with
// nothing pending: the new stream begins with it, and takes the stale lines it sent before it
// (a shuffled first batch) as numbers of the new stream.
void dispatcher::start_over(start_over_watch& watch, std::string_view line) {
  const stream_epoch previous = epoch_;
  const sequence_number reached = sequencer_.next_expected() - 1;
  begin_new_stream();
  ++stats_.streams_started;
  spdlog::info("new stream: epoch {} begins (a source started over at sequence number 1; epoch {} ended at {})",
               epoch_, previous, reached);
  offer_line(line);
  std::uint64_t retaken = 1;
  for (std::string_view kept = watch.stale_lines_; !kept.empty(); ++retaken) {
    const auto end = kept.find('\n');
    offer_line(kept.substr(0, end));
    kept.remove_prefix(end + 1);
  }
  watch.stop();
  // Each was counted as received and stale when it came, and as received again just now.
  stats_.rejected_stale -= retaken;
  stats_.lines_received -= retaken;
}

void dispatcher::keep_watching(start_over_watch& watch, line_outcome outcome, std::string_view line) {
  // More stale lines than a shuffled first batch holds before its 1: this is no new stream.
  constexpr std::size_t max_kept_stale_bytes = 64 * 1024;
  if (outcome != line_outcome::stale || watch.stale_lines_.size() + line.size() + 1 > max_kept_stale_bytes) {
    watch.stop();
    return;
  }
  watch.stale_lines_.append(line).push_back('\n');
}

void dispatcher::warn(warning_limiter& limiter, std::string_view what, std::string_view line) {
  if (const auto suppressed = limiter.allow(clock::now())) {
    spdlog::warn("{}: {}{}", what, quote_peer_bytes(line), suppressed_note(*suppressed));
  }
}

}  // namespace eventserver
