// The status page's pieces: the JSON it draws, the bearer-token rules, the static file
// reader; then /, /static/chart.js and /events from a live daemon, and the token enforced by a
// real admin_session in front of a stand-in hub.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/http.hpp"
#include "support/temp_directory.hpp"
#include "eventserver/admin/admin_auth.hpp"
#include "eventserver/admin/admin_session.hpp"
#include "eventserver/admin/status_page.hpp"
#include "support/daemon.hpp"

namespace eventserver {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
using test_support::http_request;
using test_support::metric;
using test_support::next_event_data;
using test_support::read_through;
using test_support::test_config;
using test_support::test_daemon;

// ----------------------------------------------------------------------------------------
// The JSON of /events

TEST(StatusJson, EveryFieldWithItsExactValue) {
  server_snapshot s;
  s.stats.events_processed = 1000;
  s.stats.events_accepted = 1005;
  s.stats.lines_received = 1010;
  s.stats.notifications_delivered = 5000;
  s.stats.notifications_dropped_offline = 7;
  s.stats.notifications_dropped_closing = 3;
  s.stats.bytes_in = 20000;
  s.stats.bytes_out = 90000;
  s.client_connections = 12;
  s.ws_connections = 2;
  s.connected_users = 9;
  s.event_sources = 1;
  s.next_expected = 1001;
  s.head = 1005;
  s.oldest_gap_age = 250ms;
  s.pending_events = 4;
  s.max_pending_events = 100000;
  s.queued_bytes = 512;
  s.follow_edges = 33;
  s.stats.delivery_latency.observe(3ms);
  s.stats.durable_latency.observe(150us, 5);
  s.admin_unauthorized = 3;
  s.uptime_seconds = 12.5;
  s.log.enabled = true;
  s.log.failing = "disk full";
  s.log.bytes = 4096;
  s.log.segments = 2;
  s.log.durable_seq = 1000;
  s.log.epoch = 3;
  connection_info behind;
  behind.user = 42;
  behind.registered = true;
  behind.remote = "127.0.0.1:5000";
  behind.behind = 17;
  behind.queued_bytes = 640;
  behind.last_sequence = 983;
  s.most_behind.push_back(behind);
  s.recent_warnings.push_back({1700000000123, "warning", "slow client <b>7</b> cut off"});

  EXPECT_EQ(render_status_json(s, 1700000000500),
            R"({"time_ms":1700000000500,"uptime_s":12.5,"events_processed":1000,"events_accepted":1005,)"
            R"("lines_received":1010,"notifications_delivered":5000,"notifications_dropped":10,"bytes_in":20000,)"
            R"("bytes_out":90000,"client_connections":12,"ws_connections":2,"connected_users":9,"event_sources":1,)"
            R"("next_expected":1001,"head":1005,"gap_age_ms":250,"window":{"pending":4,"capacity":100000},)"
            R"("queued_bytes":512,"follow_edges":33,"admin_unauthorized":3,)"
            R"("log":{"enabled":true,"recovering":false,"failing":"disk full","bytes":4096,"segments":2,"durable_seq":1000,)"
            R"("epoch":3},)"
            R"("edge":null,)"  // a daemon that is no edge
            R"("most_behind":[{"user":42,"remote":"127.0.0.1:5000","transport":"tcp","mode":"live","behind":17,)"
            R"("queued_bytes":640,"last_sequence":983}],)"
            R"("recent_warnings":[{"time_ms":1700000000123,"level":"warning","message":"slow client <b>7</b> cut off"}],)"
            R"("delivery_latency":{"le":[0.0001,0.0002,0.0005,0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.5,1.0,2.0,5.0,10.0],)"
            R"("counts":[0,0,0,0,0,1,1,1,1,1,1,1,1,1,1,1,1]},)"
            R"("durable_latency":{"le":[0.0001,0.0002,0.0005,0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.5,1.0,2.0,5.0,10.0],)"
            R"("counts":[0,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5]}})");
}

TEST(StatusJson, NoGapNoLogNothingBehind) {
  const auto body = nlohmann::json::parse(render_status_json(server_snapshot{}, 5));
  EXPECT_TRUE(body["gap_age_ms"].is_null());
  EXPECT_EQ(body["log"], nlohmann::json::parse(R"({"enabled":false,"recovering":false,"failing":"","bytes":0,"segments":0,"durable_seq":0,"epoch":1})"));
  EXPECT_EQ(body["most_behind"], nlohmann::json::array());
  EXPECT_EQ(body["recent_warnings"], nlohmann::json::array());
  EXPECT_EQ(body["next_expected"], 1);
  EXPECT_EQ(body["ws_connections"], 0);
}

TEST(StatusJson, BytesThatAreNotUtf8BecomeReplacementCharactersInsteadOfAThrow) {
  server_snapshot s;
  s.recent_warnings.push_back({1, "warning", std::string("bad id \xff\xfe\"</script>\n")});
  std::string text;
  ASSERT_NO_THROW(text = render_status_json(s, 1));
  EXPECT_EQ(text.find('\n'), std::string::npos);  // one line: one `data:` field
  const auto body = nlohmann::json::parse(text);
  EXPECT_EQ(body["recent_warnings"][0]["message"], "bad id \xEF\xBF\xBD\xEF\xBF\xBD\"</script>\n");
}

// ----------------------------------------------------------------------------------------
// The bearer token

TEST(AdminAuth, SecretsEqualComparesWholeValues) {
  EXPECT_TRUE(secrets_equal("s3cret", "s3cret"));
  EXPECT_TRUE(secrets_equal("", ""));
  EXPECT_FALSE(secrets_equal("s3cret", "s3creT"));
  EXPECT_FALSE(secrets_equal("s3cret", "S3cret"));
  EXPECT_FALSE(secrets_equal("s3cret", "s3cre"));
  EXPECT_FALSE(secrets_equal("s3cret", "s3cret "));
  EXPECT_FALSE(secrets_equal("s3cret", ""));
  EXPECT_FALSE(secrets_equal("", "x"));
  EXPECT_FALSE(secrets_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(AdminAuth, BearerCredentials) {
  EXPECT_EQ(bearer_credentials("Bearer abc"), "abc");
  EXPECT_EQ(bearer_credentials("bearer   abc  "), "abc");
  EXPECT_EQ(bearer_credentials("BEARER a.b-c_d+e/f="), "a.b-c_d+e/f=");
  EXPECT_FALSE(bearer_credentials("Basic YWxhZGRpbjpvcGVu"));
  EXPECT_FALSE(bearer_credentials("Bearer"));
  EXPECT_FALSE(bearer_credentials("Bearer   "));
  EXPECT_FALSE(bearer_credentials("Bearerabc"));
  EXPECT_FALSE(bearer_credentials(""));
}

TEST(AdminAuth, QueryParameterIsPercentDecoded) {
  EXPECT_EQ(query_parameter("token=abc", "token"), "abc");
  EXPECT_EQ(query_parameter("a=1&token=a%2Bb%2F%3d&b=2", "token"), "a+b/=");
  EXPECT_EQ(query_parameter("token=a+b", "token"), "a+b");
  EXPECT_EQ(query_parameter("token", "token"), "");
  EXPECT_FALSE(query_parameter("tokens=abc", "token"));
  EXPECT_FALSE(query_parameter("", "token"));
  EXPECT_FALSE(query_parameter("token=%4", "token"));
  EXPECT_FALSE(query_parameter("token=%zz", "token"));
}

TEST(AdminAuth, WhatEachPathAccepts) {
  // No token configured: everything is open.
  EXPECT_TRUE(admin_authorized("", "/metrics", "", ""));
  EXPECT_TRUE(admin_authorized("", "/", "token=whatever", "Bearer whatever"));
  // The header works everywhere.
  for (const auto* path : {"/", "/events", "/static/chart.js", "/metrics", "/connz", "/healthz", "/readyz", "/nowhere"}) {
    SCOPED_TRACE(path);
    EXPECT_TRUE(admin_authorized("s3cret", path, "", "Bearer s3cret"));
    EXPECT_FALSE(admin_authorized("s3cret", path, "", "Bearer s3cre"));
    EXPECT_FALSE(admin_authorized("s3cret", path, "", ""));
  }
  // The query only for the page and what it loads.
  EXPECT_TRUE(admin_authorized("s3cret", "/", "token=s3cret", ""));
  EXPECT_TRUE(admin_authorized("s3cret", "/events", "token=s3cret", ""));
  EXPECT_TRUE(admin_authorized("s3cret", "/static/chart.js", "x=1&token=s3cret", ""));
  EXPECT_FALSE(admin_authorized("s3cret", "/events", "token=wrong", ""));
  EXPECT_FALSE(admin_authorized("s3cret", "/metrics", "token=s3cret", ""));
  EXPECT_FALSE(admin_authorized("s3cret", "/connz", "token=s3cret", ""));
  // A wrong header is not rescued by a right query.
  EXPECT_FALSE(admin_authorized("s3cret", "/", "token=s3cret", "Bearer wrong"));
}

// ----------------------------------------------------------------------------------------
// Static files

class StaticFiles : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& content) { dir_.write(name, content); }
  test_support::temp_directory dir_{"eventserver-static"};
};

TEST_F(StaticFiles, ReadsARegularFileWithinItsBound) {
  write("a.js", "console.log(1);\n");
  EXPECT_EQ(read_static_file(dir_ / "a.js"), "console.log(1);\n");
  EXPECT_EQ(read_static_file(dir_ / "a.js", 16), "console.log(1);\n");
  EXPECT_FALSE(read_static_file(dir_ / "a.js", 15));
}

TEST_F(StaticFiles, RefusesWhatIsNotARegularFile) {
  EXPECT_FALSE(read_static_file(dir_ / "missing.js"));
  EXPECT_FALSE(read_static_file(dir_.path()));
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  EXPECT_FALSE(read_static_file(dir_ / "fifo"));  // and does not hang waiting for a writer
}

TEST_F(StaticFiles, ChartJsIsTheFirstUmdBuildFound) {
  EXPECT_FALSE(load_chart_js(dir_.path()));
  write("chart.js", "esm");  // Chart.js 4's chart.js is an ES module: never served
  EXPECT_FALSE(load_chart_js(dir_.path()));
  write("chart.min.js", "v3");
  EXPECT_EQ(load_chart_js(dir_.path()), "v3");
  write("chart.umd.js", "v4");
  EXPECT_EQ(load_chart_js(dir_.path()), "v4");
}

// ----------------------------------------------------------------------------------------
// Against a live daemon

config with_admin() {
  auto settings = test_config();
  settings.admin_enabled = true;
  return settings;
}

std::uint16_t admin_port(test_daemon& d) {
  return d.on_io([](server& srv) { return srv.admin_endpoint().port(); });
}

TEST(StatusPage, ServesThePageWithItsElementsAndNoExternalReference) {
  test_daemon d(with_admin());
  const auto reply = http_request(admin_port(d), "GET / HTTP/1.1");
  ASSERT_EQ(reply.status, 200);
  EXPECT_THAT(reply.headers, HasSubstr("Content-Type: text/html; charset=utf-8"));
  EXPECT_THAT(reply.headers, HasSubstr("Content-Security-Policy: default-src 'none'"));
  EXPECT_THAT(reply.headers, HasSubstr("Referrer-Policy: no-referrer"));
  EXPECT_EQ(reply.body, status_page_html());
  for (const auto* id : {"events-per-s", "events-processed", "notifications-per-s", "connections", "ws-connections",
                         "next-expected", "gap-age", "window-fill", "log-state", "most-behind", "warnings"}) {
    EXPECT_THAT(reply.body, HasSubstr(std::string("id=\"") + id + "\"")) << id;
  }
  // Nothing from another origin, and data never goes in as markup.
  EXPECT_THAT(reply.body, Not(HasSubstr("http://")));
  EXPECT_THAT(reply.body, Not(HasSubstr("https://")));
  EXPECT_THAT(reply.body, Not(HasSubstr("innerHTML")));
}

TEST(StatusPage, ServesChartJsFromTheSystemOr404) {
  test_daemon d(with_admin());
  const auto reply = http_request(admin_port(d), "GET /static/chart.js HTTP/1.1");
  if (const auto installed = load_chart_js()) {
    ASSERT_EQ(reply.status, 200);
    EXPECT_THAT(reply.headers, HasSubstr("Content-Type: text/javascript"));
    EXPECT_EQ(reply.body, *installed);
  } else {
    EXPECT_EQ(reply.status, 404);
  }
}

TEST(StatusPage, EventsStreamASnapshotAtOnceAndThenEverySecond) {
  test_daemon d(with_admin());
  auto alice = d.connect_user(7);
  ASSERT_TRUE(d.wait_for_registered_connections(1));
  auto source = d.connect_source();
  source.send("1|B\r\n2|P|3|7\r\n4|B\r\n");
  ASSERT_TRUE(d.wait_for_processed(2));
  ASSERT_EQ(alice.read_lines(2).size(), 2u);

  auto stream = test_support::connection::open(admin_port(d));
  stream.send("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  const auto header = read_through(stream, "\r\n\r\n", 5s);
  ASSERT_TRUE(header);
  EXPECT_THAT(*header, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(*header, HasSubstr("Content-Type: text/event-stream"));
  EXPECT_THAT(*header, HasSubstr("Cache-Control: no-store"));

  const auto first = next_event_data(stream, 5s);
  ASSERT_TRUE(first);
  const auto one = nlohmann::json::parse(*first);
  EXPECT_EQ(one["events_processed"], 2);
  EXPECT_EQ(one["next_expected"], 3);
  EXPECT_EQ(one["head"], 4);
  EXPECT_EQ(one["window"]["pending"], 1);
  EXPECT_TRUE(one["gap_age_ms"].is_number());
  EXPECT_EQ(one["client_connections"], 1);
  EXPECT_EQ(one["ws_connections"], 0);
  EXPECT_EQ(one["event_sources"], 1);
  EXPECT_EQ(one["log"]["enabled"], false);
  ASSERT_EQ(one["most_behind"].size(), 1u);
  EXPECT_EQ(one["most_behind"][0]["user"], 7);

  source.send("3|B\r\n");
  ASSERT_TRUE(d.wait_for_processed(4));
  const auto second = next_event_data(stream, 3s);
  ASSERT_TRUE(second);
  const auto two = nlohmann::json::parse(*second);
  EXPECT_EQ(two["events_processed"], 4);
  EXPECT_EQ(two["next_expected"], 5);
  EXPECT_TRUE(two["gap_age_ms"].is_null());
  // A tick is never early (a loaded machine only makes it late): the second snapshot is a
  // second after the first, by the daemon's own clock (10 ms allow for the wall clock's slew).
  const auto apart = two["time_ms"].get<std::int64_t>() - one["time_ms"].get<std::int64_t>();
  EXPECT_GE(apart, 990);

  // The stream ends with the daemon: shutdown closes it and the loop still returns.
  EXPECT_TRUE(d.stop());
  EXPECT_EQ(stream.wait_closed(5s), test_support::read_status::eof);
}

TEST(StatusPage, StreamsCountAgainstTheAdminLimitAndLeavingFreesThemAtOnce) {
  auto settings = with_admin();
  settings.gap_timeout = 500ms;  // the reference clock below
  test_daemon d(settings);
  auto user = d.connect_user(1);
  const auto port = admin_port(d);
  constexpr int max_admin_connections = 32;  // server.cpp
  std::vector<test_support::connection> streams;
  for (int i = 0; i < max_admin_connections; ++i) {
    streams.push_back(test_support::connection::open(port));
    streams.back().send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(next_event_data(streams.back(), 5s)) << i;
  }
  EXPECT_EQ(http_request(port, "GET /healthz HTTP/1.1").status, 0);  // the 33rd is closed unanswered
  streams.clear();
  // The sessions watch for their peer's close, so the slots are free at once, not when the
  // next write finds the peer gone (the second tick after the close: a second or more later).
  // The daemon's own clock tells which: a broadcast held back by a 500 ms gap is delivered
  // after the sessions saw the closes and before any of them ticked twice.
  auto source = d.connect_source();
  source.send_lines({"2|B"});  // 1 is missing
  EXPECT_EQ(user.read_lines(1), (test_support::lines{"2|B"}));
  EXPECT_EQ(http_request(port, "GET /healthz HTTP/1.1").status, 200);
}

// ----------------------------------------------------------------------------------------
// The token, enforced by a real admin_session in front of a stand-in hub (the daemon's token
// comes from its config file).

class token_hub final : public admin_hub {
 public:
  // `chart_directory`: where its sessions look for Chart.js.
  explicit token_hub(std::string token, fs::path chart_directory = fs::path(chart_js_directory))
      : token_(std::move(token)),
        chart_directory_(std::move(chart_directory)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept();
    runner_ = std::async(std::launch::async, [this] { io_.run(); });
  }
  token_hub(const token_hub&) = delete;
  token_hub& operator=(const token_hub&) = delete;
  ~token_hub() {
    asio::post(io_, [this] {
      stopping_ = true;
      acceptor_.close();
      for (auto* session : std::vector<admin_session*>(sessions_.begin(), sessions_.end())) session->close();
    });
    if (runner_.wait_for(test_support::wait_bound) != std::future_status::ready) {
      ADD_FAILURE() << "admin sessions still alive after close()";
      io_.stop();
    }
  }

  std::uint16_t port() const { return port_; }

  void admin_opened(admin_session& session) override { sessions_.insert(&session); }
  void admin_closed(admin_session& session) override { sessions_.erase(&session); }
  server_snapshot snapshot() const override {
    server_snapshot s;
    s.next_expected = 77;
    return s;
  }
  std::string readiness_problem() const override { return {}; }
  bool connz_slice(connz_build& build, std::size_t) const override {
    build.body = "{}\n";
    return true;
  }
  bool stopping() const noexcept override { return stopping_; }
  const std::string& admin_token() const override { return token_; }
  std::uint64_t& admin_unauthorized() override { return unauthorized_; }
  std::uint64_t& admin_first_request_timeouts() override { return first_request_timeouts_; }

 private:
  void accept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec) return;
      std::make_shared<admin_session>(std::move(socket), *this, chart_directory_)->start();
      accept();
    });
  }

  std::string token_;
  fs::path chart_directory_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::set<admin_session*> sessions_;
  std::uint64_t unauthorized_ = 0;
  std::uint64_t first_request_timeouts_ = 0;
  bool stopping_ = false;
  std::future<void> runner_;
};

