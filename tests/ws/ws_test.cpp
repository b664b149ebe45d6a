// WebSocket clients (docs/protocol.md, "WebSocket"): the same delivery as TCP clients, over
// frames; the upgrade's refusals with their statuses and counters; pings, pongs and the close
// codes. In-process daemons over real sockets; every wait bounded.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "support/daemon.hpp"
#include "support/http.hpp"
#include "support/temp_directory.hpp"
#include "ws/ws_client.hpp"

namespace eventserver {
namespace {

using namespace test_support;
using ::testing::HasSubstr;
using ::testing::Not;

config ws_config() {
  config c = test_config();
  c.ws_enabled = true;
  return c;
}

// Opens a WebSocket as `target` and waits until the daemon has registered it (registration
// is asynchronous: events sent before it completes would not reach the client).
std::unique_ptr<ws_client> open_registered(test_daemon& d, const std::string& target,
                                           const ws_client::options& opts = {}) {
  const auto before = d.stats().clients_registered;
  auto client = ws_client::open(d.ws_port(), target, opts);
  if (!d.wait_until([before](server& s) { return s.stats().clients_registered > before; })) {
    ADD_FAILURE() << target << " was not registered within the wait bound";
  }
  return client;
}

std::unique_ptr<ws_client> open_user(test_daemon& d, user_id user, const ws_client::options& opts = {}) {
  return open_registered(d, "/users/" + std::to_string(user), opts);
}

lines privates_to(user_id to, sequence_number first, sequence_number last, std::size_t pad = 0) {
  lines out;
  for (sequence_number seq = first; seq <= last; ++seq) {
    out.push_back(std::to_string(seq) + "|P|" + std::string(pad, '0') + "7|" + std::to_string(to));
  }
  return out;
}

// Every frame holds whole lines separated by '\n': none empty, no '\r', no trailing '\n'.
void expect_well_formed(const std::vector<std::string>& frames) {
  for (const auto& frame : frames) {
    EXPECT_FALSE(frame.empty());
    EXPECT_EQ(frame.find('\r'), std::string::npos) << frame;
    EXPECT_NE(frame.back(), '\n') << frame;
    EXPECT_EQ(frame.find("\n\n"), std::string::npos) << frame;
  }
}

// --- Delivery: as a TCP client gets it --------------------------------------------------------

TEST(WebSocket, NotificationsArriveAsFramesInOrderLikeOverTcp) {
  test_daemon d(ws_config());
  auto tcp1 = d.connect_user(1);
  auto ws1 = open_user(d, 1);
  auto ws2 = open_user(d, 2);
  auto source = d.connect_source();
  source.send_lines({"3|F|2|1", "1|B", "2|P|5|1", "4|S|1", "5|P|1|2", "6|U|2|1", "7|S|1", "8|B"});
  const lines to_1{"1|B", "2|P|5|1", "3|F|2|1", "8|B"};
  const lines to_2{"1|B", "4|S|1", "5|P|1|2", "8|B"};
  EXPECT_EQ(tcp1.read_lines(4), to_1);
  EXPECT_EQ(ws1->read_lines(4), to_1);
  EXPECT_EQ(ws2->read_lines(4), to_2);
  EXPECT_EQ(ws1->expect_no_more(), lines{});
  EXPECT_EQ(ws2->expect_no_more(), lines{});
  expect_well_formed(ws1->frames());
  expect_well_formed(ws2->frames());
}

// A busy stream: everything in order, and coalesced (a frame per flush, not per notification).
TEST(WebSocket, AStreamArrivesWholeAndCoalescedIntoFewerFrames) {
  test_daemon d(ws_config());
  auto tcp = d.connect_user(1);
  auto ws = open_user(d, 1);
  auto source = d.connect_source();
  lines stream;
  for (sequence_number seq = 1; seq <= 20000; ++seq) {
    stream.push_back(seq % 3 == 0 ? std::to_string(seq) + "|B" : std::to_string(seq) + "|P|9|1");
  }
  std::jthread feed([&source, &stream] { source.send_lines(stream); });
  EXPECT_EQ(ws->read_lines(stream.size()), stream);
  EXPECT_EQ(tcp.read_lines(stream.size()), stream);
  EXPECT_LT(ws->frames().size(), stream.size() / 4);
  expect_well_formed(ws->frames());
}

TEST(WebSocket, AUserOnSeveralConnectionsGetsEverythingOnEach) {
  test_daemon d(ws_config());
  auto a = open_user(d, 7);
  auto b = open_user(d, 7);
  auto c = open_user(d, 7);
  auto tcp = d.connect_user(7);
  auto source = d.connect_source();
  source.send_lines({"1|B", "2|P|3|7", "3|P|7|3"});
  const lines expected{"1|B", "2|P|3|7"};
  EXPECT_EQ(a->read_lines(2), expected);
  EXPECT_EQ(b->read_lines(2), expected);
  EXPECT_EQ(c->read_lines(2), expected);
  EXPECT_EQ(tcp.read_lines(2), expected);
  b.reset();  // one leaves; the others go on
  ASSERT_TRUE(d.wait_for_registered_connections(3));
  source.send_lines({"4|B"});
  EXPECT_EQ(a->read_lines(1), lines{"4|B"});
  EXPECT_EQ(c->read_lines(1), lines{"4|B"});
}

// ?last=&epoch=: the status line, then exactly what was missed, then the live stream.
TEST(WebSocket, AResumeGetsTheStatusLineThenExactlyTheMissedOnes) {
  test_daemon d(ws_config());
  auto source = d.connect_source();
  {
    auto alice = open_user(d, 2);
    source.send_lines({"1|F|2|5", "2|S|5", "3|B", "4|P|1|2"});
    EXPECT_EQ(alice->read_lines(3), (lines{"2|S|5", "3|B", "4|P|1|2"}));
  }
  ASSERT_TRUE(d.wait_for_registered_connections(0));
  source.send_lines({"5|S|5", "6|U|2|5", "7|S|5", "8|B"});
  ASSERT_TRUE(d.wait_for_processed(8));
  auto again = open_registered(d, "/users/2?last=4&epoch=1");
  EXPECT_EQ(again->read_lines(3), (lines{"resumed|1|4|complete", "5|S|5", "8|B"}));
  source.send_lines({"9|B"});
  EXPECT_EQ(again->read_lines(1), lines{"9|B"});
  EXPECT_EQ(again->expect_no_more(100ms), lines{});
  auto without_epoch = open_registered(d, "/users/2?last=8");
  EXPECT_EQ(without_epoch->read_lines(2), (lines{"resumed|1|8|complete", "9|B"}));
  auto other_epoch = open_registered(d, "/users/3?last=1&epoch=7");
  EXPECT_EQ(other_epoch->read_lines(1), (lines{"resumed|1|0|incomplete"}));
  EXPECT_EQ(d.stats().resumes_complete, 2u);
}

// Kernel buffers on loopback hold megabytes: long lines, thousands of them, get past them.
const std::string padding(400, '0');

// A slow WebSocket reader gets everything in order, in whole frames, and nobody else waits:
// from the in-memory history, or (spill) from its own notifications kept in a file.
void slow_reader_gets_everything(bool spill) {
  temp_directory dir{"eventserver-ws-spill"};
  config c = ws_config();
  c.max_client_queue_bytes = 4096;
  c.client_write_batch_bytes = 1024;
  if (spill) {
    c.data_dir = dir.path();
    c.client_spill_bytes = 64 << 20;
  }
  test_daemon d(c);
  auto fast = open_user(d, 1);
  auto slow = open_user(d, 2, {.origin = {}, .receive_buffer = 4096});
  auto source = d.connect_source();
  lines stream;
  lines to_fast;
  lines to_slow;
  for (sequence_number seq = 1; seq <= 15000; ++seq) {
    if (seq % 100 == 0) {
      stream.push_back(std::to_string(seq) + "|P|9|1");
      to_fast.push_back(stream.back());
    } else {
      stream.push_back(std::to_string(seq) + "|P|" + padding + "9|2");
      to_slow.push_back(stream.back());
    }
  }
  std::jthread feed([&source, &stream] { source.send_lines(stream); });
  EXPECT_EQ(fast->read_lines(to_fast.size()), to_fast);  // while the slow one reads nothing
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().catch_up_entered >= 1; }));
  lines got;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (got.size() < to_slow.size() && std::chrono::steady_clock::now() < deadline) {
    for (auto& line : slow->read_lines(std::min<std::size_t>(50, to_slow.size() - got.size()), 200ms)) {
      got.push_back(std::move(line));
    }
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(got, to_slow);
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().catch_up_rejoined >= 1; }));
  feed.join();
  source.send_lines({"15001|B"});
  EXPECT_EQ(slow->read_lines(1), lines{"15001|B"});
  EXPECT_EQ(fast->read_lines(1), lines{"15001|B"});
  const auto s = d.stats();
  EXPECT_EQ(s.clients_disconnected_slow, 0u);
  EXPECT_EQ(s.clients_disconnected_stuck, 0u);
  EXPECT_GT(spill ? s.spill_notifications : s.history_notifications, 0u);
  expect_well_formed(slow->frames());
}

