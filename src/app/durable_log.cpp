#include "eventserver/app/durable_log.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "eventserver/cluster/jetstream_event_log.hpp"
#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/file_event_log.hpp"
#include "eventserver/storage/memory_event_log.hpp"
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

cluster::stream_settings cluster_stream_settings(const config& settings) {
  cluster::stream_settings out;
  out.servers = settings.cluster_servers;
  out.creds_file = settings.cluster_creds_file;
  out.name = settings.cluster_stream;
  out.subject = settings.cluster_subject;
  out.replicas = static_cast<int>(settings.cluster_replicas);
  out.duplicates_window = std::chrono::duration_cast<std::chrono::seconds>(settings.cluster_duplicates_window);
  out.timeout = settings.cluster_request_timeout;
  // A batch's body is sealed at pipeline_limits.batch_bytes, or holds one longer line alone.
  out.max_batch_bytes =
      storage::batch_header_size + std::max(pipeline_limits.batch_bytes, settings.max_line_bytes + 2);
  return out;
}

std::unique_ptr<storage::event_log> make_event_log(const config& settings, storage::post_fn post) {
  if (settings.cluster_role == cluster_role_kind::ingest) {
    cluster::jetstream_event_log_settings ingest;
    ingest.stream = cluster_stream_settings(settings);
    return std::make_unique<cluster::jetstream_event_log>(std::move(ingest), std::move(post));
  }
  if (!settings.data_dir.empty()) {
    storage::file_event_log_settings file;
    file.dir = settings.data_dir;
    file.segment_bytes = settings.log_segment_bytes;
    file.writing.fsync = settings.log_fsync;
    file.writing.fsync_interval = settings.log_fsync_interval;
    file.writing.retention.retention_bytes = settings.log_retention_bytes;
    file.writing.retention.retention_age = settings.log_retention;
    file.stop_timeout = settings.shutdown_timeout;
    return std::make_unique<storage::file_event_log>(std::move(file), std::move(post));
  }
  // No disk: the pipeline's batches are "durable" at once and kept in memory for history.
  if (settings.history_bytes > 0) return std::make_unique<storage::memory_event_log>(std::move(post), settings.history_bytes);
  return nullptr;
}

std::unique_ptr<durable_log> durable_log::create(asio::io_context& io, const config& settings, dispatcher& dispatch,
                                                 graph_changes& changes, hooks on) {
  auto log = make_event_log(settings, [&io](std::function<void()> f) { asio::post(io, std::move(f)); });
  if (!log) return nullptr;
  return std::make_unique<durable_log>(io, settings, dispatch, changes, std::move(on), std::move(log));
}

durable_log::durable_log(asio::io_context& io, const config& settings, dispatcher& dispatch, graph_changes& changes,
                         hooks on, std::unique_ptr<storage::event_log> log)
    : io_(io), settings_(settings), dispatch_(dispatch), changes_(changes), on_(std::move(on)), log_(std::move(log)) {}

durable_log::~durable_log() {
  // The log's threads stop while the batches they may still read (the pipeline's) exist.
  log_.reset();
}

history_source* durable_log::history() noexcept { return pipeline_ ? log_->history() : nullptr; }

void durable_log::start() {
  recovering_ = true;
  recovery_work_.emplace(io_.get_executor());
  try {
    log_->start(*this);
  } catch (const storage::storage_error& e) {
    recovering_ = false;
    recovery_work_.reset();
    throw config_error(e.what());
  }
}

void durable_log::note(level severity, std::string_view text) {
  if (severity == level::warning) {
    spdlog::warn("event log: {}", text);
  } else {
    spdlog::info("event log: {}", text);
  }
}

void durable_log::recovery_failed(std::string error) {
  recovering_ = false;
  recovery_work_.reset();
  on_.fatal(std::move(error));
}

