#pragma once
// The event log at the centre: when the daemon keeps one, events the sequencer releases in
// order are written into batches here; a backend makes each batch durable (the file log on a
// thread of its own); and only then are the batch's events applied: the follower graph
// changed and the notifications routed. So no client is ever sent a notification whose event
// is not in the log, and the daemon's state is exactly what the log holds (what a restart
// recovers, what a client catching up reads).
//
// A batch is one group commit. It is sealed at the end of each batch of input (commit()), or
// sooner when its body reaches batch_bytes, and handed to the backend at once; the backend may
// write several before one fsync. Batches come back in the order they went out.
//
// Bounds: a batch's body is at most batch_bytes (a longer line gets a batch of its own);
// saturated() says that max_waiting batches are with the backend, and the event source stops
// reading (TCP pushes back) until some come back. Batches are reused, so a steady stream
// allocates nothing.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/core/line_ref.hpp"

namespace eventserver {

// An event as it waits to be applied; its notification's bytes are in the batch's body. 20
// bytes (packed: the batches in flight are most of what the log costs in memory).
#pragma pack(push, 4)
struct logged_event {
  user_id from = 0;
  user_id to = 0;
  std::uint32_t size_and_type = 0;  // bytes of its notification (low 29 bits) and event_type (top 3)

  static constexpr std::uint32_t max_size = (1u << 29) - 1;
  std::uint32_t size() const noexcept { return size_and_type & max_size; }
  event_type type() const noexcept { return static_cast<event_type>(size_and_type >> 29); }
};
#pragma pack(pop)
static_assert(sizeof(logged_event) == 20);

// A batch as the log stores it (storage/batch_format.hpp's batch_view, header decoded): what
// an edge that is handed an already-numbered stream gives dispatcher::offer_sequenced. The
// body points into the caller's buffer.
struct sequenced_batch {
  enum class kind : std::uint8_t {
    events,   // `count` lines from first_seq on, each "payload\r\n"; a no-op is "\r\n" alone
    skipped,  // `count` numbers from first_seq on that the gap timeout gave up; no body
  };
  kind type = kind::events;
  sequence_number first_seq = 1;
  std::uint32_t count = 0;
  std::string_view body;

  sequence_number last_seq() const noexcept { return first_seq + count - 1; }
};

class log_batch {
 public:
  enum class kind : std::uint8_t {
    events,       // `count` events from first_seq on; their notifications are the body
    skipped,      // `count` numbers from first_seq on that the gap timeout gave up; no body
    epoch_start,  // a new stream (epoch) begins here: not written, only ordered
  };

  log_batch(std::size_t header_bytes, std::size_t body_bytes);

  kind type() const noexcept { return type_; }
  stream_epoch epoch() const noexcept { return epoch_; }
  sequence_number first_seq() const noexcept { return first_seq_; }
  std::uint32_t count() const noexcept { return count_; }
  sequence_number last_seq() const noexcept { return first_seq_ + count_ - 1; }
  std::size_t body_size() const noexcept { return body_size_; }
  // When its oldest event arrived (log_pipeline::note_input): what durable latency is measured from.
  std::chrono::steady_clock::time_point arrival() const noexcept { return arrival_; }
  std::span<const logged_event> events() const noexcept {
    return {events_.get(), type_ == kind::events ? count_ : 0};
  }
  const char* body() const noexcept { return buffer_.get() + header_bytes_; }
  // Bytes that may be read from body() on: the body's room and line_ref::readable_margin of
  // slack past it, so every line in the body may be read for at least that margin.
  std::size_t readable_from_body() const noexcept { return body_capacity_ + line_ref::readable_margin; }
  // The batch as stored (an events or skipped batch; an epoch start is no stored batch).
  sequenced_batch stored_form() const noexcept {
    return {type_ == kind::skipped ? sequenced_batch::kind::skipped : sequenced_batch::kind::events, first_seq_,
            count_, std::string_view(body(), body_size_)};
  }

  // For the backend: the header's room followed by the body, which it writes as one record.
  // Only the header may be written, and only while the batch is with the backend.
  std::span<char> stored() noexcept { return {buffer_.get(), header_bytes_ + body_size_}; }
  std::size_t header_bytes() const noexcept { return header_bytes_; }

  // The hot path: false (nothing appended) when the line does not fit, the event array is
  // full, or the batch is no events batch (its body_limit_ is then 0).
  bool try_append(const event& ev, line_ref notification) noexcept {
    const std::size_t n = notification.size();
    if (body_size_ + n > body_limit_ || count_ == events_capacity_) return false;
    // A padded line is one fixed-size move, as the sequencer does: no branch on the line's
    // length. The buffer has readable_margin bytes of slack past the body's bound.
    copy_line<line_ref::readable_margin>(buffer_.get() + header_bytes_ + body_size_, notification);
    body_size_ += n;
    events_[count_] = {ev.from, ev.to, static_cast<std::uint32_t>(n) | static_cast<std::uint32_t>(ev.type) << 29};
    ++count_;
    return true;
  }

 private:
  friend class log_pipeline;
  void reset(kind type, stream_epoch epoch, sequence_number first_seq) noexcept;
  // Room for a body of `bytes` (a line longer than the usual bound).
  void reserve_body(std::size_t bytes);
  // Room for twice as many events (a batch of very short lines: no-ops).
  void grow_events();

