// The admin HTTP endpoints: rendering in isolation, then scraped from a live daemon while
// traffic of a known shape flows, the numbers checked against what was sent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eventserver/admin/admin_views.hpp"
#include "support/daemon.hpp"
#include "support/http.hpp"

namespace eventserver {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace test_support = eventserver::test_support;
using test_support::test_config;
using test_support::test_daemon;
using test_support::http_request;
using test_support::metric;

// ----------------------------------------------------------------------------------------
// Rendering

TEST(AdminViews, MetricsAreInPrometheusTextFormatWithExactValues) {
  server_snapshot s;
  s.stats.events_processed = 42;
  s.stats.rejected_no_sequence = 3;
  s.stats.clients_disconnected_slow = 2;
  s.stats.notifications_dropped_offline = 18446744073709551615ULL;  // no rounding through double
  s.head = 50;
  s.next_expected = 43;
  s.pending_events = 7;
  s.oldest_gap_age = 1500ms;
  s.client_connections = 9;
  const std::string text = render_metrics(s);
  EXPECT_THAT(text, HasSubstr("# HELP eventserver_events_processed_total "));
  EXPECT_THAT(text, HasSubstr("# TYPE eventserver_events_processed_total counter\neventserver_events_processed_total 42\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_event_lines_rejected_total{reason=\"no_sequence\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_client_disconnects_total{reason=\"slow\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_notifications_dropped_total{reason=\"offline\"} 18446744073709551615\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE eventserver_sequence_head gauge\neventserver_sequence_head 50\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_sequence_next_expected 43\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_reorder_window_events 7\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_oldest_gap_age_seconds 1.5\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_client_connections 9\n"));
}

TEST(AdminViews, LatencyHistogramsAreCumulativeWithSumAndCount) {
  server_snapshot s;
  s.stats.delivery_latency.observe(100us);  // on a bound: in its bucket
  s.stats.delivery_latency.observe(100us + 1ns);
  s.stats.delivery_latency.observe(3ms);
  s.stats.delivery_latency.observe(20s);  // past the last bound: +Inf only
  s.stats.durable_latency.observe(1ms, 7);
  const std::string text = render_metrics(s);
  EXPECT_THAT(text, HasSubstr("# TYPE eventserver_delivery_latency_seconds histogram\n"
                              "eventserver_delivery_latency_seconds_bucket{le=\"0.0001\"} 1\n"
                              "eventserver_delivery_latency_seconds_bucket{le=\"0.0002\"} 2\n"
                              "eventserver_delivery_latency_seconds_bucket{le=\"0.0005\"} 2\n"
                              "eventserver_delivery_latency_seconds_bucket{le=\"0.001\"} 2\n"
                              "eventserver_delivery_latency_seconds_bucket{le=\"0.002\"} 2\n"
                              "eventserver_delivery_latency_seconds_bucket{le=\"0.005\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_delivery_latency_seconds_bucket{le=\"10\"} 3\n"
                              "eventserver_delivery_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                              "eventserver_delivery_latency_seconds_sum 20.003200001\n"
                              "eventserver_delivery_latency_seconds_count 4\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_durable_latency_seconds_bucket{le=\"0.0005\"} 0\n"
                              "eventserver_durable_latency_seconds_bucket{le=\"0.001\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("eventserver_durable_latency_seconds_sum 0.007\n"
                              "eventserver_durable_latency_seconds_count 7\n"));
}

TEST(AdminViews, ReadinessAndDescriptors) {
  server_snapshot s;
  EXPECT_THAT(render_metrics(s), HasSubstr("# TYPE eventserver_ready gauge\neventserver_ready 0\n"));
  EXPECT_THAT(render_metrics(s), Not(HasSubstr("process_open_fds")));  // unknown: not shown
  s.ready = true;
  s.open_fds = 12;
  s.max_fds = 1024;
  const std::string text = render_metrics(s);
  EXPECT_THAT(text, HasSubstr("eventserver_ready 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_open_fds gauge\nprocess_open_fds 12\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_max_fds gauge\nprocess_max_fds 1024\n"));
}

TEST(AdminViews, NoGapMeansZeroGapAge) {
  EXPECT_THAT(render_metrics(server_snapshot{}), HasSubstr("eventserver_oldest_gap_age_seconds 0\n"));
}

TEST(AdminViews, ConnzIsJsonWithEveryField) {
  connection_info c;
  c.user = 12;
  c.registered = true;
  c.remote = "127.0.0.1:5000";
  c.connected_since_ms = 1700000000000;
  c.queued_bytes = 10;
  c.notifications = 4;
  c.last_sequence = 90;
  c.behind = 10;
  const auto body = nlohmann::json::parse(render_connz({c, connection_info{}}, 5, 1, 100));
  EXPECT_EQ(body["total"], 5);
  EXPECT_EQ(body["offset"], 1);
  EXPECT_EQ(body["count"], 2);
  EXPECT_EQ(body["processed_head"], 100);
  const auto& first = body["connections"][0];
  EXPECT_EQ(first["user"], 12);
  EXPECT_EQ(first["state"], "registered");
  EXPECT_EQ(first["remote"], "127.0.0.1:5000");
  EXPECT_EQ(first["connected_since_ms"], 1700000000000);
  EXPECT_EQ(first["queued_bytes"], 10);
  EXPECT_EQ(first["notifications"], 4);
  EXPECT_EQ(first["last_sequence"], 90);
  EXPECT_EQ(first["behind"], 10);
  EXPECT_TRUE(body["connections"][1]["user"].is_null());
  EXPECT_EQ(body["connections"][1]["state"], "handshake");
}

// An edge's /connz carries its lag after "count"; everything else is as on a standalone
// daemon, which has no "edge" field at all.
TEST(AdminViews, ConnzOfAnEdgeCarriesItsLag) {
  edge_status e;
  e.enabled = true;
  e.stream = "EVENTS";
  e.unreachable = true;
  e.problem = "timeout";
  e.lag_known = true;
  e.stream_last_seq = 40;
  e.taken_stream_seq = 31;
  e.events_behind = 9000;
  e.seconds_behind = 2.5;
  const std::string text = render_connz({connection_info{}}, 1, 0, 77, &e);
  const auto body = nlohmann::json::parse(text);
  ASSERT_TRUE(body.contains("edge")) << text;
  const auto& edge = body["edge"];
  EXPECT_EQ(edge["stream"], "EVENTS");
  EXPECT_EQ(edge["state"], "unreachable");
  EXPECT_EQ(edge["problem"], "timeout");
  EXPECT_EQ(edge["lag_known"], true);
  EXPECT_EQ(edge["lag_events"], 9000);
  EXPECT_EQ(edge["lag_seconds"], 2.5);
  EXPECT_EQ(edge["stream_last_seq"], 40);
  EXPECT_EQ(edge["applied_stream_seq"], 31);
  EXPECT_EQ(body["count"], 1);
  EXPECT_EQ(body["processed_head"], 77);
  // The same object as the status page's /events gives.
  EXPECT_EQ(edge, nlohmann::json::parse(edge_json(e).dump()));
  e.unreachable = false;
  e.stopped = true;
  EXPECT_EQ(nlohmann::json::parse(render_connz({}, 0, 0, 77, &e))["edge"]["state"], "stopped");

  const std::string standalone = render_connz({connection_info{}}, 1, 0, 77);
  EXPECT_FALSE(nlohmann::json::parse(standalone).contains("edge")) << standalone;
  EXPECT_EQ(text.substr(0, text.find("  \"edge\"")), standalone.substr(0, standalone.find("  \"offset\"")));
}

TEST(AdminViews, ConnzQueryParsing) {
  const auto all = parse_connz_query("");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->offset, 0u);
  EXPECT_EQ(all->limit, 1000u);
  EXPECT_FALSE(all->user);
  const auto some = parse_connz_query("offset=5&limit=2&user=77");
  ASSERT_TRUE(some);
  EXPECT_EQ(some->offset, 5u);
  EXPECT_EQ(some->limit, 2u);
  EXPECT_EQ(some->user, 77u);
  EXPECT_FALSE(parse_connz_query("limit=abc"));
  EXPECT_FALSE(parse_connz_query("limit=100001"));
  EXPECT_FALSE(parse_connz_query("colour=blue"));
  EXPECT_FALSE(parse_connz_query("user"));
}

