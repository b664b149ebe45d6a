#pragma once
// The ingest's log backend (core/log_pipeline.hpp's log_backend), the second one beside the
// file log: batches submitted on the event thread are published to the JetStream stream, in
// order, by a thread of its own, and reported durable only once JetStream acknowledged them. A
// source is told `durable|<epoch>|<seq>` from these reports, so what it is told is in the stream.
//
// Every publish states the stream sequence it follows. The outcomes:
// - stored, or a duplicate of itself (a retry whose first acknowledgement was lost): durable.
//   A duplicate is checked byte for byte: Nats-Msg-Id deduplicates by id, and another
//   publisher may have stored other events under the same numbers (fenced, below).
// - unavailable (no answer in time, no responders during a leader election, a disconnect): the
//   same batch again every retry_after until it works; the batches behind it wait, so the
//   pipeline saturates and the sources are no longer read (TCP pushes back). Reported once.
// - wrong last sequence: the stream's end is reread. If it ends with this very batch, byte for
//   byte (stored by an attempt whose acknowledgement was lost and whose id has left the
//   duplicates window), it is durable. Anything else means another publisher wrote the stream:
//   this one is *fenced* and publishes nothing more (a second ingest must recover from the
//   stream, never fork it).
// - refused (anything else the server says): fenced too, with the server's word.
//
// The thread never touches the daemon's state: it reads the batches it was given (the event
// thread leaves them alone until they are reported) and reports through a callback that the
// owner turns into a post to the event thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "eventserver/cluster/jetstream_stream.hpp"
#include "eventserver/core/log_pipeline.hpp"

namespace eventserver::cluster {

struct jetstream_log_report {
  std::size_t durable = 0;  // this many more of the oldest submitted batches are in the stream
  std::string failing;      // publishing started failing (retried), or was fenced (below)
  bool fenced = false;      // nothing more will be published: another publisher, or a refusal
  bool recovered = false;   // publishing works again after a failure
};

struct jetstream_log_status {
  std::uint64_t batches_published = 0;
  std::uint64_t duplicates = 0;       // acknowledged as already stored (a retry)
  std::uint64_t retries = 0;          // publishes tried again (unavailable, stale expectation)
  std::uint64_t last_stream_seq = 0;  // the stream's sequence of the last batch acknowledged
  std::string failing;
  bool fenced = false;
};

class jetstream_log final : public log_backend {
 public:
  using notify = std::function<void(jetstream_log_report)>;

  // `last_stream_seq`: where the stream ended when the ingest recovered from it (0: empty).
  jetstream_log(jetstream_stream stream, std::uint64_t last_stream_seq, notify on_report,
                std::chrono::milliseconds retry_after = std::chrono::milliseconds(500));
  ~jetstream_log();
  jetstream_log(const jetstream_log&) = delete;
  jetstream_log& operator=(const jetstream_log&) = delete;

  std::size_t header_bytes() const noexcept override;
  void submit(log_batch& batch) override;
  void flush() override;

  // Publishes what was submitted and stops the thread; gives up at `deadline` (an unreachable
  // cluster), leaving the thread to end on its own. Returns whether it finished.
  bool stop(std::chrono::steady_clock::time_point deadline);

  jetstream_log_status status() const;

 private:
  void run();
  // Publishes one batch until it is durable, the log is fenced, or it stops. False unless durable.
  bool publish(log_batch& batch);
  bool holds_these_bytes(std::uint64_t stream_seq, std::span<const char> sealed);
  void fence(std::string why);

  jetstream_stream stream_;
  notify on_report_;
  const std::chrono::milliseconds retry_after_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable stopped_cv_;
  std::deque<log_batch*> queue_;
  bool stopping_ = false;
  bool stopped_ = false;
  jetstream_log_status status_;

  // The thread's own.
  std::uint64_t expect_last_;
  bool failing_ = false;

  std::thread thread_;
};

}  // namespace eventserver::cluster