  std::unique_ptr<char[]> buffer_;  // header_bytes_, body, line_ref::readable_margin of slack
  std::size_t header_bytes_;
  std::size_t body_capacity_;
  std::size_t body_limit_;  // seal at this body size
  std::size_t body_size_ = 0;
  std::unique_ptr<logged_event[]> events_;
  std::uint32_t events_capacity_;
  kind type_ = kind::events;
  stream_epoch epoch_ = 1;
  sequence_number first_seq_ = 1;
  std::uint32_t count_ = 0;
  std::chrono::steady_clock::time_point arrival_{};
};

// Where batches are made durable. submit() is called on the event thread; the backend then
// owns the batch until it reports it done, and must report batches in submission order (its
// owner then calls log_pipeline::durable()). A backend may hold submitted batches back to
// write several at once, but not past flush(): the end of a batch of input.
class log_backend {
 public:
  virtual std::size_t header_bytes() const noexcept = 0;
  virtual void submit(log_batch& batch) = 0;
  virtual void flush() = 0;

 protected:
  ~log_backend() = default;
};

struct log_position {
  stream_epoch epoch = 1;
  sequence_number seq = 0;  // every number up to it is in the log and applied; 0: none yet
  friend bool operator==(const log_position&, const log_position&) = default;
};

class log_pipeline {
 public:
  struct limits {
    std::size_t batch_bytes = 64 * 1024;  // seal a batch at this body size
    std::size_t max_waiting = 4;          // batches with the backend before saturated()
  };

  // `durable`: the position recovered at start-up; appends continue after it.
  log_pipeline(log_backend& backend, limits bounds, log_position durable);
  log_pipeline(const log_pipeline&) = delete;
  log_pipeline& operator=(const log_pipeline&) = delete;

  // The next released event (ev.seq must follow the last appended number).
  void append(const event& ev, line_ref notification) {
    if (!open_->try_append(ev, notification)) append_slow(ev, notification);
  }
  // The gap timeout gave up first..last.
  void append_skip(sequence_number first, sequence_number last);
  // A new stream: what is open is sealed and submitted; numbering restarts at 1 in `epoch`.
  void begin_epoch(stream_epoch epoch);
  // End of a batch of input: the open batch is sealed and submitted (group commit).
  void commit();
  // The events appended from now on arrived at `arrival` (a source's read): the open batch
  // takes it if it holds none yet, and so does every batch opened after it.
  void note_input(std::chrono::steady_clock::time_point arrival) noexcept {
    arrival_ = arrival;
    if (open_->count() == 0) open_->arrival_ = arrival;
  }

  // Too many batches are with the backend: stop taking input until some come back.
  bool saturated() const noexcept { return submitted_ >= bounds_.max_waiting; }
  // Batches submitted and not yet back.
  std::size_t waiting() const noexcept { return submitted_; }

  // The backend made the oldest submitted batch durable: apply(batch) runs for it, and for
  // the epoch starts queued behind it. Then the batch is reused.
  template <class Apply>
  void durable(Apply&& apply);
  // Applies the epoch starts at the front of the queue (nothing is with the backend ahead of
  // them). begin_epoch() queues one; call this after it.
  template <class Apply>
  void apply_ready_markers(Apply&& apply);

  // The position every applied event reached: what the log holds and the daemon applied.
  log_position durable_position() const noexcept { return durable_; }
  // The epoch and number the next append gets.
  stream_epoch epoch() const noexcept { return epoch_; }
  sequence_number next_seq() const noexcept { return open_->first_seq() + open_->count(); }

 private:
  void append_slow(const event& ev, line_ref notification);
  // Seals the open batch (if it holds anything) and submits it; a fresh one opens.
  void seal();
  std::unique_ptr<log_batch> fresh(log_batch::kind type, sequence_number first_seq);
  void retire(std::unique_ptr<log_batch> batch);

  log_backend& backend_;
  limits bounds_;
  std::unique_ptr<log_batch> open_;
  std::deque<std::unique_ptr<log_batch>> queue_;  // submitted (or epoch starts), oldest first
  std::vector<std::unique_ptr<log_batch>> spare_;
  std::size_t submitted_ = 0;
  log_position durable_;
  stream_epoch epoch_;
  std::chrono::steady_clock::time_point arrival_{};  // of the input being appended (note_input)
};

template <class Apply>
void log_pipeline::durable(Apply&& apply) {
  // The oldest submitted batch; epoch starts ahead of it were applied when they reached the front.
  std::unique_ptr<log_batch> batch = std::move(queue_.front());
  queue_.pop_front();
  --submitted_;
  apply(static_cast<const log_batch&>(*batch));
  if (batch->count() != 0) durable_ = {batch->epoch(), batch->last_seq()};
  retire(std::move(batch));
  apply_ready_markers(apply);
}

template <class Apply>
void log_pipeline::apply_ready_markers(Apply&& apply) {
  while (!queue_.empty() && queue_.front()->type() == log_batch::kind::epoch_start) {
    std::unique_ptr<log_batch> marker = std::move(queue_.front());
    queue_.pop_front();
    apply(static_cast<const log_batch&>(*marker));
    durable_ = {marker->epoch(), 0};
    retire(std::move(marker));
  }
}

}  // namespace eventserver