// ----------------------------------------------------------------------------------------
// Against a live daemon

class AdminTest : public ::testing::Test {
 protected:
  static config with_admin(config c = test_config()) {
    c.admin_enabled = true;
    return c;
  }
  std::uint16_t admin_port(test_daemon& d) {
    return d.on_io([](server& srv) { return srv.admin_endpoint().port(); });
  }
};

TEST_F(AdminTest, MetricsCountWhatWasSent) {
  test_daemon d(with_admin());
  auto alice = d.connect_user(1);
  auto bob = d.connect_user(2);
  ASSERT_TRUE(d.wait_for_registered_connections(2));
  auto source = d.connect_source();
    // 4|B and 1|B come after their numbers were processed (stale); the second 6|B finds 6 pending.
  source.send("1|F|1|2\r\n2|S|2\r\nnot-a-line\r\n\r\n3|Q|1\r\n4|P|2|1\r\n4|B\r\n1|B\r\n6|B\r\n6|B\r\n");
  ASSERT_TRUE(d.wait_until([](server& srv) { return srv.stats().rejected_duplicate == 1; }));
  ASSERT_EQ(alice.read_lines(2), (test_support::lines{"2|S|2", "4|P|2|1"}));
  ASSERT_EQ(bob.read_lines(1), (test_support::lines{"1|F|1|2"}));

  const auto reply = http_request(admin_port(d), "GET /metrics HTTP/1.1");
  ASSERT_EQ(reply.status, 200);
  EXPECT_THAT(reply.headers, HasSubstr("text/plain; version=0.0.4"));
  const std::string& m = reply.body;
  EXPECT_EQ(metric(m, "eventserver_event_lines_received_total"), 10);
  EXPECT_EQ(metric(m, "eventserver_events_processed_total"), 4);
  EXPECT_EQ(metric(m, "eventserver_event_lines_rejected_total{reason=\"no_sequence\"}"), 2);
  EXPECT_EQ(metric(m, "eventserver_event_lines_rejected_total{reason=\"bad_body\"}"), 1);
  EXPECT_EQ(metric(m, "eventserver_event_lines_rejected_total{reason=\"duplicate\"}"), 1);
  EXPECT_EQ(metric(m, "eventserver_event_lines_rejected_total{reason=\"stale\"}"), 2);
  EXPECT_EQ(metric(m, "eventserver_sequence_head"), 6);
  EXPECT_EQ(metric(m, "eventserver_sequence_next_expected"), 5);
  EXPECT_EQ(metric(m, "eventserver_reorder_window_events"), 1);
  EXPECT_GE(metric(m, "eventserver_oldest_gap_age_seconds"), 0);  // present; may still be < 1 ms old
  EXPECT_EQ(metric(m, "eventserver_notifications_delivered_total"), 3);
  EXPECT_EQ(metric(m, "eventserver_connected_users"), 2);
  EXPECT_EQ(metric(m, "eventserver_client_connections"), 2);
  EXPECT_EQ(metric(m, "eventserver_event_sources"), 1);
  EXPECT_EQ(metric(m, "eventserver_follow_edges"), 1);
  EXPECT_EQ(metric(m, "eventserver_bytes_sent_total"), 25);  // "1|F|1|2" "2|S|2" "4|P|2|1", each + CRLF
  EXPECT_EQ(metric(m, "eventserver_client_writes_total"), 2);  // one for each client: the lines came in one read
  // Latency: one observation per write, one per event made durable (in memory: historyBytes).
  EXPECT_EQ(metric(m, "eventserver_delivery_latency_seconds_count"), 2);
  EXPECT_EQ(metric(m, "eventserver_durable_latency_seconds_count"), 4);
  EXPECT_EQ(metric(m, "eventserver_ready"), 1);
  EXPECT_GE(metric(m, "process_open_fds"), 5);  // three connections, two listeners at least
  EXPECT_GT(metric(m, "process_max_fds"), metric(m, "process_open_fds"));
}

