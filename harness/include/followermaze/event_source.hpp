#pragma once
// The event source: generates the stream, computes every verified connection's expectations
// as it goes (the model sees events in sequence order, before shuffling), and writes shuffled
// batches to the daemon's event port.
//
// Batches of 1..maxEventSourceBatchSize events are shuffled and appended to one reusable
// buffer until it holds a chunk (64 KiB), which goes out in as few send() calls as the socket
// allows. A batch's expectations are published when its last byte has been accepted by the
// kernel. Its own thread; it touches the model, the generator and its buffers alone.
//
// What the daemon writes back (docs/protocol.md: `durable|<epoch>|<seq>`, on connecting and as
// the position advances) is read without ever blocking, once per chunk and whenever the source
// waits for the socket; a daemon that writes nothing (the original protocol) changes nothing.
// The reading matters beyond the position: a socket closed with unread bytes in its receive
// queue, or sent a byte after it was closed, answers with a reset, which throws away whatever
// the source had sent that still sat in its kernel's send queue (megabytes, when the daemon is
// behind). So once the daemon has written anything, a connection the source is done with is
// shut down for writing and read until the daemon closes its end ("lingering"), and only then
// closed.
//
// Chaos, all driven by a seeded generator of its own:
//  - garbage: before a line, at the garbage rate, a line with no usable sequence number or a
//    duplicate of an already-sent sequence number with a broadcast body (the server must
//    drop both); valid lines end in a bare "\n" at the same rate. Bad-body slots come from
//    the generator (they consume a sequence number).
//  - reconnect: the connection is closed in the middle of a shuffled batch and a new one
//    carries on, so events are pending in the daemon across the switch.
//
// Surviving restarts (--survive-restarts): the first durable line names the run's stream
// (stream_start_from); every chunk sent stays in a retained_stream until the daemon reports it
// durable (bounded by --restart-buffer: past it the source waits). A broken connection is
// reopened, retrying for --restart-timeout, and the source resends from the position the new
// connection's first durable line reports (plan_resend): every held batch holding a number
// above it, then the rest of the current chunk. At the end the source stays until the daemon
// reports the whole stream durable, so a kill after the last batch still loses nothing.

#include <cstdint>
#include <optional>
#include <vector>

#include "followermaze/event_generator.hpp"
#include "followermaze/expectation_channel.hpp"
#include "followermaze/expectation_model.hpp"
#include "followermaze/options.hpp"
#include "followermaze/prng.hpp"
#include "followermaze/protocol_lines.hpp"
#include "followermaze/retained_stream.hpp"
#include "followermaze/run_state.hpp"

namespace followermaze {

struct source_report {
  std::uint64_t start_ns = 0;          // first byte about to be written
  std::uint64_t end_ns = 0;            // last byte accepted
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t garbage_lines = 0;     // no usable sequence number
  std::uint64_t duplicate_lines = 0;   // already-sent sequence number, broadcast body
  std::uint64_t bad_body_lines = 0;    // fresh sequence number, malformed body
  std::uint64_t bare_lf_lines = 0;
  std::vector<std::uint64_t> stuck_bytes;  // bytes addressed to each stuck reader
  std::uint64_t verifier_waits = 0;    // chunks held back by maxInFlight

  // What the daemon wrote back.
  std::uint64_t durable_lines = 0;
  std::uint64_t unknown_lines = 0;     // lines from the daemon that are not durable lines
  std::optional<stream_position> first_durable;  // on the first connection
  std::optional<stream_position> last_durable;
  std::uint64_t stream_epoch = 0;      // 0: the daemon never said
  std::uint64_t lingered = 0;          // connections read until the daemon closed them
  std::uint64_t lingered_unclosed = 0;  // ... that the daemon had not closed in time

  // --survive-restarts.
  std::uint64_t recoveries = 0;        // broken connections reopened and resent over (not chaos switches)
  std::uint64_t resent_bytes = 0;
  std::uint64_t starts_over = 0;       // recoveries that had to begin the stream again (older epoch)
  std::uint64_t ones_brought_forward = 0;
  std::uint64_t durable_waits = 0;     // chunks held back by restart-buffer
  std::uint64_t retained_peak_bytes = 0;
};

class event_source {
 public:
  event_source(const options& opts, const generator_settings& settings, expectation_model& model,
               expectation_channel& channel, run_state& state);
  ~event_source();
  event_source(const event_source&) = delete;
  event_source& operator=(const event_source&) = delete;

  // The thread body: stream everything, publish every expectation, close the channel. With
  // --observe: generate and publish only, paced by this process's verifier (wait_for_verifier).
  void run();

