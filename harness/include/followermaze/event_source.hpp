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
// Chaos, all driven by a seeded generator of its own:
//  - garbage: before a line, at the garbage rate, a line with no usable sequence number or a
//    duplicate of an already-sent sequence number with a broadcast body (the server must
//    drop both); valid lines end in a bare "\n" at the same rate. Bad-body slots come from
//    the generator (they consume a sequence number).
//  - reconnect: the connection is closed in the middle of a shuffled batch and a new one
//    carries on, so events are pending in the daemon across the switch.

#include <cstdint>
#include <vector>

#include "followermaze/event_generator.hpp"
#include "followermaze/expectation_channel.hpp"
#include "followermaze/expectation_model.hpp"
#include "followermaze/options.hpp"
#include "followermaze/prng.hpp"
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
};

class event_source {
 public:
  event_source(const options& opts, const generator_settings& settings, expectation_model& model,
               expectation_channel& channel, run_state& state);

  // The thread body: stream everything, publish every expectation, close the channel.
  void run();

  const source_report& report() const noexcept { return report_; }

 private:
  struct batch_mark {
    std::size_t byte_end;     // the batch's last byte is buffer_[byte_end - 1]
    std::size_t staged_end;   // its expectations are chunk_->staged[..staged_end)
    std::uint64_t last_seq;
  };

  bool build_chunk();
  bool send_chunk();
  bool wait_for_verifier();
  void pace();
  bool open_connection();
  void close_connection() noexcept;
  void ensure_room(std::size_t bytes);
  void write_event_line(const formatted_line& line);
  void account(const event& e, const formatted_line& line);
  void maybe_write_garbage(std::uint64_t batch_first_seq);

  const options& opts_;
  expectation_model& model_;
  expectation_channel& channel_;
  run_state& state_;
  event_generator generator_;
  prng batch_rng_;  // batch sizes and shuffles
  prng chaos_rng_;  // garbage choices

  int fd_ = -1;
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
  user_id first_stuck_user_;
  source_report report_;
};

}  // namespace followermaze