TEST(WebSocket, ASlowReaderCatchesUpFromHistoryAndNobodyElseWaits) { slow_reader_gets_everything(false); }

TEST(WebSocket, ASlowReaderSpillsItsOwnNotificationsAndNobodyElseWaits) { slow_reader_gets_everything(true); }

// Without history a reader over its queue bound is cut off, as over TCP.
TEST(WebSocket, WithoutHistoryASlowReaderIsCutOff) {
  config c = ws_config();
  c.max_client_queue_bytes = 4096;
  c.client_write_batch_bytes = 1024;
  c.history_bytes = 0;
  test_daemon d(c);
  auto fine = open_user(d, 1);
  auto slow = open_user(d, 2, {.origin = {}, .receive_buffer = 4096});
  auto source = d.connect_source();
  std::jthread feed([&source] {
    try {
      source.send_lines(privates_to(2, 1, 15000, 400));
      source.send_lines({"15001|B"});
    } catch (const std::exception&) {
    }
  });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().clients_disconnected_slow == 1; }));
  EXPECT_EQ(fine->read_lines(1), lines{"15001|B"});
}

// A socket that takes nothing: the write timeout (clientWriteTimeoutMs) ends it.
TEST(WebSocket, AStuckReaderIsClosedAfterTheWriteTimeout) {
  config c = ws_config();
  c.max_client_queue_bytes = 4096;
  c.client_write_batch_bytes = 1024;
  c.client_write_timeout = 300ms;
  test_daemon d(c);
  auto fine = open_user(d, 1);
  auto stuck = open_user(d, 2, {.origin = {}, .receive_buffer = 4096});  // never read: the test never waits on it
  auto source = d.connect_source();
  std::jthread feed([&source] {
    try {
      source.send_lines(privates_to(2, 1, 20000, 400));  // 8 MB for user 2
      source.send_lines({"20001|B"});
    } catch (const std::exception&) {
    }
  });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().clients_disconnected_stuck == 1; }));
  EXPECT_TRUE(d.logs().contains("(user 2) disconnected: stuck")) << d.logs().dump();
  EXPECT_EQ(fine->read_lines(1), lines{"20001|B"});
  // Its session ends within the close linger although its socket never took the close frame.
  EXPECT_TRUE(d.wait_for_client_sessions(1));
}

