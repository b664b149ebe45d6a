#pragma once
// One client's stream of notifications, without its transport: everything a client session
// decides that is not I/O. The session (net/client_session.hpp) owns the socket, the timers
// and the posts; it asks this object what to do and tells it what the transport took.
//
// The queue: the bytes queued and not yet taken by the transport, never more than
// max_queue_bytes. A live notification that would pass write_batch_bytes asks for a write
// first (offer: write_first); one that would pass the bound even so is over_bound, and the
// session either starts a catch-up from it (there is history) or cuts the client off as slow.
//
// Catch-up: the cursor (epoch, next number, whom the user follows there) says what history
// to read next; live notifications are left to history meanwhile (offer: in_history). Once
// the cursor has passed what the daemon applied, the client is live again: the next live
// notification is the one after the last it read, so there is no gap and nothing twice.
//
// Spill (clientSpillBytes): instead of a catch-up from the log, a client over its bound may
// keep its own notifications. From the one that did not fit, each live notification is kept
// here (staged), handed over in blocks to be stored (storage/spill_files), and read back in
// order as the queue has room; then the client is live again. What is read back costs the
// client's own notifications, not the whole stream filtered once more. When the store refuses a
// block (its budget), the block stays here as the spill's last part and the client reads the
// log from the number after it, once the spill is read.
//
// Resume (<user>|<last>[|<epoch>]): decide_resume says where delivery continues and whether
// that is everything after <last>; the client is told so in a status line first.
//
// Everything here runs on the daemon's one thread; nothing here blocks or allocates on the
// common path of live delivery but the queue's growth.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/core/history.hpp"
#include "eventserver/core/log_pipeline.hpp"
#include "eventserver/core/send_buffer.hpp"
#include "eventserver/core/user_filter.hpp"

namespace eventserver {

// How a transport frames each line it sends.
enum class line_format : std::uint8_t {
  crlf,  // "payload\r\n", as the event source sent it (TCP, TLS)
  lf,    // "payload\n" (WebSocket: the transport drops the last '\n' of each frame)
};

// Why a registered client was cut off.
enum class cut_off_reason : std::uint8_t {
  slow,            // its queue passed maxClientQueueBytes and there is no history to catch up from
  stuck,           // it took no byte for clientWriteTimeoutMs
  out_of_history,  // in catch-up, history no longer holds the number it needs next
  token_expired,   // clientAuth jwt: its newest token expired
  token_refused,   // clientAuth jwt: a fresh token was refused, or sent too often
};

// What is queued for a client cut off for these will never be read: the connection is reset
// (ECONNRESET, its buffers freed at once). A token's end is said instead (a WebSocket close code).
constexpr bool resets_connection(cut_off_reason why) noexcept { return why <= cut_off_reason::out_of_history; }

// Where a resume continues: the notifications of `epoch` after `after`; `complete` when they
// are all the client missed since the position it gave.
struct resume_point {
  stream_epoch epoch = 1;
  sequence_number after = 0;
  bool complete = false;
  friend bool operator==(const resume_point&, const resume_point&) = default;
};

// The resume of a client whose last notification was `last` (of `epoch`, when it said),
// against the stream at `applied` whose history still holds applied.epoch from `first_kept`
// (0: none of it, or no history at all).
resume_point decide_resume(sequence_number last, std::optional<stream_epoch> epoch, log_position applied,
                           sequence_number first_kept) noexcept;

// Whether a resume at `last` (of `epoch`, when the client said) names a position past
// `applied`: the stream got there (another edge served it) and this daemon has yet to. An edge
// waits for it, bounded (cluster.resumeWaitMs), rather than answer `incomplete` at once.
bool resume_ahead(sequence_number last, std::optional<stream_epoch> epoch, log_position applied) noexcept;

// How much of `lines` (whole lines) one transport write takes: the longest run of whole lines
// within `max` bytes, or the first line alone when it is longer. A write never splits a line.
std::size_t whole_lines_within(std::string_view lines, std::size_t max) noexcept;

class client_stream {
 public:
  enum class mode : std::uint8_t { handshake, live, catching_up, cut_off, closed };

  // What offer() decided for a live notification.
  enum class offer_result : std::uint8_t {
    queued,       // appended to the queue
    write_first,  // it would pass the write batch: write what is queued, then offer it again
    over_bound,   // it would pass max_queue_bytes even after a write: catch up or cut off
    spilled,      // ... and the stream may spill: it does, from this one (kept, first)
    kept,         // spilling: kept with the ones before it
    block_ready,  // kept, and a block is ready for the store (take_spill_block())
    in_history,   // in catch-up: the client reads it from history later
    dropped,      // no longer delivering (closing, cut off, finishing)
  };

