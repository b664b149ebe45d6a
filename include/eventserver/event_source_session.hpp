#pragma once
// One event-source connection: reads large chunks straight into a line_reader and feeds
// each line to the dispatcher.
//
// When the reorder window is full, only the awaited sequence number can enter. A producer
// that shuffles its batches often has that number a few lines further on, behind lines it
// cannot place yet: the session takes it out of its buffer, keeping the others in order.
// When it has not read that far, it reads on while its buffer has room; only with a full
// buffer does it stop reading (TCP pushes back on the producer) until the window has room.

#include <memory>
#include <string>

#include "eventserver/asio.hpp"
#include "eventserver/line_reader.hpp"

namespace eventserver {

class server;

class event_source_session : public std::enable_shared_from_this<event_source_session> {
 public:
  event_source_session(tcp::socket socket, server& owner);
  ~event_source_session();

  void start();
  void resume();  // called by the server once the window has room
  void stop();    // shutdown: stop reading, close
  // True once the producer has closed its side (or the connection failed), even while
  // unread data is still queued in the kernel. Does not read.
  bool peer_has_left();

 private:
  void do_read();
  void on_read(const error_code& ec, std::size_t bytes);
  void process();
  bool take_awaited_line();
  void wait_for_room();
  void end_batch();
  void finish();
  void report_overlong();

  tcp::socket socket_;
  server& server_;
  line_reader reader_;
  std::uint64_t overlong_reported_ = 0;
  std::uint64_t lines_ = 0;
  std::string peer_;
  error_code peer_error_;       // why the stream ended (eof when the producer closed)
  bool read_pending_ = false;   // an async read is outstanding
  bool peer_done_ = false;      // the stream ended; buffered lines are still to be processed
  bool paused_ = false;         // waiting in the server's list for room in the window
  bool finished_ = false;
  bool stopped_ = false;
};

}  // namespace eventserver
