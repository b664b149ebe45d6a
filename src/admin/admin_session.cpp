#include "eventserver/admin/admin_session.hpp"

#include <spdlog/spdlog.h>

#include "eventserver/admin/admin_views.hpp"

namespace eventserver {

namespace http = boost::beast::http;

namespace {
constexpr std::chrono::seconds admin_idle_timeout{10};
constexpr std::uint32_t admin_header_limit = 8 * 1024;
}  // namespace

admin_session::admin_session(tcp::socket socket, admin_hub& hub) : stream_(std::move(socket)), hub_(hub) {}

admin_session::~admin_session() { hub_.admin_closed(*this); }

void admin_session::start() {
  hub_.admin_opened(*this);
  do_read();
}

void admin_session::close() {
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void admin_session::do_read() {
  parser_.emplace();
  parser_->header_limit(admin_header_limit);
  parser_->body_limit(0);  // every endpoint is a GET
  stream_.expires_after(admin_idle_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_read(ec); });
}

void admin_session::on_read(const error_code& ec) {
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
  } else {
    response_ = respond(parser_->get());
  }
  response_.set(http::field::server, "eventserver");
  response_.prepare_payload();
  const bool keep_alive = response_.keep_alive();
  http::async_write(stream_, response_, [self = shared_from_this(), keep_alive](const error_code& write_ec, std::size_t) {
    self->on_write(write_ec, keep_alive);
  });
}

admin_session::response admin_session::respond(const http::request<http::empty_body>& request) {
  const auto text = [&](http::status status, std::string body, std::string_view type = "text/plain; charset=utf-8") {
    response res(status, request.version());
    res.set(http::field::content_type, type);
    res.keep_alive(request.keep_alive());
    res.body() = std::move(body);
    return res;
  };

  if (request.method() != http::verb::get) {
    auto res = text(http::status::method_not_allowed, "only GET is served\n");
    res.set(http::field::allow, "GET");
    return res;
  }
  const std::string_view target = request.target();
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

  if (path == "/metrics") {
    return text(http::status::ok, render_metrics(hub_.snapshot()), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (path == "/healthz") return text(http::status::ok, "ok\n");
  if (path == "/readyz") {
    const auto problem = hub_.readiness_problem();
    return problem.empty() ? text(http::status::ok, "ready\n")
                          : text(http::status::service_unavailable, "not ready: " + problem + "\n");
  }
  if (path == "/connz") {
    const auto parsed = parse_connz_query(query);
    return parsed ? text(http::status::ok, hub_.connz(*parsed), "application/json")
                 : text(http::status::bad_request,
                        "bad query: /connz takes offset, limit (at most 100000) and user, each a number\n");
  }
  return text(http::status::not_found, "not found; try /metrics, /healthz, /readyz or /connz\n");
}

void admin_session::on_write(const error_code& ec, bool keep_alive) {
  if (ec || !keep_alive || hub_.stopping()) {
    close();
    return;
  }
  do_read();
}

}  // namespace eventserver
