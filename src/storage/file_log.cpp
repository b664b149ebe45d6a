#include "eventserver/storage/file_log.hpp"

#include <pthread.h>

#include <algorithm>
#include <cassert>

#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/file_io.hpp"
#include "eventserver/storage/file_names.hpp"

namespace eventserver::storage {

namespace {
using steady = std::chrono::steady_clock;

batch_kind stored_kind(log_batch::kind kind) {
  return kind == log_batch::kind::skipped ? batch_kind::skipped : batch_kind::events;
}

file_log_report durable_report(std::size_t batches) {
  file_log_report report;
  report.durable = batches;
  return report;
}
file_log_report failed_report(std::error_code failure) {
  file_log_report report;
  report.failed = failure;
  return report;
}
file_log_report recovered_report() {
  file_log_report report;
  report.recovered = true;
  return report;
}
file_log_report snapshot_report(file_log_report::snapshot_result result) {
  file_log_report report;
  report.snapshot = std::move(result);
  return report;
}
}  // namespace

file_log::file_log(log_directory directory, file_log_settings settings, notify on_report)
    : directory_(std::move(directory)),
      dir_name_(directory_.dir()),
      settings_(settings),
      on_report_(std::move(on_report)) {
  if (!directory_.snapshots_at_open().empty()) {
    const snapshot_file& newest = directory_.snapshots_at_open().front();
    status_.last_snapshot_epoch = newest.epoch;
    status_.last_snapshot_seq = newest.seq;
    status_.last_snapshot_at = newest.mtime;
  }
  for (const snapshot_file& snapshot : directory_.snapshots_at_open()) {
    view_.snapshots.push_back({snapshot.epoch, snapshot.seq});
  }
  prune_snapshots();  // no thread yet: snapshots an older version of the daemon kept
  refresh_status();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "eventserver-log");  // in top -H and perf: the disk's share
    run();
  });
}

file_log::~file_log() {
  if (thread_.joinable()) stop(steady::now() + std::chrono::seconds(5));
  if (thread_.joinable()) thread_.detach();  // stop() gave up on a stuck disk
}

std::size_t file_log::header_bytes() const noexcept { return batch_header_size; }

namespace {
// Queued batches that start a round without waiting for flush().
constexpr std::size_t batches_worth_a_round = 5;
}  // namespace

void file_log::submit(log_batch& batch) {
  assert(batch.header_bytes() == batch_header_size);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    jobs_.emplace_back(&batch);
    ++queued_batches_;
    // A thread in the middle of a round looks at the queue again when it ends.
    wake = idle_ && queued_batches_ >= batches_worth_a_round;
  }
  if (wake) wake_.notify_one();
}

void file_log::flush() {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    flush_asked_ = true;
    wake = idle_;
  }
  if (wake) wake_.notify_one();
}

void file_log::snapshot_begin(stream_epoch epoch, sequence_number seq) {
  {
    std::lock_guard lock(mutex_);
    jobs_.emplace_back(snapshot_begin_job{epoch, seq});
  }
  wake_.notify_one();
}

void file_log::snapshot_write(std::string bytes) {
  {
    std::lock_guard lock(mutex_);
    jobs_.emplace_back(snapshot_write_job{std::move(bytes), snapshot_write_job::step::more});
  }
  wake_.notify_one();
}

void file_log::snapshot_finish(std::string last_bytes) {
  {
    std::lock_guard lock(mutex_);
    jobs_.emplace_back(snapshot_write_job{std::move(last_bytes), snapshot_write_job::step::last});
  }
  wake_.notify_one();
}

void file_log::snapshot_abandon() {
  {
    std::lock_guard lock(mutex_);
    jobs_.emplace_back(snapshot_write_job{{}, snapshot_write_job::step::abandon});
  }
  wake_.notify_one();
}

bool file_log::stop(steady::time_point deadline) {
  if (!thread_.joinable()) return true;
  std::unique_lock lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
  if (!stopped_cv_.wait_until(lock, deadline, [this] { return stopped_; })) return false;
  lock.unlock();
  thread_.join();
  return true;
}

file_log_status file_log::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

log_view file_log::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

bool file_log::note_damage(damaged_range range) {
  std::lock_guard lock(mutex_);
  const auto known = [&](const damaged_range& other) {
    return other.epoch == range.epoch && other.file == range.file && other.first_lost <= range.first_lost &&
           (other.last_lost == 0 || other.last_lost >= range.first_lost);
  };
  if (std::any_of(found_at_start_.begin(), found_at_start_.end(), known) ||
      std::any_of(found_since_.begin(), found_since_.end(), known)) {
    return false;
  }
  found_since_.push_back(std::move(range));
  compose_damage();
  return true;
}

