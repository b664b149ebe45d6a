#pragma once
// One admin HTTP connection (Boost.Beast): GET /metrics, /healthz, /readyz, /connz. Runs on
// the daemon's io_context like everything else; each response is built from the state at
// that instant, in one handler, so a scrape never blocks or reorders the event path.

#include <memory>
#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "eventserver/admin/admin_hub.hpp"
#include "eventserver/net/asio.hpp"

namespace eventserver {

class admin_session : public std::enable_shared_from_this<admin_session> {
 public:
  admin_session(tcp::socket socket, admin_hub& hub);
  ~admin_session();

  void start();
  void close();

 private:
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  void do_read();
  void on_read(const error_code& ec);
  response respond(const boost::beast::http::request<boost::beast::http::empty_body>& request);
  void on_write(const error_code& ec, bool keep_alive);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  response response_;
  admin_hub& hub_;
};

}  // namespace eventserver
