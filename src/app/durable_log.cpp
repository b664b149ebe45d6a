#include "eventserver/app/durable_log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "eventserver/storage/recovery.hpp"
#include "eventserver/storage/storage_error.hpp"

namespace eventserver {

namespace {

using steady = std::chrono::steady_clock;

// A batch's body is sealed at this size; this many batches may wait for the disk before the
// event sources are paused. 16 KiB is ~1,000 harness events (body and event array ~40 KB);
// four waiting keep up to 64 KiB with the disk, which one round of writing takes in one
// pwritev and, with logFsync always, one fsync: 200 MB/s at 0.3 ms an fsync, more than the
// daemon takes in.
constexpr log_pipeline::limits pipeline_limits{16 * 1024, 8};
// Users encoded per turn of the event loop while a snapshot is taken.
constexpr std::size_t snapshot_users_per_step = 512;
// Encoded bytes handed to the writing thread at once.
constexpr std::size_t snapshot_write_bytes = 256 * 1024;

}  // namespace

durable_log::durable_log(asio::io_context& io, const config& settings, dispatcher& dispatch, graph_changes& changes,
                         hooks on)
    : io_(io), settings_(settings), dispatch_(dispatch), changes_(changes), on_(std::move(on)), recovery_(io) {}

history_source* durable_log::history() noexcept {
  if (memory_) return memory_.get();
  return history_.get();
}

durable_log::~durable_log() {
  history_.reset();
  if (file_) file_->stop(steady::now() + settings_.shutdown_timeout);
}

void durable_log::start() {
  if (settings_.data_dir.empty()) {
    // No disk: the pipeline's batches are "durable" at once and kept in memory for history.
    memory_ = std::make_unique<memory_history>(io_, settings_.history_bytes, [this] { on_memory_durable(); });
    pipeline_ = &dispatch_.open_log(*memory_, pipeline_limits, log_position{1, 0});
    on_.recovered();
    return;
  }
  // The directory must exist and be writable: a daemon that cannot keep its log says so at
  // once rather than run without one. A missing one is made when its parent exists (as
  // nats-server's -sd, Prometheus's storage path and Kafka's log.dirs are).
  struct stat info {};
  if (::stat(settings_.data_dir.c_str(), &info) != 0 && errno == ENOENT &&
      ::mkdir(settings_.data_dir.c_str(), 0750) == 0) {
    spdlog::info("event log: created the data directory {}", settings_.data_dir);
  }
  if (::stat(settings_.data_dir.c_str(), &info) != 0) {
    throw config_error("\"dataDir\" " + settings_.data_dir + ": " + std::strerror(errno) +
                       " (its parent must exist; or set \"dataDir\" to \"\" to run without an event log)");
  }
  if (!S_ISDIR(info.st_mode)) throw config_error("\"dataDir\" " + settings_.data_dir + ": not a directory");
  if (::access(settings_.data_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    throw config_error("\"dataDir\" " + settings_.data_dir + ": not writable: " + std::strerror(errno));
  }
  recovering_ = true;
  spdlog::info("event log: recovering from {}", settings_.data_dir);
  storage::log_options options;
  options.dir = settings_.data_dir;
  options.segment_bytes = settings_.log_segment_bytes;
  recovery_.start([this, options]() -> blocking_job::completion {
    try {
      auto recovered = std::make_shared<storage::recovered_log>(storage::recover_log(options));
      return [this, recovered] { on_recovered(recovered); };
    } catch (const std::exception& e) {
      std::string error = e.what();
      if (error.ends_with("run repair")) error += ": eventserver log repair -data-dir " + options.dir;
      return [this, error] {
        recovering_ = false;
        on_.fatal(error);
      };
    }
  });
}

void durable_log::on_recovered(std::shared_ptr<storage::recovered_log> recovered) {
  for (const auto& note : recovered->directory.notes()) {
    if (note.action == storage::recovery_action::set_aside_snapshot) ++snapshots_set_aside_;
    if (note.action == storage::recovery_action::cut_torn_tail || note.action == storage::recovery_action::cut_damage ||
        note.action == storage::recovery_action::set_aside || note.action == storage::recovery_action::kept_damage ||
        note.action == storage::recovery_action::set_aside_snapshot) {
      spdlog::warn("event log: {}", note.describe());
    } else {
      spdlog::info("event log: {}", note.describe());
    }
  }
  for (const auto& refused : recovered->refused_snapshots) spdlog::warn("event log: snapshot not used: {}", refused);
  const log_position position{recovered->epoch, recovered->last_seq};
  recovery_seconds_ = recovered->seconds;
  spdlog::info("event log: recovered epoch {} at sequence number {} ({} follow edges; snapshot {}, {} events replayed) "
               "in {:.0f} ms",
               position.epoch, position.seq, recovered->graph.edge_count(),
               recovered->snapshot ? std::to_string(recovered->snapshot->seq) : std::string("none"),
               recovered->replayed, recovered->seconds * 1000);
  dispatch_.recover(position.epoch, position.seq, std::move(recovered->graph));
  // The changes the replay made are not kept: over a snapshot written while the stream went on
  // ("fuzzy"), a follow already in it does not show as a change. A resume from before the
  // recovered position asks history, which knows how far a snapshot can be trusted.
  changes_.reset(position.seq);

  storage::file_log_settings file_settings;
  file_settings.fsync = settings_.log_fsync;
  file_settings.fsync_interval = settings_.log_fsync_interval;
  file_settings.retention.retention_bytes = settings_.log_retention_bytes;
  file_settings.retention.retention_age = settings_.log_retention;
  file_ = std::make_unique<storage::file_log>(std::move(recovered->directory), file_settings,
                                              [this](storage::file_log_report report) {
                                                asio::post(io_, [this, report = std::move(report)] { on_report(report); });
                                              });
  pipeline_ = &dispatch_.open_log(*file_, pipeline_limits, position);
  history_ = std::make_unique<storage::history_service>(
      settings_.data_dir, [file = file_.get()] { return file->view(); },
      [this](std::function<void()> f) { asio::post(io_, std::move(f)); },
      storage::history_service::default_reader_buffer_bytes,
      [this, file = file_.get()](storage::damaged_range range) {
        // Arisen since start-up (the disk, or a hand): resumes stop crossing it from now on.
        if (!file->note_damage(range)) return;
        asio::post(io_, [range = std::move(range)] {
          spdlog::warn("event log: history met damage in {} at byte offset {} ({}): sequence numbers {}..{} of epoch "
                       "{} counted lost; a resume across them is told it is incomplete; eventserver log verify "
                       "names every damaged batch",
                       range.file, range.offset, range.reason, range.first_lost, range.last_lost, range.epoch);
        });
      });
  // The next periodic snapshot counts from the one recovered (of this stream), not from 0:
  // otherwise every restart past snapshotEveryEvents would write one at once.
  applied_at_last_snapshot_ =
      recovered->snapshot && recovered->snapshot->epoch == position.epoch ? recovered->snapshot->seq : 0;
  recovering_ = false;
  on_.recovered();
}

void durable_log::on_memory_durable() {
  dispatch_.apply_durable();
  on_.applied();
  if (on_stopped_ && pipeline_->waiting() == 0) finish_shutdown();
}

void durable_log::on_report(const storage::file_log_report& report) {
  if (report.failed) {
    failing_ = report.failed.message();
    spdlog::warn("event log: writing to {} failed: {}; event sources are no longer read until it works again "
                 "(retrying every second)",
                 settings_.data_dir, failing_);
    on_.writing(true);
  }
  if (report.recovered) {
    spdlog::info("event log: writing to {} works again", settings_.data_dir);
    failing_.clear();
    on_.writing(false);
  }
  if (report.snapshot) {
    snapshot_writing_ = false;
    if (report.snapshot->ok) {
      spdlog::info("event log: snapshot {} written in {:.0f} ms (longest pause of the event loop {:.2f} ms)",
                   report.snapshot->detail, report.snapshot->seconds * 1000, last_snapshot_pause_ * 1000);
    } else {
      spdlog::warn("event log: snapshot failed: {}", report.snapshot->detail);
    }
  }
  if (report.durable != 0) {
    for (std::size_t i = 0; i < report.durable; ++i) dispatch_.apply_durable();
    on_.applied();
  }
  if (on_stopped_ && pipeline_->waiting() == 0) finish_shutdown();
}

std::string durable_log::problem() const {
  if (recovering_) return "recovering the event log";
  if (!failing_.empty()) return "writing the event log fails: " + failing_;
  return {};
}

void durable_log::maybe_snapshot() {
  if (!file_ || snapshot_ || snapshot_writing_ || on_stopped_ || settings_.snapshot_every_events == 0) return;
  const std::uint64_t applied = dispatch_.applied().seq;
  if (applied < applied_at_last_snapshot_) applied_at_last_snapshot_ = 0;  // a new stream began
  if (applied - applied_at_last_snapshot_ < settings_.snapshot_every_events) return;
  start_snapshot();
}

void durable_log::start_snapshot() {
  const auto started = steady::now();
  const log_position position = dispatch_.applied();
  snapshot_ = std::make_unique<snapshot_work>(snapshot_work{dispatch_.routes().graph().users(), 0, 0, {}, position,
                                                            storage::snapshot_encoder(position.epoch, position.seq),
                                                            started, 0});
  changes_.start_journal();
  applied_at_last_snapshot_ = position.seq;
  file_->snapshot_begin(position.epoch, position.seq);
  snapshot_->longest_step = std::chrono::duration<double>(steady::now() - started).count();
  asio::post(io_, [this] { continue_snapshot(); });
}

void durable_log::continue_snapshot() {
  if (!snapshot_) return;
  snapshot_work& work = *snapshot_;
  if (dispatch_.epoch() != work.position.epoch) {  // a new stream emptied the graph meanwhile
    abandon_snapshot();
    return;
  }
  const auto started = steady::now();
  const auto& graph = dispatch_.routes().graph();
  const auto journal = changes_.journal();
  for (; work.journal_read < journal.size(); ++work.journal_read) {
    work.since[journal[work.journal_read].from].push_back(journal[work.journal_read]);
  }
  const std::size_t end = std::min(work.users.size(), work.next + snapshot_users_per_step);
  std::vector<user_id> then;
  for (; work.next < end; ++work.next) {
    const user_id user = work.users[work.next];
    const auto changed = work.since.find(user);
    if (changed == work.since.end()) {
      work.encoder.add(user, graph.following(user));
      continue;
    }
    // Newest first, each change since the snapshot's number undone: the list as it was then.
    const auto now = graph.following(user);
    then.assign(now.begin(), now.end());
    for (auto it = changed->second.rbegin(); it != changed->second.rend(); ++it) {
      const auto at = std::lower_bound(then.begin(), then.end(), it->to);
      const bool present = at != then.end() && *at == it->to;
      if (it->added() && present) {
        then.erase(at);
      } else if (!it->added() && !present) {
        then.insert(at, it->to);
      }
    }
    work.encoder.add(user, then);
  }
  const bool done = work.next == work.users.size();
  if (done) {
    changes_.stop_journal();
    work.encoder.finish();
    file_->snapshot_finish(work.encoder.take_output());
  } else if (work.encoder.output_size() >= snapshot_write_bytes) {
    file_->snapshot_write(work.encoder.take_output());
  }
  work.longest_step = std::max(work.longest_step, std::chrono::duration<double>(steady::now() - started).count());
  if (!done) {
    asio::post(io_, [this] { continue_snapshot(); });
    return;
  }
  last_snapshot_pause_ = work.longest_step;
  snapshot_writing_ = true;
  snapshot_.reset();
}

void durable_log::abandon_snapshot() {
  snapshot_.reset();
  changes_.stop_journal();
  file_->snapshot_abandon();
}

void durable_log::shutdown(steady::time_point deadline, std::function<void()> done) {
  if (memory_) {  // nothing to write: what was handed over is applied within a post
    on_stopped_ = std::move(done);
    dispatch_.commit_log();
    if (pipeline_->waiting() == 0) finish_shutdown();
    return;
  }
  if (!file_) {  // still recovering: nothing to write
    done();
    return;
  }
  on_stopped_ = std::move(done);
  deadline_ = deadline;
  dispatch_.commit_log();
  if (pipeline_->waiting() == 0) finish_shutdown();
}

void durable_log::finish_shutdown() {
  auto done = std::move(on_stopped_);
  on_stopped_ = nullptr;
  if (!file_) {
    done();
    return;
  }
  // A last snapshot, so that the next start-up replays nothing. Encoded at once: shutdown
  // has no stream to hold up.
  if (snapshot_) abandon_snapshot();
  const log_position position = dispatch_.applied();
  if (position.seq != 0 && !snapshot_writing_) {
    storage::snapshot_encoder encoder(position.epoch, position.seq);
    dispatch_.routes().graph().for_each(
        [&encoder](user_id user, std::span<const user_id> followed) { encoder.add(user, followed); });
    encoder.finish();
    file_->snapshot_begin(position.epoch, position.seq);
    file_->snapshot_finish(encoder.take_output());
  }
  history_.reset();  // its thread reads the files: stop it before the writer goes
  if (!file_->stop(deadline_)) {
    spdlog::warn("event log: the disk did not finish writing within shutdownTimeoutMs; stopping without it");
    (void)file_.release();  // its thread still runs and uses it: leave it to the process exit
  } else {
    spdlog::info("event log: closed at epoch {} sequence number {}", position.epoch, position.seq);
  }
  done();
}

log_status durable_log::status() const {
  log_status out;
  out.enabled = file_ != nullptr || recovering_;
  out.history_bytes = memory_ ? memory_->bytes() : 0;
  out.recovering = recovering_;
  out.failing = failing_;
  out.recovery_seconds = recovery_seconds_;
  const log_position applied = dispatch_.applied();
  out.durable_seq = applied.seq;
  out.epoch = applied.epoch;
  if (!file_) return out;
  const storage::file_log_status s = file_->status();
  out.bytes = s.bytes;
  out.segments = s.segments;
  out.batches_waiting = pipeline_->waiting();
  out.batches_written = s.batches_written;
  out.bytes_written = s.bytes_written;
  out.write_errors = s.write_errors;
  out.fsyncs = s.fsyncs;
  out.fsync_seconds_sum = s.fsync_seconds_sum;
  for (std::size_t i = 0; i < storage::fsync_bucket_count; ++i) out.fsync_buckets.emplace_back(storage::fsync_buckets[i], s.fsync_le[i]);
  out.segments_deleted = s.segments_deleted;
  out.snapshots = s.snapshots;
  out.snapshots_set_aside = snapshots_set_aside_;
  out.damaged_ranges = s.damaged_ranges;
  out.damaged_numbers = s.damaged_numbers;
  if (history_) out.resumable_from = history_->first_available(applied.epoch);
  out.snapshots_written = s.snapshots_written;
  out.snapshot_failures = s.snapshot_failures;
  out.last_snapshot_seconds = s.last_snapshot_seconds;
  out.last_snapshot_pause_seconds = last_snapshot_pause_;
  if (s.last_snapshot_at) {
    out.snapshot_age_seconds =
        std::chrono::duration<double>(std::chrono::system_clock::now() - *s.last_snapshot_at).count();
  }
  return out;
}

}  // namespace eventserver