TEST(AdminToken, EveryEndpointWantsTheBearerToken) {
  token_hub hub("s3cret");
  const auto port = hub.port();
  for (const auto* path : {"/", "/events", "/static/chart.js", "/metrics", "/connz", "/healthz", "/readyz", "/nowhere"}) {
    SCOPED_TRACE(path);
    const auto refused = http_request(port, std::string("GET ") + path + " HTTP/1.1");
    EXPECT_EQ(refused.status, 401);
    EXPECT_THAT(refused.headers, HasSubstr("WWW-Authenticate: Bearer realm=\"eventserver\""));
    EXPECT_EQ(http_request(port, std::string("GET ") + path + " HTTP/1.1", "Authorization: Bearer s3creT\r\n").status, 401);
  }
  EXPECT_EQ(http_request(port, "POST /metrics HTTP/1.1", "Content-Length: 0\r\n").status, 401);  // not even a 405

  const auto metrics = http_request(port, "GET /metrics HTTP/1.1", "Authorization: Bearer s3cret\r\n");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metric(metrics.body, "eventserver_admin_unauthorized_total"), 17);
  EXPECT_EQ(metric(metrics.body, "eventserver_sequence_next_expected"), 77);
  EXPECT_EQ(http_request(port, "GET /healthz HTTP/1.1", "Authorization: bearer s3cret\r\n").body, "ok\n");
}

