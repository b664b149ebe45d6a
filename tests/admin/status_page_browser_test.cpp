// The status page in a real browser: the built daemon on loopback ports, followermaze driving
// load through it, headless Chromium showing http://127.0.0.1:<admin>/. The test speaks
// Chromium's DevTools protocol over a WebSocket (Beast): it waits until the page has drawn a
// few updates, reads the numbers from the DOM, checks them against /metrics fetched right
// after, checks that the page asked nothing of any other origin and threw no error, and takes
// a screenshot: into its temporary directory, or to STATUS_PAGE_SCREENSHOT (the README's comes
// from `make status-page-screenshot`).
//
// Without Chromium the test is skipped, except under CI=true, where the Makefile has installed
// it and its absence is a failure. Every wait is bounded; every process is started in its own
// process group and stopped by that id; everything listens on 127.0.0.1 only.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/http.hpp"
#include "support/temp_directory.hpp"
#include "eventserver/admin/status_page.hpp"
#include "eventserver/net/asio.hpp"
#include "support/child_process.hpp"

#ifndef FOLLOWERMAZE_BINARY
#error "FOLLOWERMAZE_BINARY: the path of the built harness (tests/CMakeLists.txt)"
#endif

namespace eventserver {
namespace {

namespace fs = std::filesystem;
namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test_support::http_request;
using test_support::metric;
using json = nlohmann::json;
using test_support::child_process;
using test_support::free_loopback_port;
using test_support::poll_until;
using test_support::read_text;

// The load: paced, so the run lasts well past the test's few seconds and the page's
// events/s is the harness's rate rather than whatever the two shared cores allow.
constexpr int harness_clients = 50;
constexpr int harness_ws_clients = 20;  // of harness_clients, over WebSocket
constexpr double harness_rate = 100000;  // events/s
constexpr int updates_to_wait_for = 5;

bool executable(const fs::path& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string base64_decode(std::string_view text) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (const char c : text) {
    const int v = value(c);
    if (v < 0) continue;  // '=' padding, line breaks
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Chromium's DevTools protocol: JSON commands over one WebSocket, each answered by a message
// with its id; events (method, no id) arrive in between and are kept.

class devtools {
 public:
  // ws://127.0.0.1:<port><path>
  bool connect(std::uint16_t port, const std::string& path, milliseconds bound) {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    if (run([&](auto done) { ws_.next_layer().async_connect(endpoint, done); }, bound)) return false;
    ws_.read_message_max(64 * 1024 * 1024);  // a screenshot is one message
    return !run([&](auto done) { ws_.async_handshake("127.0.0.1:" + std::to_string(port), path, done); }, bound);
  }

  // The command's `result`, or nullopt (error reply, timeout, broken connection; last_error() says).
  std::optional<json> call(const std::string& method, json params = json::object(), milliseconds bound = 10s) {
    const int id = ++next_id_;
    const std::string request = json{{"id", id}, {"method", method}, {"params", std::move(params)}}.dump();
    ws_.text(true);
    const auto deadline = std::chrono::steady_clock::now() + bound;
    if (const auto ec = run([&](auto done) { ws_.async_write(asio::buffer(request), done); }, bound)) {
      error_ = method + ": write: " + ec.message();
      return std::nullopt;
    }
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      boost::beast::flat_buffer buffer;
      if (const auto ec = run([&](auto done) { ws_.async_read(buffer, done); }, std::max(left, 1ms))) {
        error_ = method + ": read: " + ec.message();
        return std::nullopt;
      }
      auto message = json::parse(boost::beast::buffers_to_string(buffer.data()), nullptr, false);
      if (message.is_discarded()) continue;
      if (message.contains("method")) {
        events_.push_back(std::move(message));
        continue;
      }
      if (message.value("id", -1) != id) continue;
      if (message.contains("error")) {
        error_ = method + ": " + message["error"].dump();
        return std::nullopt;
      }
      return message["result"];
    }
  }

  // A JavaScript expression's value (JSON-serialisable), or nullopt if it threw.
  std::optional<json> evaluate(const std::string& expression) {
    auto result = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}});
    if (!result || result->contains("exceptionDetails")) return std::nullopt;
    return (*result)["result"].value("value", json());
  }

