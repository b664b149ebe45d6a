#pragma once
// One event-source connection: reads large chunks straight into a line_reader and feeds
// each line to the dispatcher, framed and parsed in one pass when it is well formed.
//
// A line beyond the reorder window cannot enter yet. The lines behind it in the session's
// buffer may (a shuffled batch has the awaited number a few lines on): those go in, the rest
// stays in order. While nothing it holds can enter, the session reads on as long as its buffer
// has room; only with a full buffer does it stop reading (TCP pushes back on the producer)
// until the window moves.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "eventserver/core/line_reader.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/session_hub.hpp"

namespace eventserver {

class event_source_session : public std::enable_shared_from_this<event_source_session> {
 public:
  event_source_session(tcp::socket socket, source_hub& hub);
  ~event_source_session();

  void start();
  void resume();  // called by the server once the window (or the log) has room
  void stop();    // shutdown: stop reading, close
  // True once the producer has closed its side (or the connection failed), even while
  // unread data is still queued in the kernel. Does not read.
  bool peer_has_left();
  // The daemon's durable position moved; a producer that asked (durable?) is told.
  void note_durable(log_position position);
  bool wants_durable() const noexcept { return wants_durable_; }

 private:
  void do_read();
  void on_read(const error_code& ec, std::size_t bytes);
  void process();
  bool take_lines_that_fit();
  void wait_for_room();
  void wait_for_log();
  enum class held : std::uint8_t { no, by_window, by_log };
  held offer_lines(source_input& input);
  bool retry_behind_the_window();
  void ask_for_durable();
  void send_durable();
  void write_durable();
  void end_batch(bool input_idle);
  void finish();
  void report_overlong();

  tcp::socket socket_;
  source_hub& hub_;
  line_reader reader_;
  std::uint64_t overlong_reported_ = 0;
  std::uint64_t lines_ = 0;
  std::string peer_;
  error_code peer_error_;       // why the stream ended (eof when the producer closed)
  bool read_pending_ = false;   // an async read is outstanding
  std::size_t read_size_ = 0;   // what the outstanding read asked for
  bool last_read_filled_ = false;  // the latest read got all it asked for: more is likely waiting
  // When the latest read returned: the arrival of the lines it brought (the latency histograms).
  std::chrono::steady_clock::time_point read_at_{};
  bool peer_done_ = false;      // the stream ended; buffered lines are still to be processed
  bool paused_ = false;         // waiting in the server's list for room in the window
  bool finished_ = false;
  bool stopped_ = false;

  // Starting over (newStreamPolicy): on until this connection sends a line that is not stale.
  dispatcher::start_over_watch start_over_;

  // The durable position, for a producer that asked.
  bool wants_durable_ = false;
  std::optional<log_position> latest_durable_;
  std::optional<log_position> sent_durable_;
  std::chrono::steady_clock::time_point durable_sent_at_{};
  std::string durable_line_;  // the part of the last line not written yet
  bool durable_write_pending_ = false;
  bool durable_timer_armed_ = false;
  asio::steady_timer durable_timer_;
};

}  // namespace eventserver