  const source_report& report() const noexcept { return report_; }

 private:
  struct batch_mark {
    std::size_t byte_end;     // the batch's last byte is buffer_[byte_end - 1]
    std::size_t staged_end;   // its expectations are chunk_->staged[..staged_end)
    std::uint64_t last_seq;
  };
  // A private message to a stuck reader in the chunk being built: when its batch is accepted by
  // the kernel, run_state learns the time (--chaos-stuck-timeout's reference point).
  struct stuck_mark {
    std::size_t batch;  // index in batches_
    std::uint32_t reader;
    std::uint32_t bytes;
  };
  // How an I/O step on the daemon connection ended.
  enum class io : std::uint8_t { ok, broken, failed };

  bool build_chunk();
  bool send_chunk();
  // --observe: another process sends the stream; the chunk's expectations hold as it is built.
  void publish_unsent_chunk();
  bool wait_for_verifier();
  void pace();
  bool open_first_connection();
  bool open_connection();
  // A connected socket becomes the source's connection (with --survive-restarts it asks for the
  // durable position at once). False when that ask cannot be sent.
  bool adopt_connection(int fd);
  // Done with fd_: a FIN after the data, then closed now or, once the daemon has spoken,
  // read until it closes its end (see the top of this file).
  void retire_connection() noexcept;
  // The end of the run: fd_ retired the same way, its durable lines still read.
  void finish_connection(std::uint64_t deadline_ns);
  void service_lingering(std::uint64_t deadline_ns, bool wait);
  void close_connection() noexcept;
  void ensure_room(std::size_t bytes);
  void write_event_line(const formatted_line& line);
  void account(const event& e, const formatted_line& line);
  void maybe_write_garbage(std::uint64_t batch_first_seq);

  // What the daemon wrote on fd_, read without blocking; `broken` on end of stream or an error,
  // `failed` when the run is stopping.
  io read_daemon();
  void on_durable_lines();
  // Counts what the current reader saw and starts a fresh one for a new connection.
  void reset_reader();
  // Survive mode.
  bool connect_until(std::uint64_t deadline_ns);
  io await_first_durable(std::uint64_t deadline_ns);
  // Reopens the connection and resends what the daemon lacks; on success the current chunk
  // resumes from *resume_from (the first number to send again). keep_old: the old connection
  // still works (a chaos switch) and lingers instead of being dropped.
  bool recover(bool keep_old, std::uint64_t& resume_from);
  io send_range(const char* data, std::size_t size);
  bool wait_for_durable(std::uint64_t target, bool room);
  void bring_one_forward_in_chunk(std::uint64_t old_position);
  void retain_chunk();

  const options& opts_;
  expectation_model& model_;
  expectation_channel& channel_;
  run_state& state_;
  event_generator generator_;
  prng batch_rng_;  // batch sizes and shuffles
  prng chaos_rng_;  // garbage choices

  int fd_ = -1;
  bool peer_closed_ = false;  // fd_ read end of stream or an error: read it no more
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  expectation_chunk* chunk_ = nullptr;  // the chunk being built or sent; the channel owns it
  std::vector<batch_mark> batches_;
  std::vector<std::uint32_t> order_;    // the current batch's lines, shuffled
  decimal_counter seq_text_{0};         // the last generated sequence number, as text
  std::size_t reconnect_at_ = 0;  // byte offset in the chunk where the connection switches
  bool reconnect_pending_ = false;
  std::uint64_t next_reconnect_seq_ = 0;  // 0: no more reconnects
  std::uint32_t reconnects_planned_ = 0;
  std::uint64_t duplicate_floor_ = 1;  // lowest sequence number sent earlier on this connection
  std::uint64_t chunk_first_seq_ = 1;
  user_id first_stuck_user_;
  std::vector<stuck_mark> stuck_marks_;  // the current chunk's, in batch order

  durable_reader reader_;       // fd_'s
  bool daemon_talks_ = false;   // the daemon has written on a source connection
  bool learn_stream_ = true;    // the current connection's first durable line may name the run's stream
  std::vector<int> lingering_;  // retired connections read until the daemon closes them
  std::vector<char> read_buffer_;

  std::optional<stream_start> stream_;  // this run's stream, once the daemon said
  std::uint64_t durable_ = 0;           // newest durable number of this run's stream
  std::uint64_t durable_changed_ns_ = 0;
  retained_stream retained_;
  bool resending_ = false;  // retained_.resend is under way: nothing may be retired
  std::vector<sent_batch> sent_batches_;  // scratch for retain_chunk

  source_report report_;
};

}  // namespace followermaze