  const std::vector<json>& events() const { return events_; }
  const std::string& last_error() const { return error_; }

 private:
  // Starts one asynchronous operation and runs the loop until it completes or `bound` passes;
  // then the socket is closed (which cancels it) and the loop drained.
  template <class Start>
  error_code run(Start start, milliseconds bound) {
    std::optional<error_code> result;
    start([&result](const error_code& ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run_for(bound);
    if (!result) {
      error_code ignored;
      ws_.next_layer().close(ignored);
      io_.restart();
      io_.run_for(1s);
      return asio::error::timed_out;
    }
    return *result;
  }

  asio::io_context io_;
  websocket::stream<tcp::socket> ws_{io_};
  int next_id_ = 0;
  std::vector<json> events_;
  std::string error_;
};

void write_atomically(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path partial = path.string() + ".partial";
  std::ofstream(partial, std::ios::binary) << bytes;
  fs::rename(partial, path, ec);
  EXPECT_FALSE(ec) << "cannot write " << path << ": " << ec.message();
}

std::uint64_t digits_of(const std::string& text) {
  std::string digits;
  for (const char c : text) {
    if (c >= '0' && c <= '9') digits += c;
  }
  return digits.empty() ? 0 : std::stoull(digits);
}

class StatusPageBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* override_path = std::getenv("CHROMIUM");
    chromium_ = override_path && *override_path ? override_path : "/usr/bin/chromium";
    if (!executable(chromium_)) {
      const char* ci = std::getenv("CI");
      if (ci && std::string_view(ci) == "true") {
        FAIL() << chromium_ << " is missing: `make deps` installs Debian's chromium";
      }
      GTEST_SKIP() << chromium_ << " is not installed (Debian package chromium; `make deps`)";
    }
  }
  void TearDown() override {
    // Children first (their destructors stop them), then their files.
    browser_.reset();
    harness_.reset();
    daemon_.reset();
  }

  // The daemon on loopback: event and client ports chosen by the OS, the admin port by us.
  bool start_daemon(const std::string& admin_token_file = "") {
    for (int attempt = 0; attempt < 3; ++attempt) {
      admin_port_ = free_loopback_port();
      ws_port_ = free_loopback_port();
      const fs::path config_path = dir_ / "config.json";
      std::ofstream(config_path) << json{{"eventListenerAddress", "127.0.0.1"},  {"eventListenerPort", 0},
                                         {"clientListenerAddress", "127.0.0.1"}, {"clientListenerPort", 0},
                                         {"adminListenerAddress", "127.0.0.1"},  {"adminListenerPort", admin_port_},
                                         {"wsListenerAddress", "127.0.0.1"},     {"wsListenerPort", ws_port_},
                                         {"adminTokenFile", admin_token_file}}
                                        .dump(2);
      daemon_ = std::make_unique<child_process>(
          std::vector<std::string>{EVENTSERVER_BINARY, "-config", config_path.string()}, dir_ / "daemon.log");
      const std::regex listening(R"(listening for event sources on 127\.0\.0\.1:(\d+) and clients on [0-9.]+:(\d+))");
      std::smatch match;
      std::string log;
      const bool up = poll_until(
          [&] {
            log = daemon_->output();
            return std::regex_search(log, match, listening) || daemon_->wait_exit(0ms).has_value();
          },
          10s);
      if (up && !match.empty()) {
        event_port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
        client_port_ = static_cast<std::uint16_t>(std::stoi(match[2]));
        const auto answers = [&] {
          const int status = http_request(admin_port_, "GET /healthz HTTP/1.1").status;
          return status == 200 || status == 401;  // under a token, a 401 says it is up as well
        };
        if (poll_until(answers, 5s)) return true;
      }
      // Most likely someone took the admin port in between: try another.
      last_daemon_output_ = daemon_->output();
      daemon_.reset();
    }
    ADD_FAILURE() << "the daemon did not come up; its last output:\n" << last_daemon_output_;
    return false;
  }