TEST_F(AdminTest, MetricsCountASlowClientAndAHandshakeFailure) {
  auto settings = with_admin();
  settings.max_client_queue_bytes = 4096;
  settings.history_bytes = 0;  // no history: the slow client is cut off
  test_daemon d(settings);
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto bad = d.connect_client();
  bad.send("not-an-id\r\n");
  ASSERT_EQ(bad.wait_closed(), test_support::read_status::eof);
  ASSERT_TRUE(d.wait_for_registered_connections(1));
  auto source = d.connect_source();
  std::uint64_t seq = 0;
  // Private messages until user 2, who never reads, is over its 4 KiB queue. The kernel's
  // socket buffers (send buffer autotuned up to 4 MB) take their share first, so this may
  // need several MB: bounded at ~12 MB.
  for (int batch = 0; batch < 600 && d.stats().clients_disconnected_slow == 0; ++batch) {
    std::string bytes;
    for (int i = 0; i < 500; ++i) bytes += std::to_string(++seq) + "|P|00000000000000000001|2\n";
    source.send(bytes);
    ASSERT_TRUE(d.wait_for_processed(seq));
  }
  ASSERT_EQ(d.stats().clients_disconnected_slow, 1u);
  const auto m = http_request(admin_port(d), "GET /metrics HTTP/1.1").body;
  EXPECT_EQ(metric(m, "eventserver_client_disconnects_total{reason=\"slow\"}"), 1);
  EXPECT_EQ(metric(m, "eventserver_client_disconnects_total{reason=\"handshake_bad_id\"}"), 1);
  EXPECT_EQ(metric(m, "eventserver_clients_accepted_total"), 2);
  EXPECT_EQ(metric(m, "eventserver_client_connections"), 0);
}

