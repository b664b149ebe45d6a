#include "eventserver/admin/admin_session.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "eventserver/admin/admin_auth.hpp"
#include "eventserver/admin/admin_views.hpp"
#include "eventserver/admin/status_page.hpp"

namespace eventserver {

namespace http = boost::beast::http;

namespace {
constexpr std::chrono::seconds admin_idle_timeout{10};
// A connection's first authorized request must come this soon: a scraper or curl sends it at
// once; a connection that does not is someone who has no token or no business here.
constexpr std::chrono::seconds admin_first_request_timeout{2};
// A /events reader that takes no bytes for this long is gone or stuck: the session ends.
constexpr std::chrono::seconds event_write_timeout{10};
constexpr std::chrono::seconds event_interval{1};
constexpr std::uint32_t admin_header_limit = 8 * 1024;
// /connz describes this many connections per turn of the event loop (a few hundred
// microseconds); the rest of the daemon's work goes on between slices.
constexpr std::size_t connz_slice_connections = 256;

// The page runs only what it carries and what it loads from this origin, and sends no
// Referer (its URL may hold the token).
constexpr std::string_view page_security_policy =
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// A close-delimited body: the stream ends when either side closes, so it needs neither a
// length nor chunking. `retry` is how long a browser waits before reconnecting.
constexpr std::string_view event_stream_header =
    "HTTP/1.1 200 OK\r\n"
    "Server: eventserver\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-store\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Connection: close\r\n"
    "\r\n"
    "retry: 2000\n\n";

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

admin_session::admin_session(tcp::socket socket, admin_hub& hub, std::filesystem::path chart_directory)
    : stream_(std::move(socket)),
      hub_(hub),
      chart_directory_(std::move(chart_directory)),
      tick_(stream_.get_executor()) {}

admin_session::~admin_session() { hub_.admin_closed(*this); }

void admin_session::start() {
  hub_.admin_opened(*this);
  do_read();
}

void admin_session::close() {
  if (closed_) return;
  closed_ = true;
  tick_.cancel();
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

server_snapshot admin_session::snapshot() {
  auto s = hub_.snapshot();
  s.admin_unauthorized = hub_.admin_unauthorized();
  s.admin_first_request_timeouts = hub_.admin_first_request_timeouts();
  return s;
}

void admin_session::do_read() {
  parser_.emplace();
  parser_->header_limit(admin_header_limit);
  parser_->body_limit(0);  // every endpoint is a GET
  stream_.expires_after(authenticated_ ? admin_idle_timeout : admin_first_request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_read(ec); });
}

void admin_session::on_read(const error_code& ec) {
  if (ec == boost::beast::error::timeout && !authenticated_) ++hub_.admin_first_request_timeouts();
  if (ec == http::error::end_of_stream || ec == boost::beast::error::timeout || ec == asio::error::operation_aborted ||
      ec == asio::error::connection_reset) {
    close();
    return;
  }
  if (ec) {
    // Malformed request: say so and hang up.
    response_ = response(http::status::bad_request, 11);
    response_.set(http::field::content_type, "text/plain");
    response_.body() = "bad request: " + ec.message() + "\n";
    response_.keep_alive(false);
    write_response();
    return;
  }
  const auto& req = parser_->get();
  const std::string_view target = req.target();
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  if (req.method() == http::verb::get && path == "/events" &&
      admin_authorized(hub_.admin_token(), path, query, req[http::field::authorization])) {
    authenticated_ = true;
    start_events();
    return;
  }
  if (req.method() == http::verb::get && path == "/connz" &&
      admin_authorized(hub_.admin_token(), path, query, req[http::field::authorization])) {
    if (auto parsed = parse_connz_query(query)) {
      authenticated_ = true;
      connz_.emplace();
      connz_->query = *parsed;
      connz_version_ = req.version();
      connz_keep_alive_ = req.keep_alive();
      build_connz();
      return;
    }
  }
  response_ = respond(req, path, query);
  write_response();
}

void admin_session::build_connz() {
  if (closed_) return;
  if (!hub_.connz_slice(*connz_, connz_slice_connections)) {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->build_connz(); });
    return;
  }
  response_ = response(http::status::ok, connz_version_);
  response_.set(http::field::content_type, "application/json");
  response_.keep_alive(connz_keep_alive_);
  response_.body() = std::move(connz_->body);
  connz_.reset();
  write_response();
}

void admin_session::write_response() {
  response_.set(http::field::server, "eventserver");
  response_.prepare_payload();
  const bool keep_alive = response_.keep_alive();
  http::async_write(stream_, response_, [self = shared_from_this(), keep_alive](const error_code& write_ec, std::size_t) {
    self->on_write(write_ec, keep_alive);
  });
}