  // Headless Chromium on a fresh profile, its page target connected (page_), with the Network
  // and Runtime domains on.
  bool open_browser() {
    // The browser, on a fresh profile; it picks its DevTools port and writes it to a file.
    const fs::path profile = dir_ / "chromium-profile";
    browser_ = std::make_unique<child_process>(
        std::vector<std::string>{chromium_, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                 "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                                 "--disable-component-update", "--disable-sync", "--disable-extensions",
                                 "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                                 "--force-device-scale-factor=1", "--window-size=1280,1000",
                                 "--remote-debugging-port=0", "--user-data-dir=" + profile.string(), "about:blank"},
        dir_ / "chromium.log");
    std::string active_port;
    if (!poll_until(
            [&] {
              active_port = read_text(profile / "DevToolsActivePort");
              return active_port.find('\n') != std::string::npos;
            },
            15s)) {
      ADD_FAILURE() << "Chromium wrote no DevToolsActivePort; its output:\n" << browser_->output();
      return false;
    }
    const auto devtools_port = static_cast<std::uint16_t>(std::stoi(active_port));

    // The page target's WebSocket, from the DevTools HTTP endpoint's list.
    std::string page_socket;
    if (!poll_until(
            [&] {
              const auto list = json::parse(http_request(devtools_port, "GET /json/list HTTP/1.1").body, nullptr, false);
              if (!list.is_array()) return false;
              for (const auto& target : list) {
                if (target.value("type", "") == "page" && target.contains("webSocketDebuggerUrl")) {
                  const auto url = target["webSocketDebuggerUrl"].get<std::string>();
                  const auto path = url.find("/devtools/");
                  if (path != std::string::npos) page_socket = url.substr(path);
                  return !page_socket.empty();
                }
              }
              return false;
            },
            10s, 100ms)) {
      ADD_FAILURE() << "no page target; Chromium's output:\n" << browser_->output();
      return false;
    }
    page_ = std::make_unique<devtools>();
    if (!page_->connect(devtools_port, page_socket, 10s)) {
      ADD_FAILURE() << page_->last_error();
      return false;
    }
    if (!page_->call("Network.enable") || !page_->call("Runtime.enable")) {
      ADD_FAILURE() << page_->last_error();
      return false;
    }
    return true;
  }

  json read_dom() {
    const auto value = page_->evaluate(R"js(JSON.stringify((() => {
      const ids = ["events-per-s", "events-processed", "notifications-per-s", "notifications-delivered",
                   "connections", "tcp-connections", "ws-connections", "next-expected", "head", "gap-age",
                   "window-fill", "window-capacity", "log-state", "updates", "chart-source", "state"];
      const out = {};
      for (const id of ids) out[id] = document.getElementById(id).textContent;
      out["behind-rows"] = document.querySelectorAll("#most-behind tr").length;
      out["chart-js"] = typeof window.Chart === "function";
      return out;
    })()))js");
    if (!value || !value->is_string()) return json();
    return json::parse(value->get<std::string>(), nullptr, false);
  }

  std::string chromium_;
  test_support::temp_directory dir_{"eventserver-browser-test"};
  std::string last_daemon_output_;
  std::uint16_t admin_port_ = 0;
  std::uint16_t event_port_ = 0;
  std::uint16_t client_port_ = 0;
  std::uint16_t ws_port_ = 0;
  std::unique_ptr<child_process> daemon_;
  std::unique_ptr<child_process> harness_;
  std::unique_ptr<child_process> browser_;
  std::unique_ptr<devtools> page_;
};