// Under mutex_. Damage goes with its segment: a range whose file retention deleted is dropped.
void file_log::compose_damage() {
  std::erase_if(found_since_, [this](const damaged_range& range) {
    return std::none_of(view_.segments.begin(), view_.segments.end(),
                        [&](const segment_info& segment) { return segment.name == range.file; });
  });
  view_.damage = found_at_start_;
  view_.damage.insert(view_.damage.end(), found_since_.begin(), found_since_.end());
  status_.damaged_ranges = view_.damage.size();
  status_.damaged_numbers = 0;
  for (const auto& range : view_.damage) {
    status_.damaged_numbers += range.last_lost >= range.first_lost ? range.last_lost - range.first_lost + 1 : 1;
  }
}

void file_log::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // Batches alone wait for flush() or for enough of them; snapshot jobs and stop go at once.
    const auto has_work = [this] {
      return stopping_ || flush_asked_ || queued_batches_ >= batches_worth_a_round || jobs_.size() > queued_batches_;
    };
    if (!has_work()) {
      idle_ = true;
      if (settings_.fsync == fsync_policy::interval && dirty_) {
        wake_.wait_until(lock, last_sync_ + settings_.fsync_interval, has_work);
      } else {
        wake_.wait(lock, has_work);
      }
      idle_ = false;
    }
    std::deque<job> round;
    round.swap(jobs_);
    queued_batches_ = 0;
    flush_asked_ = false;
    const bool stopping = stopping_;
    lock.unlock();

    const std::size_t segments_before = directory_.segments().size();
    std::size_t written = 0;
    bool given_up = false;
    // Consecutive batches of one epoch go out in one write.
    std::vector<log_batch*> group;
    const auto write_group = [&] {
      if (!group.empty() && !given_up) given_up = !write(group, written, lock);
      group.clear();
    };
    for (job& next : round) {
      if (auto* batch = std::get_if<log_batch*>(&next)) {
        if (!group.empty() && group.front()->epoch() != (*batch)->epoch()) write_group();
        group.push_back(*batch);
        continue;
      }
      write_group();
      if (given_up) break;
      if (auto* begin = std::get_if<snapshot_begin_job>(&next)) {
        run_snapshot(*begin);
      } else {
        run_snapshot(std::get<snapshot_write_job>(next));
      }
    }
    write_group();
    sync(written);
    if (settings_.fsync == fsync_policy::interval && dirty_ && steady::now() - last_sync_ >= settings_.fsync_interval) {
      const auto started = steady::now();
      if (!directory_.sync()) {
        dirty_ = false;
        last_sync_ = steady::now();
        std::lock_guard guard(mutex_);
        note_fsync(std::chrono::duration<double>(last_sync_ - started).count());
      }
    }
    if (directory_.segments().size() != segments_before) apply_retention();

    lock.lock();
    refresh_status();
    if ((stopping || given_up) && jobs_.empty()) break;
    if (stopping_ && given_up) break;
  }
  lock.unlock();
  if (dirty_) (void)directory_.sync();  // shutdown: whatever the policy, what was written is synced
  lock.lock();
  stopped_ = true;
  stopped_cv_.notify_all();
}

bool file_log::write(std::span<log_batch* const> group, std::size_t& written, std::unique_lock<std::mutex>& lock) {
  sealed_.clear();
  std::uint64_t bytes = 0;
  for (log_batch* batch : group) {
    const auto stored = batch->stored();
    sealed_.push_back(
        seal_batch(stored.data(), stored_kind(batch->type()), batch->first_seq(), batch->count(), batch->body_size()));
    bytes += sealed_.back().size();
  }
  for (;;) {
    const std::error_code failure = directory_.append(group.front()->epoch(), sealed_);
    if (!failure) {
      written += group.size();
      dirty_ = true;
      std::lock_guard guard(mutex_);
      status_.batches_written += group.size();
      status_.bytes_written += bytes;
      if (failing_) {
        failing_ = false;
        status_.failing.clear();
        on_report_(recovered_report());
      }
      return true;
    }
    // What this round wrote before the failure is durable (or as the policy says): report it
    // first, then wait and try again. The failed write was cut back off the file.
    sync(written);
    {
      std::lock_guard guard(mutex_);
      ++status_.write_errors;
      status_.failing = failure.message();
    }
    if (!failing_) {
      failing_ = true;
      on_report_(failed_report(failure));
    }
    lock.lock();
    const bool stopping = wake_.wait_for(lock, settings_.retry_after, [this] { return stopping_; });
    lock.unlock();
    if (stopping) return false;  // the daemon is going away: this batch was never reported durable
  }
}

void file_log::note_fsync(double seconds) {
  ++status_.fsyncs;
  status_.fsync_seconds_sum += seconds;
  for (std::size_t i = 0; i < fsync_bucket_count; ++i) {
    if (seconds <= fsync_buckets[i]) ++status_.fsync_le[i];
  }
  ++status_.fsync_le[fsync_bucket_count];
}

