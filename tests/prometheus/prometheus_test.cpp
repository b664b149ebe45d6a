// The daemon as Prometheus sees it: the built daemon on loopback ports under followermaze load,
// its /metrics linted by `promtool check metrics`, scraped by a real Prometheus (its own data
// directory, a generated config, the bearer token from a credentials file), and its latency
// histograms set beside the harness's own latency figures.
//
// Without promtool or prometheus (Debian package prometheus) the tests are skipped, except
// under CI=true, where the Makefile has installed them and their absence is a failure. Every
// process is started in its own process group and stopped by that id; everything listens on
// 127.0.0.1 only; every wait is bounded.

#include <sys/wait.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "support/http.hpp"
#include "support/temp_directory.hpp"
#include "eventserver/core/latency_histogram.hpp"
#include "eventserver/net/asio.hpp"
#include "support/child_process.hpp"

#ifndef FOLLOWERMAZE_BINARY
#error "FOLLOWERMAZE_BINARY: the path of the built harness (tests/CMakeLists.txt)"
#endif

namespace eventserver {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test_support::http_request;
using test_support::metric;
using json = nlohmann::json;
using test_support::child_process;
using test_support::free_loopback_port;
using test_support::poll_until;
using test_support::read_text;

constexpr std::string_view admin_token = "prometheus-test-token-0123456789";

// `command` run by the shell; its exit status (-1: it did not exit normally).
int run_command(const std::string& command) {
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The cumulative buckets of one histogram on /metrics: (le, count), +Inf last.
std::vector<std::pair<double, double>> buckets_of(const std::string& metrics, const std::string& name) {
  std::vector<std::pair<double, double>> buckets;
  const std::regex line(name + R"re(_bucket\{le="([^"]+)"\} (\S+))re");
  for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), line); it != std::sregex_iterator(); ++it) {
    const std::string le = (*it)[1];
    buckets.emplace_back(le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le), std::stod((*it)[2]));
  }
  return buckets;
}

// What Prometheus's histogram_quantile() makes of those buckets: linear within the bucket the
// rank falls in; the highest finite bound when it falls in +Inf.
std::optional<double> quantile(double q, const std::vector<std::pair<double, double>>& buckets) {
  if (buckets.empty() || buckets.back().second == 0) return std::nullopt;
  const double rank = q * buckets.back().second;
  double lower = 0, below = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return lower;
      return lower + (le - lower) * (count == below ? 0 : (rank - below) / (count - below));
    }
    lower = le;
    below = count;
  }
  return lower;
}

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    promtool_ = tool("PROMTOOL", "/usr/bin/promtool");
    prometheus_ = tool("PROMETHEUS", "/usr/bin/prometheus");
    for (const auto& path : {promtool_, prometheus_}) {
      if (::access(path.c_str(), X_OK) == 0) continue;
      const char* ci = std::getenv("CI");
      if (ci && std::string_view(ci) == "true") FAIL() << path << " is missing: `make deps` installs Debian's prometheus";
      GTEST_SKIP() << path << " is not installed (Debian package prometheus; `make deps`)";
    }
    std::ofstream(dir_ / "admin.token") << admin_token << "\n";
  }
  void TearDown() override {
    prometheus_process_.reset();
    harness_.reset();
    daemon_.reset();
  }

  static std::string tool(const char* variable, const char* fallback) {
    const char* path = std::getenv(variable);
    return path && *path ? path : fallback;
  }

  // The daemon on loopback with an event log, the admin token, and `extra` config keys.
  bool start_daemon(json extra = json::object()) {
    fs::create_directories(dir_ / "data");
    for (int attempt = 0; attempt < 3; ++attempt) {
      admin_port_ = free_loopback_port();
      json config = {{"eventListenerAddress", "127.0.0.1"}, {"eventListenerPort", 0},
                     {"clientListenerAddress", "127.0.0.1"}, {"clientListenerPort", 0},
                     {"adminListenerAddress", "127.0.0.1"},  {"adminListenerPort", admin_port_},
                     {"adminTokenFile", (dir_ / "admin.token").string()},
                     {"dataDir", (dir_ / "data").string()}};
      config.update(extra);
      std::ofstream(dir_ / "config.json") << config.dump(2);
      daemon_ = std::make_unique<child_process>(
          std::vector<std::string>{EVENTSERVER_BINARY, "-config", (dir_ / "config.json").string()}, dir_ / "daemon.log");
      const std::regex listening(R"(listening for event sources on 127\.0\.0\.1:(\d+) and clients on [0-9.]+:(\d+))");
      std::smatch match;
      std::string log;
      const bool up = poll_until(
          [&] {
            log = daemon_->output();
            return std::regex_search(log, match, listening) || daemon_->wait_exit(0ms).has_value();
          },
          10s, 20ms);
      if (up && !match.empty()) {
        event_port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
        client_port_ = static_cast<std::uint16_t>(std::stoi(match[2]));
        if (poll_until([&] { return metrics().find("eventserver_uptime_seconds") != std::string::npos; }, 5s)) return true;
      }
      last_daemon_output_ = daemon_->output();  // most likely the admin port was taken in between
      daemon_.reset();
    }
    ADD_FAILURE() << "the daemon did not come up; its last output:\n" << last_daemon_output_;
    return false;
  }

  std::string metrics() {
    return http_request(admin_port_, "GET /metrics HTTP/1.1", "Authorization: Bearer " + std::string(admin_token) + "\r\n")
        .body;
  }

  void start_harness(std::vector<std::string> more) {
    std::vector<std::string> args{FOLLOWERMAZE_BINARY, "--eventListenerPort=" + std::to_string(event_port_),
                                  "--clientListenerPort=" + std::to_string(client_port_), "--logLevel=warn",
                                  "--logInterval=60000"};
    args.insert(args.end(), more.begin(), more.end());
    harness_ = std::make_unique<child_process>(std::move(args), dir_ / "harness.log");
  }

  // The harness's exit code once it is done (bounded).
  int finish_harness() {
    const auto code = harness_->wait_exit(90s);
    return code.value_or(-1);
  }

  // A query to the Prometheus HTTP API; its `data.result`, or null.
  json query(std::uint16_t port, const std::string& promql) {
    const auto reply = http_request(port, "GET /api/v1/query?query=" + url_encode(promql) + " HTTP/1.1");
    const auto body = json::parse(reply.body, nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success") return nullptr;
    return body["data"]["result"];
  }
  // The single sample's value of an instant query, or nullopt.
  std::optional<double> query_value(std::uint16_t port, const std::string& promql) {
    const json result = query(port, promql);
    if (!result.is_array() || result.size() != 1) return std::nullopt;
    return std::stod(result[0]["value"][1].get<std::string>());
  }

  std::string promtool_;
  std::string prometheus_;
  test_support::temp_directory dir_{"eventserver-prometheus-test"};
  std::string last_daemon_output_;
  std::uint16_t admin_port_ = 0;
  std::uint16_t event_port_ = 0;
  std::uint16_t client_port_ = 0;
  std::unique_ptr<child_process> daemon_;
  std::unique_ptr<child_process> harness_;
  std::unique_ptr<child_process> prometheus_process_;
};

