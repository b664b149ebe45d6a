#include "eventserver/core/dispatcher.hpp"

#include <spdlog/spdlog.h>

namespace eventserver {

namespace {
// A flood of bad lines costs at most this many warnings per second per kind.
constexpr std::size_t warn_burst = 5;
constexpr std::chrono::seconds warn_interval{1};

// The line a no-op keeps in the log, padded: the log copies readable_bytes from a line's start.
constexpr char empty_line_storage[log_batch::readable_bytes] = "\r\n";
constexpr std::string_view empty_line{empty_line_storage, 2};
}  // namespace

dispatcher::dispatcher(const stream_settings& settings, counters& stats)
    : stats_(stats),
      max_pending_(settings.max_pending_events),
      sequencer_(settings.max_pending_events),
      router_(stats),
      gaps_(settings.gap_timeout),
      no_sequence_log_(warn_burst, warn_interval),
      bad_body_log_(warn_burst, warn_interval),
      duplicate_log_(warn_burst, warn_interval),
      stale_log_(warn_burst, warn_interval),
      overlong_log_(warn_burst, warn_interval),
      window_full_log_(warn_burst, warn_interval),
      too_far_log_(warn_burst, warn_interval),
      max_sequence_jump_(settings.max_sequence_jump) {}

dispatcher::line_outcome dispatcher::offer_parsed(const parse_result& parsed, std::string_view line,
                                                  std::size_t readable) {
  if (parsed.status == parse_status::no_sequence) {
    ++stats_.lines_received;
    ++stats_.rejected_no_sequence;
    warn(no_sequence_log_, "dropped event line with no readable sequence number", line);
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

  switch (sequencer_.offer(parsed.ev, line, readable)) {
    case sequencer::offer_result::accepted:
      ++stats_.events_accepted;
      if (parsed.status == parse_status::bad_body) {
        ++stats_.rejected_bad_body;
        warn(bad_body_log_, "event line with a bad body: its sequence number is consumed as a no-op", line);
      }
      break;
    case sequencer::offer_result::duplicate:
      ++stats_.rejected_duplicate;
      warn(duplicate_log_, "dropped event line whose sequence number is already pending", line);
      break;
    case sequencer::offer_result::stale:
      ++stats_.rejected_stale;
      warn(stale_log_, "dropped event line whose sequence number was already processed", line);
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
    if (const auto suppressed = too_far_log_.allow(clock::now())) {
      spdlog::warn("dropped event line more than maxSequenceJump ({}) past the awaited sequence number {}: {}{}",
                   max_sequence_jump_, next, quote_for_log(line), suppressed_note(*suppressed));
    }
    return line_outcome::consumed;
  }
  if (!lowest_refused_ || seq < *lowest_refused_) lowest_refused_ = seq;
  if (window_full_logged_) return line_outcome::window_full;
  window_full_logged_ = true;  // counted and logged once until the window moves, however many refusals
  ++stats_.window_full_pauses;
  if (const auto suppressed = window_full_log_.allow(clock::now())) {
    spdlog::warn("reorder window full ({} events pending, waiting for sequence number {}): sequence number {} "
                 "and what follows it in its source wait{}",
                 sequencer_.pending(), next, seq, suppressed_note(*suppressed));
  }
  return line_outcome::window_full;
}

void dispatcher::release_ready() {
  // Two loops, so that the common one carries no branch on whether there is a log.
  const auto released =
      log_ == nullptr ? sequencer_.drain([this](const event& ev, std::string_view notification) {
        SPDLOG_TRACE("apply seq {} {} {}->{}", ev.seq, to_string(ev.type), ev.from, ev.to);
        router_.apply(ev, notification, sequencer::readable_bytes);
      })
                      : sequencer_.drain([this](const event& ev, std::string_view notification) {
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
  if (const auto suppressed = overlong_log_.allow(clock::now())) {
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
  lowest_refused_.reset();
  window_full_logged_ = false;
  if (log_ != nullptr) log_->append_skip(skipped->first, skipped->last);
  ++stats_.gaps_skipped;
  stats_.sequence_numbers_skipped += skipped->last - skipped->first + 1;
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

void dispatcher::attach_log(log_pipeline& log) {
  log_ = &log;
  epoch_ = log.epoch();
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
      sequence_number seq = batch.first_seq();
      // A no-op's line is "\r\n" alone; the router notifies nobody of a no-op.
      for (const logged_event& e : batch.events()) {
        const std::uint32_t size = e.size();
        router_.apply(event{seq, e.type(), e.from, e.to}, std::string_view(line, size), log_batch::readable_bytes);
        line += size;
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

void dispatcher::begin_new_stream() {
  ++epoch_;
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

void dispatcher::warn(log_limiter& limiter, std::string_view what, std::string_view line) {
  if (const auto suppressed = limiter.allow(clock::now())) {
    spdlog::warn("{}: {}{}", what, quote_for_log(line), suppressed_note(*suppressed));
  }
}

}  // namespace eventserver