TEST_F(StatusPageBrowser, ShowsTheNumbersOfMetricsLiveUnderLoad) {
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(start_daemon());

  harness_ = std::make_unique<child_process>(
      std::vector<std::string>{FOLLOWERMAZE_BINARY, "--eventListenerPort=" + std::to_string(event_port_),
                               "--clientListenerPort=" + std::to_string(client_port_), "--totalEvents=10000000",
                               "--maxRate=" + std::to_string(static_cast<long>(harness_rate)),
                               "--concurrencyLevel=" + std::to_string(harness_clients), "--logLevel=warn",
                               "--ws-port=" + std::to_string(ws_port_), "--ws-clients=" + std::to_string(harness_ws_clients),
                               "--logInterval=60000"},
      dir_ / "harness.log");
  std::string metrics;
  ASSERT_TRUE(poll_until(
      [&] {
        metrics = http_request(admin_port_, "GET /metrics HTTP/1.1").body;
        return metric(metrics, "eventserver_events_processed_total").value_or(0) > 0;
      },
      15s, 100ms))
      << "no events flowed; harness output:\n"
      << harness_->output();

  ASSERT_TRUE(open_browser());
  const std::string origin = "http://127.0.0.1:" + std::to_string(admin_port_);
  ASSERT_TRUE(page_->call("Page.navigate", {{"url", origin + "/"}})) << page_->last_error();

  // Until the page has drawn a few snapshots (one a second).
  ASSERT_TRUE(poll_until(
      [&] {
        const auto updates = page_->evaluate("Number(document.body.dataset.updates || 0)");
        return updates && updates->is_number() && updates->get<int>() >= updates_to_wait_for;
      },
      15s, 200ms))
      << "the page drew fewer than " << updates_to_wait_for << " updates; " << page_->last_error();

  // The DOM, then /metrics at once: the page's numbers are at most about a second older.
  const json dom = read_dom();
  metrics = http_request(admin_port_, "GET /metrics HTTP/1.1").body;
  ASSERT_TRUE(dom.is_object()) << page_->last_error();
  SCOPED_TRACE("DOM: " + dom.dump());

  const double tolerance = harness_rate * 3;  // ~1 s of staleness, with room for a slow machine
  const auto next_expected = metric(metrics, "eventserver_sequence_next_expected");
  const auto processed = metric(metrics, "eventserver_events_processed_total");
  const auto connections = metric(metrics, "eventserver_client_connections");
  ASSERT_TRUE(next_expected && processed && connections) << metrics;

  const auto page_next = static_cast<double>(digits_of(dom["next-expected"]));
  EXPECT_GT(page_next, 1);
  EXPECT_LE(page_next, *next_expected);
  EXPECT_GE(page_next, *next_expected - tolerance);

  const auto page_processed = static_cast<double>(digits_of(dom["events-processed"]));
  EXPECT_GT(page_processed, 0);
  EXPECT_LE(page_processed, *processed);
  EXPECT_GE(page_processed, *processed - tolerance);

  EXPECT_EQ(static_cast<double>(digits_of(dom["connections"])), *connections);
  EXPECT_EQ(*connections, harness_clients);
  EXPECT_EQ(dom["tcp-connections"], std::to_string(harness_clients - harness_ws_clients));
  EXPECT_EQ(dom["ws-connections"], std::to_string(harness_ws_clients));
  EXPECT_EQ(metric(metrics, "eventserver_ws_connections").value_or(-1), harness_ws_clients);
  EXPECT_EQ(dom["behind-rows"], 10);
  EXPECT_GT(digits_of(dom["events-per-s"]), 0u);
  EXPECT_GT(digits_of(dom["notifications-per-s"]), 0u);
  EXPECT_EQ(dom["log-state"], "log off");
  EXPECT_EQ(dom["state"], "live");
  EXPECT_GE(std::stoi(dom["updates"].get<std::string>()), updates_to_wait_for);
  // The Debian Chart.js when installed, plain canvas otherwise; the note saying so only then.
  EXPECT_EQ(dom["chart-js"], load_chart_js().has_value());
  // The latency charts' figures: p50 and p99 of the last second, from the histograms under load.
  const auto delivery_p99 = page_->evaluate("document.getElementById('delivery-p99').textContent");
  ASSERT_TRUE(delivery_p99 && delivery_p99->is_string()) << page_->last_error();
  EXPECT_TRUE(std::regex_match(delivery_p99->get<std::string>(), std::regex(R"([0-9.,]+ ms)"))) << *delivery_p99;
  EXPECT_EQ(page_->evaluate(R"js(document.getElementById("chart-note").hidden)js"), json(load_chart_js().has_value()));

  // The screenshot, for the README: the viewport made as tall as the page, so all of it shows.
  const auto layout = page_->call("Page.getLayoutMetrics");
  ASSERT_TRUE(layout) << page_->last_error();
  const auto height = static_cast<int>((*layout)["cssContentSize"].value("height", 1000.0) + 0.5);
  ASSERT_TRUE(page_->call("Emulation.setDeviceMetricsOverride",
                          {{"width", 1280}, {"height", std::clamp(height, 600, 4000)}, {"deviceScaleFactor", 1},
                           {"mobile", false}}))
      << page_->last_error();
  std::this_thread::sleep_for(300ms);  // one layout and paint at the new size
  const auto shot = page_->call("Page.captureScreenshot", {{"format", "png"}}, 15s);
  ASSERT_TRUE(shot) << page_->last_error();
  const std::string png = base64_decode((*shot)["data"].get<std::string>());
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const char* override_path = std::getenv("STATUS_PAGE_SCREENSHOT");
  // In the test's own directory unless asked for elsewhere: a test run leaves the tree as it
  // was (`make status-page-screenshot` asks for bench/results/status_page.png, the README's).
  const fs::path screenshot = override_path && *override_path ? fs::path(override_path) : dir_ / "status_page.png";
  write_atomically(screenshot, png);

  // Without Chart.js (not installed, or its request failed) the page draws its own charts and
  // still shows every number.
  ASSERT_TRUE(page_->call("Network.setBlockedURLs", {{"urls", json::array({"*/static/chart.js*"})}}))
      << page_->last_error();
  ASSERT_TRUE(page_->call("Page.reload", {{"ignoreCache", true}})) << page_->last_error();
  ASSERT_TRUE(poll_until(
      [&] {
        const auto updates = page_->evaluate("Number(document.body.dataset.updates || 0)");
        return updates && updates->is_number() && updates->get<int>() >= 2;
      },
      10s, 200ms))
      << page_->last_error();
  const json plain = read_dom();
  EXPECT_EQ(plain["chart-js"], false) << plain.dump();
  EXPECT_EQ(plain["chart-source"], "plain canvas: Chart.js is not installed") << plain.dump();
  // A note names the package to install; every card and both tables are there as before.
  EXPECT_EQ(page_->evaluate(R"js((() => { const note = document.getElementById("chart-note");
      return !note.hidden && note.offsetHeight > 0 && note.textContent.includes("libjs-chart.js"); })())js"),
            json(true))
      << page_->last_error();
  // (The edge card is hidden on a daemon that is no edge.)
  EXPECT_EQ(page_->evaluate(R"js(document.querySelectorAll(".cards .card:not([hidden])").length)js"), json(8));
  EXPECT_EQ(plain["behind-rows"], 10) << plain.dump();
  EXPECT_GT(digits_of(plain["next-expected"]), 1u) << plain.dump();
  // Something was drawn on each canvas: not every pixel is transparent.
  const auto drawn = page_->evaluate(R"js(["chart-events", "chart-notifications", "chart-connections", "chart-window"]
      .every((id) => { const c = document.getElementById(id);
                       return c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some((v) => v !== 0); }))js");
  EXPECT_EQ(drawn, json(true)) << page_->last_error();
  if (const char* fallback = std::getenv("STATUS_PAGE_FALLBACK_SCREENSHOT"); fallback && *fallback) {
    if (const auto plain_shot = page_->call("Page.captureScreenshot", {{"format", "png"}}, 15s)) {
      write_atomically(fallback, base64_decode((*plain_shot)["data"].get<std::string>()));
    }
  }

  // No request left the daemon's origin, and the script threw nothing.
  for (const auto& event : page_->events()) {
    const auto method = event.value("method", "");
    if (method == "Network.requestWillBeSent") {
      const auto url = event["params"]["request"].value("url", "");
      EXPECT_EQ(url.rfind(origin + "/", 0), 0u) << "the page requested " << url;
    }
    if (method == "Runtime.exceptionThrown") ADD_FAILURE() << "script error: " << event["params"].dump();
  }

  // Done: the browser closes itself; the harness is stopped mid-run; the daemon shuts down
  // cleanly on SIGTERM.
  (void)page_->call("Browser.close", json::object(), 5s);
  page_.reset();
  EXPECT_TRUE(browser_->wait_exit(5s).has_value());
  browser_->stop(2s);
  harness_->stop(3s);
  EXPECT_EQ(daemon_->stop(10s), 0) << daemon_->output();
  std::cout << "[ browser  ] status page checked in "
            << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started).count()
            << " ms; screenshot " << screenshot.string() << "\n";
}