TEST(AdminToken, ThePageAndWhatItLoadsAlsoTakeItInTheQuery) {
  token_hub hub("a+b/c=");
  const auto port = hub.port();
  EXPECT_EQ(http_request(port, "GET /?token=a%2Bb%2Fc%3D HTTP/1.1").status, 200);
  const auto script = http_request(port, "GET /static/chart.js?token=a%2Bb%2Fc%3D HTTP/1.1");
  EXPECT_EQ(script.status, load_chart_js() ? 200 : 404);
  // Elsewhere the query is no credential: a token in a scraper's URL would end up in logs.
  EXPECT_EQ(http_request(port, "GET /metrics?token=a%2Bb%2Fc%3D HTTP/1.1").status, 401);
  EXPECT_EQ(http_request(port, "GET /connz?token=a%2Bb%2Fc%3D HTTP/1.1").status, 401);
  EXPECT_EQ(http_request(port, "GET /?token=wrong HTTP/1.1").status, 401);

  auto stream = test_support::connection::open(port);
  stream.send("GET /events?token=a%2Bb%2Fc%3D HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto header = read_through(stream, "\r\n\r\n", 5s);
  ASSERT_TRUE(header);
  EXPECT_THAT(*header, HasSubstr("200 OK"));
  const auto data = next_event_data(stream, 5s);
  ASSERT_TRUE(data);
  const auto body = nlohmann::json::parse(*data);
  EXPECT_EQ(body["next_expected"], 77);
  EXPECT_EQ(body["admin_unauthorized"], 3);
}

// ----------------------------------------------------------------------------------------
// Chart.js present and absent, whatever this machine has installed: a session reading from a
// directory of the test's own (an installed .deb recommends libjs-chart.js; apt may skip it).

TEST_F(StaticFiles, ChartJsIsServedFromItsDirectory) {
  write("chart.umd.js", "window.Chart = function () {};\n");
  token_hub hub("", dir_.path());
  const auto reply = http_request(hub.port(), "GET /static/chart.js HTTP/1.1");
  ASSERT_EQ(reply.status, 200);
  EXPECT_THAT(reply.headers, HasSubstr("Content-Type: text/javascript"));
  EXPECT_EQ(reply.body, "window.Chart = function () {};\n");
}

TEST_F(StaticFiles, WithoutChartJsThePageKeepsItsCardsAndTablesAndSaysWhy) {
  token_hub hub("", dir_.path());  // an empty directory: Chart.js is not installed
  const auto script = http_request(hub.port(), "GET /static/chart.js HTTP/1.1");
  EXPECT_EQ(script.status, 404);
  EXPECT_THAT(script.body, HasSubstr("libjs-chart.js"));

  const auto page = http_request(hub.port(), "GET / HTTP/1.1");
  ASSERT_EQ(page.status, 200);
  // The cards, the plain canvases and the tables are in the page itself, not drawn by Chart.js.
  for (const auto* id : {"events-per-s", "notifications-per-s", "connections", "next-expected", "window-fill",
                         "log-state", "chart-events", "chart-window", "most-behind", "warnings"}) {
    EXPECT_THAT(page.body, HasSubstr(std::string("id=\"") + id + "\"")) << id;
  }
  // The note naming the package: hidden in the page, shown by the script when the request for
  // Chart.js fails (the browser test watches it appear).
  EXPECT_THAT(page.body, HasSubstr(R"(<p class="note" id="chart-note" hidden>Chart.js is not installed)"));
  EXPECT_THAT(page.body, HasSubstr("<code>libjs-chart.js</code>"));
  EXPECT_THAT(page.body, HasSubstr(R"(el("chart-note").hidden = false;)"));
}

}  // namespace
}  // namespace eventserver