  // What a client in catch-up does next (next_read()).
  enum class read_step : std::uint8_t {
    none,     // nothing: not catching up, a read is in flight, or shutting down
    wait,     // its queue has too little room: a write brings it back here
    go_live,  // it has read everything applied: it is live now (the cursor is gone)
    read,     // read history: the request given
    read_spill,  // read the spill: at most request.max_bytes
    queued,   // the spill's last part, kept here, is queued: write, then ask again
  };

  // What a read's answer did (take_history()).
  enum class chunk_result : std::uint8_t {
    ignored,         // not catching up any more
    out_of_history,  // history no longer has the number asked for: cut it off
    retry_later,     // applied but not readable yet: ask again in a moment
    taken,           // its notifications (if any) are queued: write, then read on
  };

  // A read of history asks for at least this much room in the queue (or half the queue when
  // that is smaller), and for at most max_history_read bytes.
  static constexpr std::size_t min_history_read = 16 * 1024;
  static constexpr std::size_t max_history_read = 256 * 1024;
  // Buffers that grew during a burst are released once drained.
  static constexpr std::size_t keep_buffer_capacity = 64 * 1024;

  // `write_batch_bytes` is capped at `max_queue_bytes`.
  client_stream(std::size_t max_queue_bytes, std::size_t write_batch_bytes, line_format lines) noexcept;

  mode state() const noexcept { return state_; }
  bool registered() const noexcept { return state_ == mode::live || state_ == mode::catching_up; }
  bool live() const noexcept { return state_ == mode::live; }
  bool catching_up() const noexcept { return state_ == mode::catching_up; }
  bool finishing() const noexcept { return finishing_; }
  std::optional<cut_off_reason> cut_reason() const noexcept { return cut_reason_; }

  // --- Registration ----------------------------------------------------------------------
  void register_live() noexcept { state_ = mode::live; }
  // A resume: in catch-up (live notifications wait in history) with status lines, while the
  // session finds whom the user followed at the resume point; then begin_resume().
  void register_resuming() noexcept {
    state_ = mode::catching_up;
    status_lines_ = true;
  }
  // Registered for a resume and begin_resume() not called yet.
  bool awaiting_resume() const noexcept { return state_ == mode::catching_up && !cursor_ && !spill_; }
  // Queues "resumed|<epoch>|<after>|complete|incomplete" and starts the catch-up after `at`.
  void begin_resume(user_id user, const resume_point& at, std::vector<user_id> following);

  // --- Live delivery (the hot path) ------------------------------------------------------
  // `may_write_first`: no write is in flight and none was tried for this notification.
  offer_result offer(sequence_number seq, line_ref line, bool may_write_first) {
    if (state_ != mode::live || finishing_) return offer_aside(line);
    const std::size_t needed = line.size();
    if (may_write_first && queued_bytes() + needed > write_batch_bytes_) return offer_result::write_first;
    if (queued_bytes() + needed > max_queue_bytes_) return past_bound(line);
    append_line(line);
    last_queued_seq_ = seq;
    ++notifications_;
    return offer_result::queued;
  }
  // A new epoch began: a live client that resumed is told ("epoch|<n>"); true when queued.
  // A client in catch-up meets it when its history of the old epoch ends.
  bool announce_epoch(stream_epoch epoch);

  // --- The queue and the transport -------------------------------------------------------
  std::size_t queued_bytes() const noexcept { return queue_.size() - sent_; }
  std::span<const char> unsent() const noexcept { return {queue_.data() + sent_, queued_bytes()}; }
  // The transport took the first `bytes` of unsent(). True when that emptied the queue.
  bool written(std::size_t bytes);

  // --- Catch-up --------------------------------------------------------------------------
  // offer() said over_bound for `seq` of `epoch`. With history the client reads on from `seq`
  // in catch-up (`following`: whom the user follows now), and true is returned. Without, it is
  // cut off as slow (its queue freed): false.
  bool fall_behind(bool has_history, user_id user, stream_epoch epoch, sequence_number seq,
                   std::span<const user_id> following);
  // From number `next` of `epoch`, `following` being whom the user followed just before it.
  void start_catch_up(user_id user, stream_epoch epoch, sequence_number next, std::vector<user_id> following);
  // The next step of a catch-up, with the stream at `applied`; `reader` names the client to
  // the history. A read marks the cursor busy until take_history().
  read_step next_read(log_position applied, std::uint64_t reader, history_request& request);
  // The answer to the read next_read() asked for; `taken` counts the notifications queued.
  chunk_result take_history(const history_chunk& chunk, log_position applied, std::uint64_t& taken);
  // Where the catch-up stands: the epoch and the next number it reads (none when live).
  std::optional<log_position> cursor_position() const noexcept;
  bool has_cursor() const noexcept { return cursor_ != nullptr; }

