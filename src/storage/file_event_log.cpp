#include "eventserver/storage/file_event_log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "eventserver/storage/storage_error.hpp"

namespace eventserver::storage {

namespace {

using level = event_log_listener::level;

bool is_warning(recovery_action action) {
  switch (action) {
    case recovery_action::cut_torn_tail:
    case recovery_action::cut_damage:
    case recovery_action::set_aside:
    case recovery_action::kept_damage:
    case recovery_action::set_aside_snapshot:
      return true;
    default:
      return false;
  }
}

}  // namespace

// The recovery thread's link back: it posts its result only while the log still wants it.
struct file_event_log::recovery_job {
  std::mutex mutex;
  post_fn post;  // emptied when the log is destroyed
  bool finished = false;
};

file_event_log::file_event_log(file_event_log_settings settings, post_fn post)
    : settings_(std::move(settings)), post_(std::move(post)) {}

file_event_log::~file_event_log() {
  if (recovery_) {
    std::lock_guard lock(recovery_->mutex);
    recovery_->post = nullptr;
    if (recovery_->finished) {
      recovery_thread_.join();
    } else {
      recovery_thread_.detach();  // a recovery of a large log: the process is ending anyway
    }
  }
  history_.reset();
  if (file_ && !stopped_) file_->stop(std::chrono::steady_clock::now() + settings_.stop_timeout);
}

post_fn file_event_log::guarded_post() const {
  // Copies, not `this`: a writer left running past a stuck stop() may still report.
  return [post = post_, alive = std::weak_ptr<char>(alive_)](std::function<void()> f) {
    post([alive, f = std::move(f)] {
      if (alive.lock()) f();
    });
  };
}

void file_event_log::check_directory() {
  // The directory must exist and be writable: a daemon that cannot keep its log says so at
  // once rather than run without one.
  const std::string& dir = settings_.dir;
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0 && errno == ENOENT && ::mkdir(dir.c_str(), 0750) == 0) {
    listener_->note(level::info, "created the data directory " + dir);
  }
  if (::stat(dir.c_str(), &info) != 0) {
    throw storage_error("\"dataDir\" " + dir + ": " + std::strerror(errno) +
                        " (its parent must exist; or set \"dataDir\" to \"\" to run without an event log)");
  }
  if (!S_ISDIR(info.st_mode)) throw storage_error("\"dataDir\" " + dir + ": not a directory");
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    throw storage_error("\"dataDir\" " + dir + ": not writable: " + std::strerror(errno));
  }
}

void file_event_log::start(event_log_listener& listener) {
  listener_ = &listener;
  check_directory();
  recovering_ = true;
  listener.note(level::info, "recovering from " + settings_.dir);
  log_options options;
  options.dir = settings_.dir;
  options.segment_bytes = settings_.segment_bytes;
  recovery_ = std::make_shared<recovery_job>();
  recovery_->post = post_;
  recovery_thread_ = std::thread([this, job = recovery_, options, alive = std::weak_ptr<char>(alive_)] {
    std::function<void()> done;
    try {
      auto recovered = std::make_shared<recovered_log>(recover_log(options));
      done = [this, alive, recovered] {
        if (alive.lock()) on_recovered(std::move(*recovered));
      };
    } catch (const std::exception& e) {
      std::string error = e.what();
      if (error.ends_with("run repair")) error += ": eventserver log repair -data-dir " + options.dir;
      done = [this, alive, error] {
        if (!alive.lock()) return;
        recovering_ = false;
        listener_->recovery_failed(error);
      };
    }
    std::lock_guard lock(job->mutex);
    if (job->post) job->post(std::move(done));
    job->finished = true;
  });
}