// Under an admin token holding '+', '/', '=' and '%' (what `openssl rand -base64` makes, and
// worse), the page opened with it, raw or percent-encoded, loads /events and Chart.js with it:
// the page passes the token on as it came, and the daemon decodes all three requests alike
// (once URLSearchParams turned the '+' into a space, and the page stayed "disconnected").
TEST_F(StatusPageBrowser, ATokenWithPlusSlashEqualsAndPercentOpensThePage) {
  const std::string token = "Kq+7/Zx=Lm%41+Np/Wx=Tb%2B+Ry/8Hd=";
  const fs::path token_file = dir_ / "admin.token";
  std::ofstream(token_file) << token << "\n";
  fs::permissions(token_file, fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(start_daemon(token_file.string()));
  ASSERT_TRUE(open_browser());
  std::string encoded;  // every byte but unreserved ones as %XX
  std::string raw;      // as an operator pastes it: only '%' must be written %25
  for (const char c : token) {
    const bool unreserved = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~';
    encoded += unreserved ? std::string(1, c) : fmt::format("%{:02X}", static_cast<unsigned char>(c));
    raw += c == '%' ? std::string("%25") : std::string(1, c);
  }
  const std::string origin = "http://127.0.0.1:" + std::to_string(admin_port_);
  for (const auto& query : {raw, encoded}) {
    SCOPED_TRACE(query);
    ASSERT_TRUE(page_->call("Page.navigate", {{"url", origin + "/?token=" + query}})) << page_->last_error();
    ASSERT_TRUE(poll_until(
        [&] {
          const auto updates = page_->evaluate("Number(document.body.dataset.updates || 0)");
          return updates && updates->is_number() && updates->get<int>() >= 2;
        },
        15s, 200ms))
        << "the page got no updates from /events; " << page_->last_error();
    const json dom = read_dom();
    EXPECT_EQ(dom["state"], "live") << dom.dump();
    EXPECT_EQ(dom["chart-js"], load_chart_js().has_value()) << dom.dump();  // /static/chart.js took it too
  }
  (void)page_->call("Browser.close", json::object(), 5s);
  page_.reset();
  browser_->stop(2s);
  EXPECT_EQ(daemon_->stop(10s), 0) << daemon_->output();
}

}  // namespace
}  // namespace eventserver