TEST_F(AdminTest, ConnzListsEachConnectionWithItsUserAndQueue) {
  test_daemon d(with_admin());
  auto first = d.connect_user(10);
  auto second = d.connect_user(20);
  auto again = d.connect_user(10);
  ASSERT_TRUE(d.wait_for_registered_connections(3));
  auto source = d.connect_source();
  source.send("1|P|5|10\r\n2|B\r\n");
  ASSERT_TRUE(d.wait_for_processed(2));
  ASSERT_EQ(first.read_lines(2).size(), 2u);
  ASSERT_EQ(again.read_lines(2).size(), 2u);
  ASSERT_EQ(second.read_lines(1).size(), 1u);

  const auto reply = http_request(admin_port(d), "GET /connz HTTP/1.1");
  ASSERT_EQ(reply.status, 200);
  EXPECT_THAT(reply.headers, HasSubstr("application/json"));
  const auto body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["total"], 3);
  EXPECT_EQ(body["processed_head"], 2);
  ASSERT_EQ(body["connections"].size(), 3u);
  // Oldest first: the order they connected in.
  EXPECT_EQ(body["connections"][0]["user"], 10);
  EXPECT_EQ(body["connections"][1]["user"], 20);
  EXPECT_EQ(body["connections"][2]["user"], 10);
  EXPECT_EQ(body["connections"][0]["notifications"], 2);
  EXPECT_EQ(body["connections"][1]["notifications"], 1);
  EXPECT_EQ(body["connections"][0]["last_sequence"], 2);
  EXPECT_EQ(body["connections"][0]["queued_bytes"], 0);
  EXPECT_EQ(body["connections"][0]["behind"], 0);
  EXPECT_THAT(body["connections"][0]["remote"].get<std::string>(), StartsWith("127.0.0.1:"));
  EXPECT_FALSE(body.contains("edge")) << "a standalone daemon's /connz is as before";

  const auto only = nlohmann::json::parse(http_request(admin_port(d), "GET /connz?user=10&limit=1&offset=1 HTTP/1.1").body);
  EXPECT_EQ(only["total"], 2);
  EXPECT_EQ(only["count"], 1);
  EXPECT_EQ(only["connections"][0]["user"], 10);
}