void file_event_log::on_recovered(recovered_log recovered) {
  for (const auto& note : recovered.directory.notes()) {
    if (note.action == recovery_action::set_aside_snapshot) ++snapshots_set_aside_;
    listener_->note(is_warning(note.action) ? level::warning : level::info, note.describe());
  }
  for (const auto& refused : recovered.refused_snapshots) listener_->note(level::warning, "snapshot not used: " + refused);
  const eventserver::log_position position{recovered.epoch, recovered.last_seq};
  recovery_seconds_ = recovered.seconds;
  listener_->note(level::info,
                  fmt::format("recovered epoch {} at sequence number {} ({} follow edges; snapshot {}, {} events "
                              "replayed) in {:.0f} ms",
                              position.epoch, position.seq, recovered.graph.edge_count(),
                              recovered.snapshot ? std::to_string(recovered.snapshot->seq) : std::string("none"),
                              recovered.replayed, recovered.seconds * 1000));

  file_ = std::make_unique<file_log>(std::move(recovered.directory), settings_.writing,
                                     [this, post = guarded_post()](file_log_report report) {
                                       post([this, report = std::move(report)] { on_report(report); });
                                     });
  history_ = std::make_unique<history_service>(
      settings_.dir, [file = file_.get()] { return file->view(); }, post_,
      history_service::default_reader_buffer_bytes,
      [this, file = file_.get(), post = guarded_post()](damaged_range range) {
        // Arisen since start-up (the disk, or a hand): resumes stop crossing it from now on.
        if (!file->note_damage(range)) return;
        post([this, range = std::move(range)] {
          listener_->note(level::warning,
                          fmt::format("history met damage in {} at byte offset {} ({}): sequence numbers {}..{} of "
                                      "epoch {} counted lost; a resume across them is told it is incomplete; "
                                      "eventserver log verify names every damaged batch",
                                      range.file, range.offset, range.reason, range.first_lost, range.last_lost,
                                      range.epoch));
        });
      });
  recovered_stream stream;
  stream.position = position;
  stream.graph = std::move(recovered.graph);
  if (recovered.snapshot && recovered.snapshot->epoch == position.epoch) stream.snapshot_seq = recovered.snapshot->seq;
  recovering_ = false;
  listener_->recovered(std::move(stream));
}

void file_event_log::on_report(const file_log_report& report) {
  event_log_report out;
  out.durable = report.durable;
  if (report.failed) {
    failing_ = report.failed.message();
    listener_->note(level::warning, fmt::format("writing to {} failed: {}; event sources are no longer read until it "
                                                "works again (retrying every second)",
                                                settings_.dir, failing_));
    out.failing = true;
  }
  if (report.recovered) {
    listener_->note(level::info, fmt::format("writing to {} works again", settings_.dir));
    failing_.clear();
    out.works_again = true;
  }
  if (report.snapshot) out.snapshot = snapshot_result{report.snapshot->ok, report.snapshot->detail, report.snapshot->seconds};
  listener_->reported(out);
}

std::string file_event_log::problem() const {
  if (!failing_.empty()) return "writing the event log fails: " + failing_;
  return {};
}

event_log_status file_event_log::status() const {
  event_log_status out;
  out.kept = file_ != nullptr || recovering_;
  out.recovering = recovering_;
  out.failing = failing_;
  out.recovery_seconds = recovery_seconds_;
  out.snapshots_set_aside = snapshots_set_aside_;
  if (!file_) return out;
  const file_log_status s = file_->status();
  out.bytes = s.bytes;
  out.segments = s.segments;
  out.batches_written = s.batches_written;
  out.bytes_written = s.bytes_written;
  out.write_errors = s.write_errors;
  out.segments_deleted = s.segments_deleted;
  out.fsyncs = s.fsyncs;
  out.fsync_seconds_sum = s.fsync_seconds_sum;
  for (std::size_t i = 0; i < fsync_bucket_count; ++i) out.fsync_buckets.emplace_back(fsync_buckets[i], s.fsync_le[i]);
  out.snapshots_written = s.snapshots_written;
  out.snapshot_failures = s.snapshot_failures;
  out.snapshots = s.snapshots;
  out.damaged_ranges = s.damaged_ranges;
  out.damaged_numbers = s.damaged_numbers;
  out.last_snapshot_seconds = s.last_snapshot_seconds;
  out.last_snapshot_at = s.last_snapshot_at;
  return out;
}

bool file_event_log::stop(eventserver::log_position closed_at, std::chrono::steady_clock::time_point deadline) {
  history_.reset();  // its thread reads the files: stop it before the writer goes
  if (!file_ || stopped_) return true;
  stopped_ = true;
  if (!file_->stop(deadline)) {
    listener_->note(level::warning, "the disk did not finish writing within shutdownTimeoutMs; stopping without it");
    (void)file_.release();  // its thread still runs and uses it: leave it to the process exit
    return false;
  }
  listener_->note(level::info,
                  fmt::format("closed at epoch {} sequence number {}", closed_at.epoch, closed_at.seq));
  return true;
}

}  // namespace eventserver::storage