// Everything /metrics can show at once: TLS and WebSocket clients, the event log, latency
// histograms with observations; a badly named or typed metric fails here.
TEST_F(PrometheusTest, PromtoolFindsNoProblemInMetricsUnderLoad) {
  ASSERT_NO_THROW(test_support::make_test_certificates(dir_ / "certs"));
  const std::uint16_t ws_port = free_loopback_port();
  ASSERT_TRUE(start_daemon({{"clientTls", true}, {"wsTls", true},
                            {"tlsCertFile", (dir_ / "certs" / "server.pem").string()},
                            {"tlsKeyFile", (dir_ / "certs" / "server.key").string()},
                            {"wsListenerAddress", "127.0.0.1"}, {"wsListenerPort", ws_port},
                            {"logFsync", "always"}}));
  start_harness({"--totalEvents=10000000", "--maxRate=50000", "--concurrencyLevel=20", "--ws-clients=8",
                 "--ws-port=" + std::to_string(ws_port), "--tls", "--tls-ca=" + (dir_ / "certs" / "ca.pem").string()});

  // Under load: events flowing, WebSocket clients connected, writes to clients measured.
  std::string text;
  ASSERT_TRUE(poll_until(
      [&] {
        text = metrics();
        return metric(text, "eventserver_ws_connections").value_or(0) == 8 &&
               metric(text, "eventserver_delivery_latency_seconds_count").value_or(0) > 0 &&
               metric(text, "eventserver_durable_latency_seconds_count").value_or(0) > 0 &&
               metric(text, "eventserver_log_fsync_seconds_count").value_or(0) > 0;
      },
      30s, 200ms))
      << "no load seen on /metrics; harness output:\n"
      << harness_->output() << "\n/metrics:\n"
      << text;
  std::ofstream(dir_ / "metrics.txt") << text;
  const int status = run_command(promtool_ + " check metrics < " + (dir_ / "metrics.txt").string() + " > " +
                                 (dir_ / "promtool.txt").string() + " 2>&1");
  EXPECT_EQ(status, 0) << "promtool check metrics:\n" << read_text(dir_ / "promtool.txt");
  EXPECT_EQ(read_text(dir_ / "promtool.txt"), "");
}

