#pragma once
// The file log's history for clients (core/history.hpp): catch-up reads and the follows of a
// resuming user, served by a thread of its own so that the event thread never waits for a
// disk. The thread only reads files (segments, indexes, snapshots) and hands results back
// through `post`; it never touches the daemon's state. Jobs run in the order they were
// queued, except that following_at requests of one epoch queued together share one pass.
//
// Threading: read(), release(), following_at() and first_available() are called on the event
// thread; the constructor and destructor too. Every `done` runs through `post` (on the event
// thread), after the call that queued it has returned, and is destroyed there as well (a
// `done` holding a session's last reference never ends it on this thread). The posted
// functions do not refer to the service: one may run after it is destroyed, but the destructor
// makes sure none is posted after it begins.
//
// Memory: per reader id kept between reads, one history_reader (a buffer of
// reader_buffer_bytes, grown only to hold one larger batch, and an open segment: one file
// descriptor) until release(); a chunk holds at most max_bytes plus one batch. A following_at
// pass holds the follows of the users asked about and one reader.
//
// Fuzzy snapshots: the daemon encodes a snapshot over several turns while events are applied,
// so a user's record in the snapshot taken at `seq` shows the graph at some later number, no
// later than the next snapshot's `seq` (it starts only once the previous one is written), or
// the log's end for the newest. Replaying from seq + 1 to `after` is then exact for every
// follow the user changed between seq and after; one that only changed after `after`, within
// that window, is ambiguous. The pass watches that window and answers such a request from an
// older base (the snapshot before, which had settled by then, or the epoch's start) instead.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "eventserver/core/history.hpp"
#include "eventserver/storage/directory_listing.hpp"
#include "eventserver/storage/log_view.hpp"

namespace eventserver::storage {

class history_reader;

class history_service final : public history_source {
 public:
  // Runs a function on the event thread (the daemon passes asio::post on its io_context).
  // Called on the service's thread; it must not call back into the service.
  using post_fn = std::function<void(std::function<void()>)>;
  // The log as it stands (file_log::view(): a copy, thread-safe). A function returning just
  // the segments will do where there are no snapshots or damage to know of.
  using view_fn = std::function<log_view()>;

  // 16 KiB: a reader kept per client catching up; a larger batch grows it once.
  static constexpr std::size_t default_reader_buffer_bytes = std::size_t{16} << 10;

  // Damage a read met that the view did not know of (it arose after start-up): told so that
  // history stops offering resumes across it. Called on the service's thread.
  using damage_fn = std::function<void(damaged_range)>;

  history_service(std::string dir, view_fn view, post_fn post,
                  std::size_t reader_buffer_bytes = default_reader_buffer_bytes, damage_fn on_damage = {});
  // Stops the thread: the job in progress is given up at its next batch; pending requests are
  // dropped (their done never runs and is destroyed here, on the caller's thread).
  ~history_service();
  history_service(const history_service&) = delete;
  history_service& operator=(const history_service&) = delete;

  // ok with runs from request.from (at most about max_bytes of lines, ending at a batch
  // boundary or at `until`); ok with none when `from` is past `until` or past what is written
  // yet; gone when `from` is no longer in the log; error (reason: file, offset) on damage or
  // I/O. A reader whose last read ended where this one starts reads on without a seek.
  void read(const history_request& request, read_done done) override;
  void release(std::uint64_t reader) override;
  // The resumable start (log_view.hpp: after the oldest base past every damaged range). On
  // the caller's thread: the view and no file opened.
  std::optional<sequence_number> first_available(stream_epoch epoch) const override;
  // Sorted ascending; nullopt when the log and its snapshots cannot tell (neither a snapshot
  // at or before `after` nor the epoch's start remains, `after` is past the log's end, damage).
  void following_at(user_id user, stream_epoch epoch, sequence_number after, following_done done) override;

  // For tests and metrics: passes over the log made for following_at (one per group of
  // requests, plus one per fallback to an older base), and reader ids held.
  std::uint64_t following_passes() const noexcept { return following_passes_.load(std::memory_order_relaxed); }
  std::size_t readers_held() const noexcept { return readers_held_.load(std::memory_order_relaxed); }

 private:
  struct read_job {
    history_request request;
    read_done done;
  };
  struct release_job {
    std::uint64_t reader;
  };
  struct following_job {
    user_id user;
    stream_epoch epoch;
    sequence_number after;
    following_done done;
  };
  using job = std::variant<read_job, release_job, following_job>;
  struct reader_state;
  struct following_query;

  void enqueue(job work);
  void run();
  // Each returns the function to post (done bound to its result).
  std::function<void()> run_read(read_job& work);
  std::vector<std::function<void()>> run_following(std::vector<following_job>& group);
  history_chunk read_chunk(const history_request& request, reader_state& state);
  void answer_following(stream_epoch epoch, std::vector<following_query>& queries);
  bool stopping() const noexcept { return stop_.load(std::memory_order_relaxed); }
  // A read met an invalid batch: the rest of its segment is reported as a damaged range.
  void report_damage(const history_reader& reader, const std::vector<segment_info>& segments);

  const std::string dir_;
  const view_fn view_;
  const post_fn post_;
  const std::size_t reader_buffer_bytes_;
  const damage_fn on_damage_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> jobs_;                           // under mutex_
  std::vector<std::function<void()>> abandoned_;   // results finished after stop: under mutex_
  std::atomic<bool> stop_{false};                  // set under mutex_; read by the thread's loops

  // The thread's own.
  std::unordered_map<std::uint64_t, std::unique_ptr<reader_state>> readers_;

  std::atomic<std::uint64_t> following_passes_{0};
  std::atomic<std::size_t> readers_held_{0};
  std::thread thread_;
};

}  // namespace eventserver::storage
