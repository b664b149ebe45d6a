#pragma once
// The event log behind one interface. The daemon's driver (app/durable_log) starts it and takes
// the recovered stream from it, appends through its log_backend (core/log_pipeline.hpp), learns
// from its reports which batches are durable, serves clients' history from it, hands it
// snapshots of the follower graph, asks how it stands, and stops it. It never asks which kind
// of log it drives.
//
// Implementations: file_event_log (dataDir: segments and snapshot files on disk),
// memory_event_log (no dataDir: the recent stream kept in memory, nothing survives a restart)
// and the ingest's cluster/jetstream_event_log (a JetStream stream): nothing here names a file.
//
// Threading: every call is made on the event thread. An implementation does its slow work
// (recovery, writing) on threads of its own and hands results back through the post function
// it was given (post_fn: runs a function on the event thread), so that every listener call but
// note() comes in a turn of its own, never inside the call that caused it.
//
// What an implementation may decline:
// - snapshots: takes_snapshots() false, and the driver begins none (neither periodic nor at
//   shutdown); recovery then replays the whole stream, and a resume from further back than
//   the recent graph changes is told its history is incomplete;
// - history: history() null, and clients get no catch-up or resume from before they connected;
// - the follower graph: recovers_graph() false, and recovered_stream's graph is empty (a log
//   whose daemon serves no clients, the ingest, needs only the position);
// - a status figure that does not apply (segments, fsyncs): it stays 0.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/core/follower_graph.hpp"
#include "eventserver/core/history.hpp"
#include "eventserver/core/log_pipeline.hpp"

namespace eventserver::storage {

// Runs a function on the event thread, later (the daemon passes asio::post on its io_context).
// Callable from any thread.
using post_fn = std::function<void(std::function<void()>)>;

// What start() found: where the stream stands and the follower graph there.
struct recovered_stream {
  eventserver::log_position position;  // the stream continues after it ({1, 0}: an empty log)
  follower_graph graph;   // after position
  // The snapshot of position.epoch that recovery began from (0: none): the next periodic
  // snapshot counts from it, so that a restart does not write one at once.
  sequence_number snapshot_seq = 0;
};

struct snapshot_result {
  bool ok = false;
  std::string detail;  // what was written (a file name), or the error
  double seconds = 0;  // from snapshot_begin() to written
};

// What the log tells its driver after start-up, each in a turn of the event thread of its own.
struct event_log_report {
  std::size_t durable = 0;   // this many more of the oldest submitted batches are durable
  // Writing started failing: the batches behind it wait, so the pipeline saturates and the
  // sources are no longer read; problem() says why. Retried until it works (works_again), or
  // for good where the log cannot go on (a JetStream publisher fenced by another).
  bool failing = false;
  bool works_again = false;  // writing works again after failing
  // The log can never write again (a JetStream publisher fenced by another ingest): the daemon
  // stops; problem() says why. Comes with failing.
  bool fenced = false;
  std::optional<snapshot_result> snapshot;  // the snapshot begun last was written, or failed
};

// A log published to a replicated stream (the ingest's JetStream stream): how publishing stands.
struct publish_status {
  std::uint64_t batches_published = 0;  // acknowledged by the stream (duplicates included)
  std::uint64_t duplicates = 0;         // acknowledged as already stored (a retry whose answer was lost)
  std::uint64_t retries = 0;            // publishes tried again while the stream was unavailable
  std::uint64_t last_stream_seq = 0;    // the stream sequence of the last batch acknowledged
  bool failing = false;                 // publishing fails (retried)
  bool fenced = false;                  // another publisher wrote the stream: this one stopped
};

// How the log stands, for /metrics and the status page. What does not apply stays 0.
struct event_log_status {
  bool kept = false;  // the log outlives the process (and is shown as the daemon's event log)
  bool recovering = false;
  std::string failing;  // why writing fails; empty while it works
  std::uint64_t bytes = 0;
  std::uint64_t segments = 0;
  std::uint64_t batches_written = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t segments_deleted = 0;
  std::uint64_t fsyncs = 0;
  double fsync_seconds_sum = 0;
  std::vector<std::pair<double, std::uint64_t>> fsync_buckets;  // (le seconds, cumulative count)
  std::uint64_t snapshots_written = 0;
  std::uint64_t snapshot_failures = 0;
  std::uint64_t snapshots = 0;            // kept, each a base for resumes
  std::uint64_t snapshots_set_aside = 0;  // found unusable at start-up
  std::uint64_t damaged_ranges = 0;
  std::uint64_t damaged_numbers = 0;
  double last_snapshot_seconds = 0;
  std::optional<std::chrono::system_clock::time_point> last_snapshot_at;
  double recovery_seconds = 0;
  std::uint64_t memory_bytes = 0;  // of the stream kept in memory for history
  std::optional<publish_status> publishing;  // a log published to a replicated stream
};

// The driver, as the log sees it.
class event_log_listener {
 public:
  enum class level : std::uint8_t { info, warning };

  // start() succeeded: the stream continues after stream.position. backend() may be used from now on.
  virtual void recovered(recovered_stream stream) = 0;
  // start() failed: the message names what and where (a file and offset), and what to do.
  virtual void recovery_failed(std::string error) = 0;
  virtual void reported(const event_log_report& report) = 0;
  // A line for the daemon's output, on the event thread at any time (within start() too): what
  // recovery did, what writing met. It changes no state.
  virtual void note(level severity, std::string_view text) = 0;

 protected:
  ~event_log_listener() = default;
};

class event_log {
 public:
  virtual ~event_log() = default;

  // Opens the log and recovers the stream; exactly one of listener.recovered() or
  // recovery_failed() follows through post. Throws storage_error when the log cannot be used
  // as configured (a data directory that is missing or not writable): the daemon stops as for
  // a bad config. `listener` outlives the log.
  virtual void start(event_log_listener& listener) = 0;

  // Where the pipeline submits batches; valid from recovered() until stop(). Batches are
  // reported durable (event_log_report::durable) in the order they were submitted.
  virtual log_backend& backend() = 0;

  // Where clients read the past; null when this log serves none, and may be null before
  // recovered() and after stop().
  virtual history_source* history() noexcept = 0;

  // A snapshot of the follower graph after `at`, in snapshot_encoder's bytes: begin, any number
  // of writes, finish; reported (event_log_report::snapshot) once written. Abandon drops the one
  // being written, unreported. Called only while takes_snapshots(), one snapshot at a time.
  virtual bool takes_snapshots() const noexcept = 0;
  // Whether recovered() hands over the follower graph after the position (else an empty one).
  virtual bool recovers_graph() const noexcept { return true; }
  virtual void snapshot_begin(eventserver::log_position at) = 0;
  virtual void snapshot_write(std::string bytes) = 0;
  virtual void snapshot_finish(std::string last_bytes) = 0;
  virtual void snapshot_abandon() = 0;

  // Why the log keeps the daemon from being ready once recovered (writing fails); empty when fine.
  virtual std::string problem() const = 0;
  virtual event_log_status status() const = 0;

  // Shutdown, once every submitted batch was reported durable: makes what was handed over
  // durable (a snapshot too), releases history, and stops the threads, giving up waiting at
  // `deadline` (a stuck disk, an unreachable cluster). `closed_at`: where the daemon stopped,
  // for its note. Returns whether it finished. Reports may still come after it.
  virtual bool stop(eventserver::log_position closed_at, std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace eventserver::storage
