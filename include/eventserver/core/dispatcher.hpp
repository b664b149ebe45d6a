#pragma once
// The synchronous heart of the daemon: takes raw event lines, applies the input policies
// (SPEC.md), puts events in order and routes them. No sockets, no timers: the I/O layer
// hands it lines and the current time, so every policy can be driven by a unit test.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "eventserver/core/counters.hpp"
#include "eventserver/core/gap_monitor.hpp"
#include "eventserver/core/graph_changes.hpp"
#include "eventserver/core/warning_limiter.hpp"
#include "eventserver/core/log_pipeline.hpp"
#include "eventserver/core/router.hpp"
#include "eventserver/core/sequencer.hpp"
#include "eventserver/core/stream_settings.hpp"

namespace eventserver {

class dispatcher {
 public:
  using clock = std::chrono::steady_clock;

  enum class line_outcome : std::uint8_t {
    consumed,     // processed, or dropped by a policy
    window_full,  // not taken: beyond the reorder window, or the window is full; offer it again later
    stale,        // dropped: its number was already processed (a producer starting over sends these)
    began_stream, // consumed: a source starting over at 1 began a new stream (offer_watched)
  };

  dispatcher(const stream_settings& settings, stream_counters& stats);

  // One event line without its terminator. Never throws; bad input only moves counters.
  line_outcome offer_line(std::string_view line) { return offer_parsed(parse_event(line), line); }
  // The same for a line already parsed (by parse_event, or parse_event_line from a source's
  // buffer): a padded line (a line_reader's) is copied into the sequencer in one move.
  line_outcome offer_parsed(const parse_result& parsed, line_ref line);

  // The lines offered from now on arrived at `arrival` (the read that brought them): what the
  // latency histograms measure from. One call per read, not per line.
  void note_input(clock::time_point arrival) noexcept {
    if (log_ != nullptr) {
      log_->note_input(arrival);
    } else {
      applying_arrival_ = arrival;  // released events are applied at once
    }
  }
  // When the events being applied right now arrived: the oldest of their batch, with a log.
  clock::time_point applying_arrival() const noexcept { return applying_arrival_; }

  // --- Already-numbered input (an edge fed batches as another daemon's log stored them) ---
  enum class batch_outcome : std::uint8_t {
    applied,    // taken (the numbers already processed in it, if any, were left out)
    stale,      // nothing new: an older epoch, or every number in it was already processed
    gap,        // not taken: it starts after the awaited number; the numbers before it are missing
    malformed,  // not taken: its body is not `count` lines each ending in "\r\n", or a skip has one
  };
  // One stored batch of `epoch`: its events are taken with the numbers they carry, in order,
  // without the input policies (the daemon that numbered them applied those). A no-op ("\r\n"
  // alone) keeps its number; a skip batch gives its numbers up. A newer epoch first begins a
  // new stream in it. The batches of a log fed in order give the same notifications as the
  // daemon that wrote it. Not to be mixed with offer_line in one stream; after a batch the
  // caller ends it as a source session does (end_batch, commit_log, log_saturated).
  batch_outcome offer_sequenced(stream_epoch epoch, const sequenced_batch& batch);

  // --- Starting over (newStreamPolicy; docs/protocol.md, "Starting over") ---------------
  // A producer that starts again at 1 once the stream got further sends its shuffled first
  // batch: lines already processed (stale), then its 1. Each source keeps a watch over its
  // first lines; while it is on (until a line is not stale), the source may be starting over.
  class start_over_watch {
   public:
    bool watching() const noexcept { return watching_; }

   private:
    friend class dispatcher;
    void stop() {
      watching_ = false;
      std::string().swap(stale_lines_);
    }
    bool watching_ = true;
    std::string stale_lines_;  // the stale lines so far, '\n'-separated, at most 64 KiB
  };
  // offer_parsed for a source whose watch is on. Under newStreamPolicy restart its line 1,
  // after stale lines only, begins a new stream when nothing is pending and `lone_source()`
  // (no other source is connected: asked only then); the stale lines it sent before its 1
  // are then taken into the new stream (began_stream).
  template <class LoneSource>
  line_outcome offer_watched(start_over_watch& watch, const parse_result& parsed, line_ref line,
                             LoneSource&& lone_source) {
    const line_outcome outcome = offer_parsed(parsed, line);
    if (outcome == line_outcome::window_full || parsed.status == parse_status::no_sequence) return outcome;
    if (outcome == line_outcome::stale && parsed.ev.seq == 1 && may_start_over() && lone_source()) {
      start_over(watch, line);
      return line_outcome::began_stream;
    }
    keep_watching(watch, outcome, line);
    return outcome;
  }

  // Bytes read from the sources.
  void note_bytes_in(std::size_t bytes) noexcept { stats_.bytes_in += bytes; }
  // Lines the reader skipped as longer than maxLineBytes, or cut off by a disconnect.
  void note_overlong(std::uint64_t lines);
  void note_unterminated(std::size_t bytes);

  // After a batch of lines: lets the gap monitor see the state at `now`. The stream is
  // stalled when the awaited number is missing while later ones are held anywhere: pending in
  // the window, or refused as beyond it and waiting in their source's buffer.
  void end_batch(clock::time_point now);
  // Gap timeout policy: if the current gap is older than gapTimeoutMs, skip to the lowest
  // sequence number the daemon holds (pending, or refused and waiting in a source) and
  // release what waited behind it.
  std::optional<sequencer::gap> skip_expired_gap(clock::time_point now);
  // The lowest number refused as beyond the window since the awaited number last moved:
  // its source holds it and offers it again once the window moves.
  std::optional<sequence_number> lowest_refused() const noexcept { return lowest_refused_; }