// --- Upgrades refused: the status and the counter -----------------------------------------------

struct refusal {
  const char* name;
  std::string request;
  int status;
  const char* reason;  // eventserver_ws_upgrades_refused_total{reason=...}
};

// ctest names the cases; the parameter needs no dump.
void PrintTo(const refusal& r, std::ostream* os) { *os << r.name; }

class WebSocketRefusal : public ::testing::TestWithParam<refusal> {};

std::string keyed_request(std::string_view key) {
  return "GET /users/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " + std::string(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

TEST_P(WebSocketRefusal, GetsItsStatusAndCounter) {
  config c = ws_config();
  c.admin_enabled = true;
  c.ws_allowed_origins = {"https://app.example.com"};
  test_daemon d(c);
  const auto& p = GetParam();
  const http_answer answer = send_upgrade(d.ws_port(), p.request);
  EXPECT_EQ(answer.status, p.status) << answer.head;
  EXPECT_THAT(answer.head, HasSubstr("Server: eventserver"));
  if (p.status == 405) {
    EXPECT_THAT(answer.head, HasSubstr("Allow: GET"));
  }
  if (p.status == 426) {
    EXPECT_THAT(answer.head, HasSubstr("Upgrade: websocket"));
  }
  ASSERT_TRUE(d.wait_for_client_sessions(0));  // closed after the answer
  const auto port = d.on_io([](server& s) { return s.admin_endpoint().port(); });
  const auto metrics = http_request(port, "GET /metrics HTTP/1.1").body;
  const std::vector<std::string> reasons{"bad_request", "bad_target", "not_found", "method", "not_upgrade", "origin"};
  for (const auto& reason : reasons) {
    EXPECT_EQ(metric(metrics, "eventserver_ws_upgrades_refused_total{reason=\"" + reason + "\"}"),
              reason == p.reason ? 1 : 0)
        << reason;
  }
  EXPECT_EQ(metric(metrics, "eventserver_ws_upgrades_total"), 0);
  EXPECT_EQ(d.stats().clients_registered, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Upgrade, WebSocketRefusal,
    ::testing::Values(
        refusal{"BadPath", upgrade_request("/chat"), 404, "not_found"},
        refusal{"PathBelowAUser", upgrade_request("/users/1/x"), 404, "not_found"},
        refusal{"BadId", upgrade_request("/users/abc"), 400, "bad_target"},
        refusal{"EmptyId", upgrade_request("/users/"), 400, "bad_target"},
        refusal{"NegativeId", upgrade_request("/users/-1"), 400, "bad_target"},
        refusal{"BadLast", upgrade_request("/users/1?last=x"), 400, "bad_target"},
        refusal{"EpochWithoutLast", upgrade_request("/users/1?epoch=2"), 400, "bad_target"},
        refusal{"UnknownParameter", upgrade_request("/users/1?since=3"), 400, "bad_target"},
        refusal{"WrongMethod", upgrade_request("/users/1", "", "POST"), 405, "method"},
        refusal{"NotAnUpgrade", "GET /users/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 426, "not_upgrade"},
        refusal{"OriginNotAllowed", upgrade_request("/users/1", "Origin: https://evil.example.net\r\n"), 403, "origin"},
        refusal{"NoWebSocketKey",
                "GET /users/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n",
                400, "bad_request"},
        // RFC 6455 4.2.1: the key must decode to 16 bytes.
        refusal{"ShortWebSocketKey", keyed_request("abc"), 400, "bad_request"},
        refusal{"EightByteWebSocketKey", keyed_request("AAECAwQFBgc="), 400, "bad_request"},
        refusal{"WebSocketKeyNotBase64", keyed_request("AAECAwQFBgcICQoLDA0O*w=="), 400, "bad_request"},
        refusal{"Malformed", "GET /users/1 HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", 400, "bad_request"},
        refusal{"HeaderTooLarge", upgrade_request("/users/1", "X-Padding: " + std::string(9000, 'a') + "\r\n"), 431,
                "bad_request"},
        refusal{"WithABody", upgrade_request("/users/1", "Content-Length: 5\r\n") + "hello", 400, "bad_request"}),
    [](const auto& instance) { return std::string(instance.param.name); });

TEST(WebSocket, AnAllowedOriginAndNoOriginAtAllAreAccepted) {
  config c = ws_config();
  c.ws_allowed_origins = {"https://app.example.com", "http://localhost:8080"};
  test_daemon d(c);
  auto listed = open_user(d, 1, {.origin = "https://App.Example.com", .receive_buffer = 0});  // origins compare case-insensitively
  auto local = open_user(d, 2, {.origin = "http://localhost:8080", .receive_buffer = 0});
  auto no_origin = open_user(d, 3);  // not a browser
  EXPECT_THROW(ws_client::open(d.ws_port(), "/users/4", {.origin = "http://localhost:8081", .receive_buffer = 0}), std::runtime_error);
  EXPECT_EQ(d.transport_stats().ws.upgrades_refused_origin, 1u);
  EXPECT_EQ(d.transport_stats().ws.upgrades, 3u);
}

TEST(WebSocket, AClientThatSendsNoRequestIsClosedAfterTheHandshakeTimeout) {
  config c = ws_config();
  c.client_handshake_timeout = 200ms;
  test_daemon d(c);
  auto silent = connection::open(d.ws_port());
  EXPECT_NE(silent.wait_closed(5s), read_status::timeout);
  EXPECT_EQ(silent.take_buffered(), "");  // nothing written
  EXPECT_EQ(d.stats().handshake_timeouts, 1u);
  // Half a request is no better.
  auto slow = connection::open(d.ws_port());
  slow.send("GET /users/1 HTTP/1.1\r\nHost: x\r\n");
  EXPECT_NE(slow.wait_closed(5s), read_status::timeout);
  EXPECT_EQ(d.stats().handshake_timeouts, 2u);
}

TEST(WebSocket, WebSocketClientsCountAgainstMaxClients) {
  config c = ws_config();
  c.max_clients = 1;
  test_daemon d(c);
  auto tcp = d.connect_user(1);
  EXPECT_THROW(ws_client::open(d.ws_port(), "/users/2"), std::runtime_error);
  EXPECT_EQ(d.stats().clients_rejected_limit, 1u);
}

// --- What clients may send, pings and pongs, closes ----------------------------------------------

TEST(WebSocket, ADataMessageFromTheClientClosesWith1003) {
  test_daemon d(ws_config());
  auto text = open_user(d, 1);
  ASSERT_TRUE(text->send("hello"));
  EXPECT_EQ(text->wait_closed(), std::optional<std::uint16_t>(1003));
  auto binary = open_user(d, 2);
  ASSERT_TRUE(binary->send("\x01\x02", /*text=*/false));
  EXPECT_EQ(binary->wait_closed(), std::optional<std::uint16_t>(1003));
  EXPECT_TRUE(d.wait_for_client_sessions(0));
  EXPECT_EQ(d.transport_stats().ws.protocol_errors, 2u);
}

TEST(WebSocket, AMessageOver4KiBClosesWith1009) {
  test_daemon d(ws_config());
  auto client = open_user(d, 1);
  client->send(std::string(5 * 1024, 'x'));  // the daemon may close before taking all of it
  EXPECT_EQ(client->wait_closed(), std::optional<std::uint16_t>(1009));
  EXPECT_TRUE(d.wait_for_client_sessions(0));
  EXPECT_EQ(d.transport_stats().ws.protocol_errors, 1u);
}

TEST(WebSocket, AClientThatAnswersNoPingIsClosedWith4001) {
  config c = ws_config();
  c.ws_ping_interval = 100ms;
  c.ws_pong_timeout = 200ms;
  test_daemon d(c);
  connection raw;
  const http_answer answer = send_upgrade(d.ws_port(), upgrade_request("/users/1"), raw);
  ASSERT_EQ(answer.status, 101) << answer.head;
  EXPECT_THAT(answer.head, HasSubstr(std::string("Sec-WebSocket-Accept: ") + std::string(sample_accept))) << answer.head;
  const auto ping = read_raw_frame(raw, 5s);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->opcode, 0x9);
  const auto close = read_raw_frame(raw, 5s);  // no pong from us
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, 0x8);
  EXPECT_EQ(close_code_of(*close), 4001);
  raw.send(client_frame(0x8, close->payload.substr(0, 2)));  // the closing handshake
  EXPECT_NE(raw.wait_closed(5s), read_status::timeout);
  EXPECT_EQ(d.transport_stats().ws.pong_timeouts, 1u);
  EXPECT_TRUE(d.logs().contains("no pong within wsPongTimeoutMs")) << d.logs().dump();
}

TEST(WebSocket, AClientThatAnswersPingsStays) {
  config c = ws_config();
  c.ws_ping_interval = 100ms;
  c.ws_pong_timeout = 200ms;
  test_daemon d(c);
  auto client = open_user(d, 1);
  // Beast answers the pings while its read is outstanding: several rounds of ping and pong,
  // each of which would have ended the session had its pong not counted.
  ASSERT_TRUE(client->wait_for_pings(4)) << "pings: " << client->pings();
  EXPECT_FALSE(client->closed());
  auto source = d.connect_source();
  source.send_lines({"1|B"});
  EXPECT_EQ(client->read_lines(1), lines{"1|B"});
  EXPECT_EQ(d.transport_stats().ws.pong_timeouts, 0u);
}

// The liveness settings are honoured, each with a short and a long value. The daemon's own
// clock is the reference, never the test's: a gap of gapTimeoutMs (500 ms) holds back a
// broadcast, and what a client that never answers a ping receives before that broadcast shows
// which timers fired first. Timers fire in the order of their deadlines, so the outcome does
// not depend on how loaded the machine is.
//
// The frames a raw client (it answers nothing) receives until the gap-held broadcast or the
// close, whichever comes first.
std::vector<std::uint8_t> frames_before_the_held_broadcast(std::chrono::milliseconds ping_interval,
                                                          std::chrono::milliseconds pong_timeout) {
  config c = ws_config();
  c.ws_ping_interval = ping_interval;
  c.ws_pong_timeout = pong_timeout;
  c.gap_timeout = 500ms;
  test_daemon d(c);
  connection raw;
  EXPECT_EQ(send_upgrade(d.ws_port(), upgrade_request("/users/1"), raw).status, 101);
  EXPECT_TRUE(d.wait_for_registered_connections(1));
  auto source = d.connect_source();
  source.send_lines({"2|B"});  // 1 is missing: held back for the gap timeout
  std::vector<std::uint8_t> opcodes;
  for (;;) {
    const auto frame = read_raw_frame(raw);
    if (!frame) {
      ADD_FAILURE() << "no frame within the wait bound after " << opcodes.size();
      break;
    }
    opcodes.push_back(frame->opcode);
    if (frame->opcode == 0x1) {
      EXPECT_EQ(frame->payload.substr(0, 3), "2|B");
      break;
    }
    if (frame->opcode == 0x8) break;
  }
  return opcodes;
}

constexpr std::uint8_t text_frame = 0x1, close_frame = 0x8, ping_frame = 0x9;

TEST(WebSocket, ThePongTimeoutIsWsPongTimeoutMs) {
  // Short: no pong 200 ms after the ping (sent at 100 ms) closes before the broadcast at 500.
  EXPECT_EQ(frames_before_the_held_broadcast(100ms, 200ms), (std::vector<std::uint8_t>{ping_frame, close_frame}));
  // Long: an hour to answer; the broadcast comes first (wsPingIntervalMs in its place would
  // have closed at 200 ms).
  EXPECT_EQ(frames_before_the_held_broadcast(100ms, 3'600'000ms), (std::vector<std::uint8_t>{ping_frame, text_frame}));
}

TEST(WebSocket, ThePingIntervalIsWsPingIntervalMs) {
  // Short: a ping at 100 ms, before the broadcast at 500.
  EXPECT_EQ(frames_before_the_held_broadcast(100ms, 3'600'000ms).front(), ping_frame);
  // Long: the first ping is an hour away (wsPongTimeoutMs in its place would ping at 100 ms).
  EXPECT_EQ(frames_before_the_held_broadcast(3'600'000ms, 100ms), std::vector<std::uint8_t>{text_frame});
  // Off: no ping at all.
  EXPECT_EQ(frames_before_the_held_broadcast(0ms, 100ms), std::vector<std::uint8_t>{text_frame});
}

TEST(WebSocket, ThePeersCloseIsAnsweredAndCounted) {
  test_daemon d(ws_config());
  connection raw;
  ASSERT_EQ(send_upgrade(d.ws_port(), upgrade_request("/users/1"), raw).status, 101);
  ASSERT_TRUE(d.wait_for_registered_connections(1));
  raw.send(client_frame(0x8, std::string("\x03\xe8", 2)));  // 1000, normal
  const auto answer = read_raw_frame(raw, 5s);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->opcode, 0x8);
  EXPECT_NE(raw.wait_closed(5s), read_status::timeout);
  EXPECT_TRUE(d.wait_for_client_sessions(0));
  EXPECT_EQ(d.stats().clients_disconnected_peer, 1u);
}

// Shutdown: what is queued is delivered, then a close frame with 1001.
TEST(WebSocket, ShutdownDeliversWhatIsQueuedThenClosesWith1001) {
  test_daemon d(ws_config());
  auto client = open_user(d, 1);
  auto source = d.connect_source();
  source.send_lines({"1|B", "2|B"});
  ASSERT_TRUE(d.wait_for_processed(2));
  d.request_shutdown();
  EXPECT_EQ(client->read_lines(2), (lines{"1|B", "2|B"}));
  EXPECT_EQ(client->wait_closed(), std::optional<std::uint16_t>(1001));
  EXPECT_TRUE(d.stop());
}

// A client that does not answer the close still lets the daemon stop (within the close linger).
TEST(WebSocket, ShutdownIsNotHeldUpByAClientThatIgnoresTheClose) {
  test_daemon d(ws_config());
  connection raw;
  ASSERT_EQ(send_upgrade(d.ws_port(), upgrade_request("/users/1"), raw).status, 101);
  ASSERT_TRUE(d.wait_for_registered_connections(1));
  EXPECT_TRUE(d.stop());  // within the wait bound: the close linger ends it, not the client
  const auto close = read_raw_frame(raw, 5s);
  ASSERT_TRUE(close);
  EXPECT_EQ(close_code_of(*close), 1001);
}

// --- What the admin endpoints show -----------------------------------------------------------------

TEST(WebSocket, ConnzShowsTheTransportAndMetricsCountWebSockets) {
  config c = ws_config();
  c.admin_enabled = true;
  test_daemon d(c);
  auto ws = open_user(d, 5);
  auto tcp = d.connect_user(6);
  const auto port = d.on_io([](server& s) { return s.admin_endpoint().port(); });
  const auto connz = http_request(port, "GET /connz?user=5 HTTP/1.1").body;
  EXPECT_THAT(connz, HasSubstr("\"transport\": \"ws\""));
  EXPECT_THAT(connz, Not(HasSubstr("\"transport\": \"tcp\"")));
  const auto metrics = http_request(port, "GET /metrics HTTP/1.1").body;
  EXPECT_EQ(metric(metrics, "eventserver_ws_connections"), 1);
  EXPECT_EQ(metric(metrics, "eventserver_client_connections"), 2);
  EXPECT_EQ(metric(metrics, "eventserver_ws_upgrades_total"), 1);
  EXPECT_EQ(d.on_io([](server& s) { return s.snapshot().ws_connections; }), 1u);
}

TEST(WebSocket, TheListenerIsOffUnlessConfigured) {
  test_daemon d;  // test_config(): as by default
  EXPECT_EQ(d.ws_port(), 0);
  EXPECT_FALSE(parse_config("{}").ws_enabled);
}

// --- Config ----------------------------------------------------------------------------------------

TEST(WebSocketConfig, KeysAndDefaults) {
  const config defaults = parse_config("{}");
  EXPECT_EQ(defaults.ws_listener_address, "0.0.0.0");
  EXPECT_EQ(defaults.ws_listener_port, 0);
  EXPECT_EQ(defaults.ws_ping_interval, 25000ms);
  EXPECT_EQ(defaults.ws_pong_timeout, 10000ms);
  EXPECT_TRUE(defaults.ws_allowed_origins.empty());
  const config on = parse_config(
      R"({"wsListenerAddress": "127.0.0.1", "wsListenerPort": 9098, "wsPingIntervalMs": 0, "wsPongTimeoutMs": 500,)"
      R"( "wsAllowedOrigins": ["https://example.com", "http://localhost:3000"]})");
  EXPECT_TRUE(on.ws_enabled);
  EXPECT_EQ(on.ws_listener_port, 9098);
  EXPECT_EQ(on.ws_ping_interval, 0ms);
  EXPECT_EQ(on.ws_pong_timeout, 500ms);
  EXPECT_EQ(on.ws_allowed_origins, (std::vector<std::string>{"https://example.com", "http://localhost:3000"}));
}

TEST(WebSocketConfig, BadValuesNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"wsListenerPort": 70000})", "\"wsListenerPort\" must be an integer from 0 to 65535"},
      {R"({"wsListenerAddress": "example.com"})", "\"wsListenerAddress\" must be a numeric IPv4 or IPv6 address"},
      {R"({"wsPingIntervalMs": 50})", "\"wsPingIntervalMs\" (50) must be 0 (no pings) or at least 100"},
      {R"({"wsPongTimeoutMs": 0})", "\"wsPongTimeoutMs\" must be an integer from 100"},
      {R"({"wsAllowedOrigins": "https://example.com"})", "\"wsAllowedOrigins\" must be an array of origins"},
      {R"({"wsAllowedOrigins": ["https://example.com/"]})", "\"wsAllowedOrigins\" must be an array of origins"},
      {R"({"wsAllowedOrigins": ["example.com"]})", "\"wsAllowedOrigins\" must be an array of origins"},
      {R"({"wsAllowedOrigins": [1]})", "\"wsAllowedOrigins\" must be an array of origins"},
  };
  for (const auto& [json, message] : cases) {
    try {
      parse_config(json);
      ADD_FAILURE() << json << " was accepted";
    } catch (const config_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(message)) << json;
    }
  }
}

}  // namespace
}  // namespace eventserver