  // --- Spill ------------------------------------------------------------------------------
  // Blocks of this size are handed to the store.
  static constexpr std::size_t spill_block_bytes = 64 * 1024;
  // Past its bound the client spills (offer: spilled) rather than asks (over_bound): the
  // session has a store.
  void allow_spill() noexcept { may_spill_ = true; }
  bool spilling() const noexcept { return spill_ != nullptr; }
  // The staged lines, to be handed to the store (counted as stored from now).
  std::vector<char> take_spill_block();
  // The store refused `block` (its budget): it is the spill's last part, and the client reads
  // the log from `next` of `epoch` once the spill is read (`following`: whom `user` follows
  // just before `next`).
  void spill_refused(std::vector<char> block, user_id user, stream_epoch epoch, sequence_number next,
                     std::span<const user_id> following);
  // The answer to a read_spill: whole lines, queued. False when it brought nothing although
  // the store holds more (it failed): the client is to be cut off.
  bool take_spill(std::span<const char> bytes);
  std::uint64_t spilled_notifications() const noexcept { return spilled_notifications_; }

  // --- The end ---------------------------------------------------------------------------
  // Shutdown: what is queued is sent, nothing more (a client in catch-up stops reading).
  void finish() noexcept;
  // Cut off for a policy: no more deliveries, the queue freed at once.
  void cut_off(cut_off_reason why) noexcept;
  // A write failed: no more deliveries (the session closes it).
  void broken() noexcept { state_ = mode::cut_off; }
  // Closed; true when it had been registered (or cut off after registering).
  bool close() noexcept;

  // --- What the admin endpoints show -----------------------------------------------------
  std::uint64_t notifications() const noexcept { return notifications_; }
  std::uint64_t history_notifications() const noexcept { return history_notifications_; }
  sequence_number last_sent() const noexcept { return last_sent_seq_; }
  // Applied events not yet sent to it: what is queued, or, in catch-up, what it has yet to
  // read. `processed_head`: the last number the daemon applied, of `epoch`.
  std::uint64_t behind(sequence_number processed_head, stream_epoch epoch) const noexcept;

 private:
  struct cursor {
    stream_epoch epoch;
    sequence_number next;
    user_filter filter;
    bool reading = false;
  };
  struct spill_state {
    std::vector<char> staged;      // lines kept here, in the transport's format
    std::uint64_t stored = 0;      // bytes handed to the store and not read back
    bool reading = false;
    std::optional<cursor> then;    // the log's part, after the spill (the store refused a block)
  };
  void stage(line_ref line);
  void keep(line_ref line);  // a notification staged and counted
  // offer()'s uncommon outcomes, out of its body (a fan-out calls it for every client).
  [[gnu::noinline]] offer_result offer_aside(line_ref line);
  [[gnu::noinline]] offer_result past_bound(line_ref line);
  read_step next_spill_read(history_request& request);
  void queue_lines(std::span<const char> bytes);

  // One line (a notification or a status line, its "\r\n" included) in the transport's format.
  void append_line(line_ref line) {
    if (lines_ == line_format::crlf) {
      if (queue_.size() + line.size() > queue_.capacity()) grow_queue(line.size());
      queue_.append_short(line);
      return;
    }
    append_lf(line);
  }
  void append_lf(line_ref line);
  void append_status(std::string_view line) { append_line(line); }
  void grow_queue(std::size_t needed);

  // What offer() touches first: a fan-out visits many clients in turn, each usually out of
  // the L1 cache, so these span as few cache lines as possible.
  send_buffer queue_;  // bytes before sent_ are already written
  std::size_t sent_ = 0;
  std::size_t max_queue_bytes_;
  std::size_t write_batch_bytes_;  // at most max_queue_bytes_
  sequence_number last_queued_seq_ = 0;  // newest notification in queue_
  std::uint64_t notifications_ = 0;
  mode state_ = mode::handshake;
  line_format lines_;
  bool finishing_ = false;
  bool status_lines_ = false;  // it resumed: it is told of resumes and new epochs
  bool may_spill_ = false;
  std::optional<cut_off_reason> cut_reason_;

  sequence_number last_sent_seq_ = 0;  // newest notification fully written
  std::uint64_t history_notifications_ = 0;
  // On the heap, made only when needed: every connection has a stream, few fall behind.
  std::unique_ptr<cursor> cursor_;
  std::unique_ptr<spill_state> spill_;
  std::uint64_t spilled_notifications_ = 0;
};

}  // namespace eventserver
