#pragma once
// One event-source connection: reads large chunks straight into a line_reader and feeds
// each line to the dispatcher. When the reorder window is full it stops reading (TCP
// pushes back on the producer) and keeps the line it could not place for later.

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
  void on_read_error(const error_code& ec);
  void process();
  void end_batch();
  void report_overlong();

  tcp::socket socket_;
  server& server_;
  line_reader reader_;
  std::uint64_t overlong_reported_ = 0;
  std::uint64_t lines_ = 0;
  std::string peer_;
  bool stopped_ = false;
};

}  // namespace eventserver