// /connz is built a slice at a time (the event thread goes on between slices): each slice
// describes at most the connections it is allowed, and together they make the page, oldest
// first, the offset and the limit applied across slices.
TEST_F(AdminTest, ConnzIsBuiltInSlicesThatMakeTheWholePage) {
  test_daemon d(with_admin());
  std::vector<test_support::connection> clients;
  for (user_id user = 1; user <= 10; ++user) clients.push_back(d.connect_user(user));
  ASSERT_TRUE(d.wait_for_registered_connections(10));
  const auto build = [&d](connz_query query, std::size_t slice) {
    return d.on_io([query, slice](server& srv) {
      connz_build b;
      b.query = query;
      std::vector<std::size_t> listed;  // after each slice
      while (!srv.connz_slice(b, slice)) listed.push_back(b.listed);
      listed.push_back(b.listed);
      return std::pair(nlohmann::json::parse(b.body), listed);
    });
  };
  const auto [all, slices] = build(connz_query{}, 3);
  EXPECT_EQ(slices, (std::vector<std::size_t>{3, 6, 9, 10}));
  EXPECT_EQ(all["total"], 10);
  EXPECT_EQ(all["count"], 10);
  ASSERT_EQ(all["connections"].size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(all["connections"][i]["user"], i + 1) << i;

  const auto [page, page_slices] = build(connz_query{.offset = 4, .limit = 3, .user = std::nullopt}, 2);
  EXPECT_EQ(page["total"], 10);
  EXPECT_EQ(page["offset"], 4);
  ASSERT_EQ(page["connections"].size(), 3u);
  EXPECT_EQ(page["connections"][0]["user"], 5);
  EXPECT_EQ(page["connections"][2]["user"], 7);

  // An offset past everything, even one near 2^64, ends with an empty page.
  const connz_query far{.offset = std::numeric_limits<std::size_t>::max() - 1, .limit = 100000, .user = std::nullopt};
  const auto [beyond, beyond_slices] = build(far, 4);
  EXPECT_EQ(beyond["total"], 10);
  EXPECT_TRUE(beyond["connections"].empty());
  EXPECT_EQ(beyond_slices.size(), 3u);

  const auto [empty, empty_slices] = build(connz_query{.offset = 0, .limit = 5, .user = 99}, 2);
  EXPECT_EQ(empty["total"], 0);
  EXPECT_TRUE(empty["connections"].empty());
}

TEST_F(AdminTest, ReadyzFailsWhileAGapStallsTheStreamAndRecovers) {
  auto settings = with_admin();
  settings.ready_max_gap_age = 50ms;
  test_daemon d(settings);
  const auto port = admin_port(d);
  EXPECT_EQ(http_request(port, "GET /readyz HTTP/1.1").status, 200);  // no source yet: nothing to stall
  auto source = d.connect_source();
  source.send("2|B\r\n");
  ASSERT_TRUE(d.wait_until([](server& srv) { return srv.dispatch().sequence().pending() == 1; }));
  std::this_thread::sleep_for(120ms);  // let the gap grow older than the threshold
  const auto stalled = http_request(port, "GET /readyz HTTP/1.1");
  EXPECT_EQ(stalled.status, 503);
  EXPECT_THAT(stalled.body, HasSubstr("waiting for sequence number 1"));
  source.send("1|B\r\n");
  ASSERT_TRUE(d.wait_for_processed(2));
  EXPECT_EQ(http_request(port, "GET /readyz HTTP/1.1").status, 200);
  EXPECT_EQ(http_request(port, "GET /healthz HTTP/1.1").body, "ok\n");
}

TEST_F(AdminTest, BadRequestsGetProperStatusCodes) {
  test_daemon d(with_admin());
  const auto port = admin_port(d);
  EXPECT_EQ(http_request(port, "GET /nowhere HTTP/1.1").status, 404);
  const auto post = http_request(port, "POST /metrics HTTP/1.1", "Content-Length: 0\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.headers, HasSubstr("Allow: GET"));
  EXPECT_EQ(http_request(port, "GET /connz?limit=lots HTTP/1.1").status, 400);
  EXPECT_EQ(http_request(port, "NONSENSE").status, 400);
  // The event path is untouched by all that.
  auto alice = d.connect_user(1);
  ASSERT_TRUE(d.wait_for_registered_connections(1));
  auto source = d.connect_source();
  source.send("1|B\r\n");
  EXPECT_EQ(alice.read_lines(1), test_support::lines{"1|B"});
}

TEST_F(AdminTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  test_daemon d(with_admin());
  auto conn = test_support::connection::open(admin_port(d));
  conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(conn.wait_closed(), test_support::read_status::eof);
  const std::string raw = conn.take_buffered();
  std::size_t count = 0;
  for (auto at = raw.find("HTTP/1.1 200 OK"); at != std::string::npos; at = raw.find("HTTP/1.1 200 OK", at + 1)) ++count;
  EXPECT_EQ(count, 2u);
}

}  // namespace
}  // namespace eventserver