// Prometheus itself scrapes the admin port with the bearer token from a credentials file: up
// is 1, and a counter it stored equals the one /metrics shows. A job with the wrong token is
// refused (up 0), and the daemon counts the refusals.
TEST_F(PrometheusTest, ARealPrometheusScrapesWithTheTokenAndNotWithoutIt) {
  ASSERT_TRUE(start_daemon());
  std::ofstream(dir_ / "wrong.token") << "not-the-token-of-this-daemon\n";
  const std::uint16_t web_port = free_loopback_port();
  const std::string target = "127.0.0.1:" + std::to_string(admin_port_);
  std::ofstream(dir_ / "prometheus.yml") << fmt::format(R"(global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: eventserver
    authorization:
      credentials_file: {}
    static_configs:
      - targets: ["{}"]
  - job_name: wrong-token
    authorization:
      credentials_file: {}
    static_configs:
      - targets: ["{}"]
)",
                                                        (dir_ / "admin.token").string(), target,
                                                        (dir_ / "wrong.token").string(), target);
  prometheus_process_ = std::make_unique<child_process>(
      std::vector<std::string>{prometheus_, "--config.file=" + (dir_ / "prometheus.yml").string(),
                               "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
                               "--web.listen-address=127.0.0.1:" + std::to_string(web_port)},
      dir_ / "prometheus.log");

  // Some load, run to its end, so the counter stands still while Prometheus catches up.
  start_harness({"--totalEvents=20000", "--concurrencyLevel=10"});
  ASSERT_EQ(finish_harness(), 0) << harness_->output();
  const auto processed = metric(metrics(), "eventserver_events_processed_total");
  ASSERT_TRUE(processed);
  EXPECT_EQ(*processed, 20000);

  std::optional<double> scraped;
  ASSERT_TRUE(poll_until(
      [&] {
        scraped = query_value(web_port, R"(eventserver_events_processed_total{job="eventserver"})");
        return scraped == processed;
      },
      30s, 250ms))
      << "Prometheus has " << (scraped ? std::to_string(*scraped) : std::string("nothing")) << "; its log:\n"
      << prometheus_process_->output();
  EXPECT_EQ(query_value(web_port, R"(up{job="eventserver"})"), 1.0);
  ASSERT_TRUE(poll_until([&] { return query_value(web_port, R"(up{job="wrong-token"})").has_value(); }, 10s, 250ms));
  EXPECT_EQ(query_value(web_port, R"(up{job="wrong-token"})"), 0.0);
  EXPECT_EQ(query_value(web_port, R"(eventserver_events_processed_total{job="wrong-token"})"), std::nullopt);
  EXPECT_GT(metric(metrics(), "eventserver_admin_unauthorized_total").value_or(0), 0);
  // The histograms arrive whole: Prometheus computes a p99 from them.
  EXPECT_TRUE(query_value(
      web_port, R"(histogram_quantile(0.99, eventserver_delivery_latency_seconds_bucket{job="eventserver"}))"));
}

// The daemon's own delivery latency and the harness's (batch written -> line received) are
// two measures of the same thing over the same run: the same order of magnitude. The run is
// unpaced and short: the daemon is busy, so client writes are held back (clientWriteDelayMs)
// and both see tens of milliseconds. Paced, both fall below a millisecond, where the harness's
// own scheduling on a shared machine dominates its figure; in a long unpaced run the source
// runs ahead, and its lines wait in socket buffers that the harness counts and the daemon,
// which stamps a line when it reads it, does not.
TEST_F(PrometheusTest, DeliveryLatencyAgreesWithTheHarness) {
  ASSERT_TRUE(start_daemon());
  start_harness({"--totalEvents=300000", "--concurrencyLevel=50"});
  ASSERT_EQ(finish_harness(), 0) << harness_->output();
  const std::string output = harness_->output();
  std::smatch result;
  ASSERT_TRUE(std::regex_search(output, result, std::regex(R"(RESULT .* p50_us=(\d+) p99_us=(\d+))"))) << output;
  const double harness_p99 = std::stod(result[2]) / 1e6;

  const std::string text = metrics();
  const auto delivery = buckets_of(text, "eventserver_delivery_latency_seconds");
  const auto durable = buckets_of(text, "eventserver_durable_latency_seconds");
  ASSERT_EQ(delivery.size(), latency_histogram::bounds_seconds.size() + 1) << text;
  ASSERT_EQ(durable.size(), latency_histogram::bounds_seconds.size() + 1) << text;
  const auto daemon_p99 = quantile(0.99, delivery);
  ASSERT_TRUE(daemon_p99) << text;
  // Every event went to the log once.
  EXPECT_EQ(durable.back().second, 300000);
  const auto durable_p99 = quantile(0.99, durable);
  ASSERT_TRUE(durable_p99);
  RecordProperty("harness_p99_s", std::to_string(harness_p99));
  RecordProperty("daemon_p99_s", std::to_string(*daemon_p99));
  std::cout << "delivery p99: daemon " << *daemon_p99 * 1e3 << " ms, harness " << harness_p99 * 1e3 << " ms; durable p99 "
            << *durable_p99 * 1e3 << " ms\n";
  EXPECT_GT(*daemon_p99, harness_p99 / 10) << output << "\n" << text;
  EXPECT_LT(*daemon_p99, harness_p99 * 10) << output << "\n" << text;
}

}  // namespace
}  // namespace eventserver