void durable_log::recovered(storage::recovered_stream stream) {
  const log_position position = stream.position;
  dispatch_.recover(position.epoch, position.seq, std::move(stream.graph));
  // The changes the replay made are not kept: over a snapshot written while the stream went on
  // ("fuzzy"), a follow already in it does not show as a change. A resume from before the
  // recovered position asks history, which knows how far a snapshot can be trusted.
  changes_.reset(position.seq);
  pipeline_ = &dispatch_.open_log(log_->backend(), pipeline_limits, position);
  // The next periodic snapshot counts from the one recovered (of this stream), not from 0:
  // otherwise every restart past snapshotEveryEvents would write one at once.
  applied_at_last_snapshot_ = stream.snapshot_seq;
  recovering_ = false;
  recovery_work_.reset();
  on_.recovered();
}

void durable_log::reported(const storage::event_log_report& report) {
  if (report.fenced) {
    // Nothing more will come back: a shutdown waits for no batch, and the daemon stops.
    fenced_ = true;
    if (on_.fenced) on_.fenced(log_->problem());
  } else if (report.failing) {
    on_.writing(true);
  }
  if (report.works_again) on_.writing(false);
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
  if (on_stopped_ && (fenced_ || pipeline_->waiting() == 0)) finish_shutdown();
}

std::string durable_log::problem() const {
  if (recovering_) {
    const std::string why = log_->problem();  // an ingest that cannot reach its stream says so
    return why.empty() ? "recovering the event log" : "recovering the event log: " + why;
  }
  return log_->problem();
}

void durable_log::maybe_snapshot() {
  if (!pipeline_ || !log_->takes_snapshots() || snapshot_ || snapshot_writing_ || on_stopped_ ||
      settings_.snapshot_every_events == 0) {
    return;
  }
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
  log_->snapshot_begin(position);
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
    log_->snapshot_finish(work.encoder.take_output());
  } else if (work.encoder.output_size() >= snapshot_write_bytes) {
    log_->snapshot_write(work.encoder.take_output());
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
  log_->snapshot_abandon();
}

void durable_log::shutdown(steady::time_point deadline, std::function<void()> done) {
  if (!pipeline_) {  // still recovering: nothing to write
    done();
    return;
  }
  on_stopped_ = std::move(done);
  deadline_ = deadline;
  dispatch_.commit_log();
  if (fenced_ || pipeline_->waiting() == 0) finish_shutdown();
}

void durable_log::finish_shutdown() {
  auto done = std::move(on_stopped_);
  on_stopped_ = nullptr;
  // A last snapshot, so that the next start-up replays nothing. Encoded at once: shutdown
  // has no stream to hold up.
  if (snapshot_) abandon_snapshot();
  const log_position position = dispatch_.applied();
  if (log_->takes_snapshots() && position.seq != 0 && !snapshot_writing_) {
    storage::snapshot_encoder encoder(position.epoch, position.seq);
    dispatch_.routes().graph().for_each(
        [&encoder](user_id user, std::span<const user_id> followed) { encoder.add(user, followed); });
    encoder.finish();
    log_->snapshot_begin(position);
    log_->snapshot_finish(encoder.take_output());
  }
  log_->stop(position, deadline_);
  done();
}

log_status durable_log::status() const {
  const storage::event_log_status s = log_->status();
  log_status out;
  out.enabled = s.kept;
  out.history_bytes = s.memory_bytes;
  out.recovering = recovering_;
  out.failing = s.failing;
  out.recovery_seconds = s.recovery_seconds;
  const log_position applied = dispatch_.applied();
  out.durable_seq = applied.seq;
  out.epoch = applied.epoch;
  out.bytes = s.bytes;
  out.segments = s.segments;
  out.batches_waiting = pipeline_ ? pipeline_->waiting() : 0;
  out.batches_written = s.batches_written;
  out.bytes_written = s.bytes_written;
  out.write_errors = s.write_errors;
  out.fsyncs = s.fsyncs;
  out.fsync_seconds_sum = s.fsync_seconds_sum;
  out.fsync_buckets = s.fsync_buckets;
  out.segments_deleted = s.segments_deleted;
  out.snapshots = s.snapshots;
  out.snapshots_set_aside = s.snapshots_set_aside;
  out.damaged_ranges = s.damaged_ranges;
  out.damaged_numbers = s.damaged_numbers;
  if (auto* source = log_->history(); source != nullptr && pipeline_) out.resumable_from = source->first_available(applied.epoch);
  out.publishing = s.publishing;
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