admin_session::response admin_session::respond(const request& req, std::string_view path, std::string_view query) {
  const auto text = [&](http::status status, std::string body, std::string_view type = "text/plain; charset=utf-8") {
    response res(status, req.version());
    res.set(http::field::content_type, type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    return res;
  };

  // Before anything else, so that without the token even a 404 or a 405 says nothing.
  if (!admin_authorized(hub_.admin_token(), path, query, req[http::field::authorization])) {
    ++hub_.admin_unauthorized();
    auto res = text(http::status::unauthorized,
                    "unauthorized: send \"Authorization: Bearer <token>\" (adminTokenFile); "
                    "in a browser, open /?token=<token>\n");
    res.set(http::field::www_authenticate, R"(Bearer realm="eventserver")");
    res.keep_alive(false);  // no second guess on this connection, and its slot is free at once
    return res;
  }
  authenticated_ = true;
  if (req.method() != http::verb::get) {
    auto res = text(http::status::method_not_allowed, "only GET is served\n");
    res.set(http::field::allow, "GET");
    return res;
  }

  if (path == "/metrics") {
    return text(http::status::ok, render_metrics(snapshot()), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/healthz") return text(http::status::ok, "ok\n");
  if (path == "/readyz") {
    const auto problem = hub_.readiness_problem();
    return problem.empty() ? text(http::status::ok, "ready\n")
                          : text(http::status::service_unavailable, "not ready: " + problem + "\n");
  }
  if (path == "/connz") {  // a good query is answered in slices (build_connz)
    return text(http::status::bad_request, "bad query: /connz takes offset, limit (at most 100000) and user, each a number\n");
  }
  if (path == "/") {
    auto res = text(http::status::ok, std::string(status_page_html()), "text/html; charset=utf-8");
    res.set("Content-Security-Policy", page_security_policy);
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Frame-Options", "DENY");
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "no-store");
    return res;
  }
  if (path == "/static/chart.js") {
    // Read on each request (a page load): the file is small, and a package upgrade shows at once.
    auto script = load_chart_js(chart_directory_);
    if (!script) {
      return text(http::status::not_found, "Chart.js is not installed (Debian package libjs-chart.js)\n");
    }
    auto res = text(http::status::ok, std::move(*script), "text/javascript; charset=utf-8");
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "private, max-age=3600");
    return res;
  }
  return text(http::status::not_found, "not found; try /, /metrics, /healthz, /readyz, /connz or /events\n");
}

void admin_session::on_write(const error_code& ec, bool keep_alive) {
  if (ec || !keep_alive || hub_.stopping()) {
    close();
    return;
  }
  do_read();
}

// --- /events -------------------------------------------------------------------------------

void admin_session::start_events() {
  if (hub_.stopping()) {
    close();
    return;
  }
  event_out_.assign(event_stream_header);
  send_event();
  tick_.expires_after(event_interval);
  arm_tick();
  // The peer sends nothing more on an event stream; readable now means it closed (or broke
  // protocol): either way the session ends at once instead of at its next write.
  stream_.socket().async_wait(tcp::socket::wait_read,
                              [self = shared_from_this()](const error_code& wait_ec) { self->on_peer_readable(wait_ec); });
}

void admin_session::send_event() {
  // A peer that has not taken the last event yet skips this one: each is a full snapshot, so
  // nothing is lost by not queueing them, and the session's memory stays one event.
  if (closed_ || event_in_flight_) return;
  event_out_ += "data: ";
  event_out_ += render_status_json(snapshot(), unix_now_ms());
  event_out_ += "\n\n";
  event_in_flight_ = true;
  stream_.expires_after(event_write_timeout);
  asio::async_write(stream_, asio::buffer(event_out_),
                    [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_event_written(ec); });
}

void admin_session::on_event_written(const error_code& ec) {
  event_in_flight_ = false;
  if (ec) {  // peer gone, write deadline passed, or close()
    close();
    return;
  }
  event_out_.clear();
}

void admin_session::arm_tick() {
  tick_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_tick(ec); });
}

void admin_session::on_tick(const error_code& ec) {
  if (ec || closed_) return;
  if (hub_.stopping()) {
    close();
    return;
  }
  send_event();
  // From the last deadline, not from now: one event a second without drift, and no burst
  // of catching up after the loop was busy for longer than that.
  const auto next = tick_.expiry() + event_interval;
  if (next > std::chrono::steady_clock::now()) {
    tick_.expires_at(next);
  } else {
    tick_.expires_after(event_interval);
  }
  arm_tick();
}

void admin_session::on_peer_readable(const error_code& ec) {
  if (ec == asio::error::operation_aborted) return;
  close();
}

}  // namespace eventserver