  // --- The event log ----------------------------------------------------------------------
  // With a log, released events wait in its pipeline until `backend` made them durable, and
  // are applied (graph and routing) only then, by apply_durable(). Without one they are
  // applied as released. Call before the first line; `backend` outlives the dispatcher's
  // use of it. `durable`: where the log stands (the sequence continues after it).
  log_pipeline& open_log(log_backend& backend, log_pipeline::limits bounds, log_position durable);
  // The state recovered at start-up, before any line: the stream continues in `epoch` after
  // `applied`, over `graph`. Without a log, the daemon always starts at epoch 1, number 1.
  void recover(stream_epoch epoch, sequence_number applied, follower_graph graph);
  // The log's backend made its oldest waiting batch durable (at `now`): apply it.
  void apply_durable(clock::time_point now = clock::now());
  // The log had no room and has some again: release what waited in the sequencer.
  void release_waiting() { release_ready(); }
  // End of a batch of input: the log's group commit.
  void commit_log() {
    if (log_ != nullptr) log_->commit();
  }
  // The log has too much waiting for the disk: stop taking input.
  bool log_saturated() const noexcept { return log_ != nullptr && log_->saturated(); }
  const log_pipeline* log() const noexcept { return log_; }
  // The recent changes to the follower graph (for resumes; a snapshot's journal).
  graph_changes& changes() noexcept { return changes_; }
  const graph_changes& changes() const noexcept { return changes_; }

  // --- Streams (epochs) -----------------------------------------------------------------
  stream_epoch epoch() const noexcept { return epoch_; }
  // The position applied: every number up to it of epoch() is applied (and in the log).
  log_position applied() const noexcept;
  // Everything pending was processed and nothing waits: a new stream may begin.
  bool idle() const noexcept { return sequencer_.pending() == 0 && !lowest_refused_; }
  // A new stream: the next epoch, numbering from 1, and (once the log has what came before)
  // an empty follower graph; connected clients stay and are told.
  void begin_new_stream() { begin_new_stream(epoch_ + 1); }
  // The same with the epoch given (an edge follows the epochs its stream carries): `epoch` is
  // later than epoch().
  void begin_new_stream(stream_epoch epoch);

  router& routes() noexcept { return router_; }
  const router& routes() const noexcept { return router_; }
  const sequencer& sequence() const noexcept { return sequencer_; }
  const gap_monitor& gaps() const noexcept { return gaps_; }

 private:
  void release_ready();
  // The cold paths stay out of offer_parsed, so that its common path needs no stack frame
  // for formatting a log line.
  [[gnu::noinline]] line_outcome refuse_ahead(sequence_number seq, std::string_view line);
  [[gnu::noinline]] void warn(warning_limiter& limiter, std::string_view what, std::string_view line);

  void apply(const log_batch& batch);
  bool may_start_over() const noexcept {
    return new_stream_ == new_stream_mode::restart && sequencer_.next_expected() > 1 && idle();
  }
  [[gnu::noinline]] void start_over(start_over_watch& watch, std::string_view line);
  static void keep_watching(start_over_watch& watch, line_outcome outcome, std::string_view line);
  // The gap timeout, or a stored skip, gave up these numbers.
  void given_up(const sequencer::gap& skipped);
  // offer_sequenced's parts: the skip, and the events from `next` on.
  void take_skip(const sequenced_batch& batch);
  void take_events(const sequenced_batch& batch, sequence_number next);

  stream_counters& stats_;
  std::size_t max_pending_;
  sequencer sequencer_;
  log_pipeline* log_ = nullptr;  // owned_log_, or null without a log
  std::unique_ptr<log_pipeline> owned_log_;
  graph_changes changes_;
  new_stream_mode new_stream_;
  stream_epoch epoch_ = 1;
  router router_;
  gap_monitor gaps_;
  warning_limiter no_sequence_warnings_;
  warning_limiter bad_body_warnings_;
  warning_limiter duplicate_warnings_;
  warning_limiter stale_warnings_;
  warning_limiter overlong_warnings_;
  warning_limiter window_full_warnings_;
  warning_limiter too_far_warnings_;
  warning_limiter sequenced_warnings_;
  std::uint64_t max_sequence_jump_;
  std::optional<sequence_number> lowest_refused_;
  bool window_full_logged_ = false;  // counted and logged since the window last moved
  clock::time_point applying_arrival_{};
};

// What an event source may do to the stream: its hub hands out this, not the dispatcher.
class source_input {
 public:
  using line_outcome = dispatcher::line_outcome;
  explicit source_input(dispatcher& stream) noexcept : stream_(&stream) {}

  void note_read(std::size_t bytes) noexcept { stream_->note_bytes_in(bytes); }
  void note_input(dispatcher::clock::time_point arrival) noexcept { stream_->note_input(arrival); }
  line_outcome offer(const parse_result& parsed, line_ref line) { return stream_->offer_parsed(parsed, line); }
  line_outcome offer_line(std::string_view line) { return stream_->offer_line(line); }
  template <class LoneSource>
  line_outcome offer_watched(dispatcher::start_over_watch& watch, const parse_result& parsed, line_ref line,
                             LoneSource&& lone_source) {
    return stream_->offer_watched(watch, parsed, line, lone_source);
  }
  void note_overlong(std::uint64_t lines) { stream_->note_overlong(lines); }
  void note_unterminated(std::size_t bytes) { stream_->note_unterminated(bytes); }
  sequence_number next_expected() const noexcept { return stream_->sequence().next_expected(); }

 private:
  dispatcher* stream_;
};

}  // namespace eventserver
