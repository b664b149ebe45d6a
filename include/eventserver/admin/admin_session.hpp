#pragma once
// One admin HTTP connection (Boost.Beast): GET /metrics, /healthz, /readyz, /connz, the status
// page (/, /static/chart.js) and its live feed /events. Runs on the daemon's io_context like
// everything else; each response is built from the state at that instant, in one handler, so
// a scrape never blocks or reorders the event path.
//
// /events (server-sent events) keeps the connection: the session writes one snapshot right
// away and then one a second from its own timer, until the peer goes, a write stalls past its
// deadline, or close() (the server's shutdown) ends it. Such a session still counts against
// the server's limit of admin connections.
//
// Until it has sent a request the token authorizes (any request, when no token is set), a
// connection is unauthenticated: it has admin_first_request_timeout for it, a 401 closes it,
// and at the connection limit the server closes the unauthenticated one that has waited
// longest to make way for a newcomer. So connections without the token can hold the admin
// port for a moment at most, never keep its operator out.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "eventserver/admin/admin_hub.hpp"
#include "eventserver/admin/status_page.hpp"
#include "eventserver/net/asio.hpp"

namespace eventserver {

class admin_session : public std::enable_shared_from_this<admin_session> {
 public:
  // /static/chart.js is read from `chart_directory` (Debian's libjs-chart.js by default; a test
  // points it at a directory of its own).
  admin_session(tcp::socket socket, admin_hub& hub,
                std::filesystem::path chart_directory = std::filesystem::path(chart_js_directory));
  ~admin_session();

  void start();
  // Cancels whatever is pending (read, write, timer); the handlers then end the session.
  void close();

  // It has sent a request that passed the token check (see above).
  bool authenticated() const noexcept { return authenticated_; }
  bool closed() const noexcept { return closed_; }
  std::chrono::steady_clock::time_point opened_at() const noexcept { return opened_at_; }

 private:
  using request = boost::beast::http::request<boost::beast::http::empty_body>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  void do_read();
  void on_read(const error_code& ec);
  response respond(const request& req, std::string_view path, std::string_view query);
  void write_response();
  void on_write(const error_code& ec, bool keep_alive);
  // /connz: a slice per turn of the event loop, then the response.
  void build_connz();

  // Server-sent events.
  void start_events();
  void send_event();
  void on_event_written(const error_code& ec);
  void arm_tick();
  void on_tick(const error_code& ec);
  void on_peer_readable(const error_code& ec);

  // The hub's snapshot with the admin layer's own counter.
  server_snapshot snapshot();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  response response_;
  std::optional<connz_build> connz_;  // a /connz answer being built
  unsigned connz_version_ = 11;
  bool connz_keep_alive_ = false;
  admin_hub& hub_;
  std::filesystem::path chart_directory_;
  asio::steady_timer tick_;
  std::string event_out_;         // bytes of the event (or stream header) being written
  bool event_in_flight_ = false;  // at most one write at a time
  bool closed_ = false;
  bool authenticated_ = false;
  std::chrono::steady_clock::time_point opened_at_ = std::chrono::steady_clock::now();
};

}  // namespace eventserver