// Reports the batches written this round, syncing first when the policy wants every one synced.
void file_log::sync(std::size_t& written) {
  if (written == 0) return;
  if (settings_.fsync == fsync_policy::always) {
    const auto started = steady::now();
    const std::error_code failure = directory_.sync();
    const double seconds = std::chrono::duration<double>(steady::now() - started).count();
    std::lock_guard guard(mutex_);
    if (failure) {
      // Not durable: report nothing, and let the next write find out (a full disk fails it).
      ++status_.write_errors;
      status_.failing = "fsync: " + failure.message();
      return;
    }
    note_fsync(seconds);
    dirty_ = false;
    last_sync_ = steady::now();
  }
  {
    // History readers must see what is reported durable: a client may ask for it at once.
    std::lock_guard guard(mutex_);
    refresh_status();
  }
  on_report_(durable_report(written));
  written = 0;
}

void file_log::run_snapshot(snapshot_begin_job& begin) {
  snapshot_.emplace();
  snapshot_error_.clear();
  snapshot_started_ = steady::now();
  snapshot_epoch_ = begin.epoch;
  snapshot_seq_ = begin.seq;
  if (const auto failure = snapshot_->open(dir_name_, begin.epoch, begin.seq)) {
    snapshot_error_ = "cannot create the snapshot file: " + failure.message();
  }
}

void file_log::run_snapshot(snapshot_write_job& write) {
  if (!snapshot_) return;
  if (write.what == snapshot_write_job::step::abandon) {
    snapshot_->abandon();
    snapshot_.reset();
    return;
  }
  if (snapshot_error_.empty() && write.what == snapshot_write_job::step::more) {
    if (const auto failure = snapshot_->write(write.bytes)) snapshot_error_ = failure.message();
  }
  if (write.what != snapshot_write_job::step::last) return;
  if (snapshot_error_.empty()) {
    if (const auto failure = snapshot_->finish(write.bytes)) snapshot_error_ = failure.message();
  }
  const double seconds = std::chrono::duration<double>(steady::now() - snapshot_started_).count();
  file_log_report::snapshot_result result;
  result.seconds = seconds;
  if (snapshot_error_.empty()) {
    result.ok = true;
    result.detail = snapshot_->final_path();
    std::lock_guard guard(mutex_);
    view_.snapshots.push_back({snapshot_epoch_, snapshot_seq_});
    ++status_.snapshots_written;
    status_.last_snapshot_seconds = seconds;
    status_.last_snapshot_at = std::chrono::system_clock::now();
    status_.last_snapshot_epoch = snapshot_epoch_;
    status_.last_snapshot_seq = snapshot_seq_;
  } else {
    snapshot_->abandon();
    result.detail = snapshot_error_;
    std::lock_guard guard(mutex_);
    ++status_.snapshot_failures;
  }
  snapshot_.reset();
  if (result.ok) {
    apply_retention();  // the snapshot may free older segments
    prune_snapshots();
  }
  on_report_(snapshot_report(std::move(result)));
}

void file_log::apply_retention() {
  if (settings_.retention.retention_bytes == 0 && settings_.retention.retention_age.count() == 0) return;
  storage::log_position keep_from{directory_.current_epoch(), 1};
  {
    std::lock_guard guard(mutex_);
    if (status_.last_snapshot_epoch != 0) keep_from = {status_.last_snapshot_epoch, status_.last_snapshot_seq + 1};
  }
  const std::size_t count =
      segments_to_delete(directory_.segments(), settings_.retention, std::chrono::system_clock::now(), keep_from);
  if (count == 0) return;
  const std::error_code failure = directory_.remove_oldest(count);
  {
    std::lock_guard guard(mutex_);
    if (!failure) status_.segments_deleted += count;
    refresh_status();  // at once: history readers must not look for what was deleted
  }
  prune_snapshots();
}

void file_log::prune_snapshots() {
  std::vector<snapshot_mark> marks;
  {
    std::lock_guard guard(mutex_);
    marks = view_.snapshots;
  }
  const std::vector<std::size_t> prune = snapshots_to_prune(marks, directory_.segments());
  if (prune.empty()) return;
  std::vector<snapshot_mark> kept;
  bool removed = false;
  for (std::size_t i = 0; i < marks.size(); ++i) {
    if (std::find(prune.begin(), prune.end(), i) != prune.end() &&
        !remove_file(join_path(dir_name_, snapshot_file_name(marks[i].epoch, marks[i].seq)))) {
      removed = true;
      continue;
    }
    kept.push_back(marks[i]);
  }
  if (removed) (void)sync_directory(dir_name_);
  std::lock_guard guard(mutex_);
  view_.snapshots = std::move(kept);
  status_.snapshots = view_.snapshots.size();
}

// Under mutex_.
void file_log::refresh_status() {
  const auto& segments = directory_.segments();
  status_.segments = segments.size();
  status_.bytes = 0;
  for (const auto& segment : segments) status_.bytes += segment.bytes;
  // A whole copy only when segments came or went; otherwise the active one's extent moved.
  if (view_generation_ != directory_.generation()) {
    view_generation_ = directory_.generation();
    view_.segments = segments;
    found_at_start_ = directory_.damage();
    compose_damage();
  } else if (!segments.empty()) {
    view_.segments.back().bytes = segments.back().bytes;
    view_.segments.back().last_seq = segments.back().last_seq;
  }
  status_.snapshots = view_.snapshots.size();
}

}  // namespace eventserver::storage
