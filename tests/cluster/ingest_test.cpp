// The ingest role end to end: the built daemon with clusterRole "ingest" against a nats-server
// the test starts, an event source on loopback, and the JetStream stream read back with libnats.
// What is checked: every event is in the stream once and in order, as sealed batches with
// epoch/first/last headers and Msg-Id `<epoch>:<first>:<last>`; a source is told durable only
// what the stream holds; NATS going away pauses the source (TCP pushes back, /readyz fails, a
// metric says so) and everything arrives once after it comes back; a second ingest recovers
// from the stream and the one that publishes behind the other's back is fenced (exit 3); a
// kill -9 of the ingest and a new one: the source resends from what it is told, exactly once.
#include <nats/nats.h>
#include <poll.h>

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "eventserver/cluster/jetstream_stream.hpp"
#include "eventserver/storage/batch_format.hpp"
#include "support/log_daemon.hpp"
#include "support/nats_server.hpp"

namespace eventserver::test_support {
namespace {

const std::regex ingest_listening(R"(ingest: listening for event sources on 127\.0\.0\.1:(\d+))");
constexpr const char* stream_name = "EVENTS";

// Event number `seq` as the source sends it: follows, broadcasts and private messages.
std::string event_payload(std::uint64_t seq) {
  switch (seq % 3) {
    case 0: return std::to_string(seq) + "|F|" + std::to_string(seq % 50 + 1) + "|" + std::to_string(seq % 7 + 1);
    case 1: return std::to_string(seq) + "|B";
    default: return std::to_string(seq) + "|P|" + std::to_string(seq % 11 + 1) + "|" + std::to_string(seq % 13 + 1);
  }
}
std::string events(std::uint64_t first, std::uint64_t last) {
  std::string out;
  for (std::uint64_t seq = first; seq <= last; ++seq) out += event_payload(seq) + "\r\n";
  return out;
}

// One stored message as libnats returns it: the headers and the batch inside.
struct stored_message {
  std::uint64_t stream_seq = 0;
  std::string epoch, first, last, msg_id;
  std::vector<std::string> lines;  // the events' payloads, decoded from the sealed batch
  bool valid_batch = false;
};

std::string header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  return natsMsgHeader_Get(msg, key, &value) == NATS_OK && value != nullptr ? value : "";
}

// Every message of the stream, read with js_GetMsg (as an operator's tool would).
std::vector<stored_message> read_stream(const std::string& url) {
  std::vector<stored_message> out;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) return out;
  natsConnection_JetStream(&js, nc, nullptr);
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  if (js_GetStreamInfo(&info, js, stream_name, nullptr, &code) == NATS_OK) {
    for (std::uint64_t seq = info->State.FirstSeq; seq != 0 && seq <= info->State.LastSeq; ++seq) {
      natsMsg* msg = nullptr;
      if (js_GetMsg(&msg, js, stream_name, seq, nullptr, &code) != NATS_OK) continue;
      stored_message m{seq, header(msg, "Es-Epoch"), header(msg, "Es-First"), header(msg, "Es-Last"),
                       header(msg, "Nats-Msg-Id"), {}, false};
      const auto decoded = storage::decode_batch(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
      m.valid_batch = decoded.status == storage::decode_status::ok &&
                      decoded.batch.stored_size() == static_cast<std::size_t>(natsMsg_GetDataLength(msg));
      if (m.valid_batch) {
        for (const auto& line : storage::batch_lines(decoded.batch)) m.lines.emplace_back(line.payload());
      }
      out.push_back(std::move(m));
      natsMsg_Destroy(msg);
    }
    jsStreamInfo_Destroy(info);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return out;
}

// The stream holds events 1..last of epoch 1 exactly once, in order, each message a valid
// batch whose headers and Msg-Id name its numbers.
::testing::AssertionResult holds_exactly(const std::vector<stored_message>& stream, std::uint64_t last) {
  std::uint64_t next = 1;
  for (const auto& m : stream) {
    if (!m.valid_batch) return ::testing::AssertionFailure() << "message " << m.stream_seq << " is not a valid batch";
    const std::string first = std::to_string(next);
    const std::string end = std::to_string(next + m.lines.size() - 1);
    if (m.epoch != "1" || m.first != first || m.last != end || m.msg_id != "1:" + first + ":" + end) {
      return ::testing::AssertionFailure() << "message " << m.stream_seq << ": epoch " << m.epoch << " first " << m.first
                                           << " last " << m.last << " Msg-Id " << m.msg_id << ", expected numbers "
                                           << first << ".." << end;
    }
    for (const auto& line : m.lines) {
      if (line != event_payload(next)) {
        return ::testing::AssertionFailure() << "message " << m.stream_seq << ": '" << line << "' where "
                                             << event_payload(next) << " belongs";
      }
      ++next;
    }
  }
  if (next != last + 1) return ::testing::AssertionFailure() << "the stream ends at " << next - 1 << ", not " << last;
  return ::testing::AssertionSuccess();
}

// One run of the built daemon as an ingest. Its config uses the flat keys of earlier versions
// ("clusterRole", ...), read as aliases of the cluster section's keys: the edge tests write the
// section, so both forms run the daemon.
class ingest_daemon {
 public:
  ingest_daemon(const fs::path& dir, const std::string& nats_url, int run) : admin_port_(free_loopback_port()) {
    const fs::path config = dir / ("ingest-" + std::to_string(run) + ".json");
    std::ofstream(config, std::ios::binary)
        << R"({"eventListenerPort": 0, "adminListenerPort": )" << admin_port_
        << R"(, "clusterRole": "ingest", "clusterServers": ")" << nats_url << R"(", "clusterStream": ")" << stream_name
        << R"(", "clusterRequestTimeoutMs": 1000, "shutdownTimeoutMs": 2000})";
    process_ = std::make_unique<daemon_process>(std::vector<std::string>{"-config", config.string()},
                                                dir / ("ingest-" + std::to_string(run) + ".log"), dir);
    if (const auto match = process_->wait_for_output(ingest_listening)) {
      if (wait_for([&] { return process_->wait_exit(0ms) || ready(); }, 2 * wait_bound) && ready()) {
        event_port_ = static_cast<std::uint16_t>(std::stoi((*match)[1]));
      }
    }
  }
  bool started() const noexcept { return event_port_ != 0; }
  bool ready() { return http_request(admin_port_, "GET /readyz HTTP/1.1").status == 200; }
  std::string readyz() { return http_request(admin_port_, "GET /readyz HTTP/1.1").body; }
  std::optional<double> metric(const std::string& sample) {
    return test_support::metric(http_request(admin_port_, "GET /metrics HTTP/1.1").body, sample);
  }
  std::uint16_t event_port() const noexcept { return event_port_; }
  daemon_process& process() { return *process_; }
  std::string output() const { return process_->output(); }

 private:
  std::uint16_t admin_port_;
  std::uint16_t event_port_ = 0;
  std::unique_ptr<daemon_process> process_;
};

// Every `durable|1|<n>` line the source has been sent so far (without waiting for more).
std::vector<std::uint64_t> durable_lines_so_far(connection& source) {
  std::vector<std::uint64_t> out;
  for (const auto& line : source.read_lines(1000, 200ms)) {
    if (line.starts_with("durable|1|")) out.push_back(std::stoull(line.substr(10)));
  }
  return out;
}

class Ingest : public ::testing::Test {
 protected:
  void SetUp() override {
    EVENTSERVER_REQUIRE_NATS_SERVER();
    ASSERT_TRUE(nats_.start()) << nats_.error();
  }
  std::unique_ptr<ingest_daemon> start_ingest() {
    auto daemon = std::make_unique<ingest_daemon>(dir_.path(), nats_.url(), ++runs_);
    EXPECT_TRUE(daemon->started()) << daemon->output();
    return daemon;
  }

  nats_server nats_;
  temp_directory dir_{"eventserver-ingest-test"};
  int runs_ = 0;
};

TEST_F(Ingest, PublishesEverySourceEventOnceInOrderAsBatchesNamedByTheirNumbers) {
  auto ingest = start_ingest();
  ASSERT_TRUE(ingest->started());
  EXPECT_NE(ingest->output().find("no client, WebSocket or TLS client listener"), std::string::npos);
  auto source = connect_producer(ingest->event_port());
  EXPECT_EQ(source.told, "durable|1|0");
  // Out of order within the window: the ingest sequences them as a standalone daemon does.
  source.conn.send(events(2, 2000) + events(1, 1) + events(2001, 5000));
  ASSERT_EQ(await_durable_line(source.conn, 5000), "durable|1|5000");
  const auto stream = read_stream(nats_.url());
  EXPECT_TRUE(holds_exactly(stream, 5000));
  EXPECT_GT(stream.size(), 1u);
  EXPECT_EQ(ingest->metric("eventserver_cluster_batches_published_total"), static_cast<double>(stream.size()));
  EXPECT_EQ(ingest->metric("eventserver_cluster_last_stream_sequence"), static_cast<double>(stream.back().stream_seq));
  EXPECT_EQ(ingest->metric("eventserver_cluster_publish_failing"), 0.0);
  EXPECT_EQ(ingest->metric("eventserver_cluster_fenced"), 0.0);
}

// NATS killed mid-run: the source is told nothing the stream does not hold, the ingest stops
// reading it (its sends block: TCP pushes back), /readyz fails and a metric says publishing
// fails; after nats-server restarts on the same store, everything arrives exactly once.
TEST_F(Ingest, NatsGoneStopsReadingTheSourceAndEverythingArrivesOnceAfterItsReturn) {
  auto ingest = start_ingest();
  ASSERT_TRUE(ingest->started());
  auto source = connect_producer(ingest->event_port());
  source.conn.send(events(1, 1000));
  ASSERT_EQ(await_durable_line(source.conn, 1000), "durable|1|1000");
  nats_.kill(SIGKILL);

  // Sends without blocking until the kernel takes no more: the ingest has stopped reading.
  constexpr std::uint64_t most = 3'000'000;
  std::uint64_t sent = 1000;
  std::string chunk;
  std::size_t chunk_sent = 0;
  bool pushed_back = false;
  while (!pushed_back && sent < most) {
    if (chunk_sent == chunk.size()) {
      chunk = events(sent + 1, sent + 10'000);
      chunk_sent = 0;
    }
    const ssize_t n = ::send(source.conn.fd(), chunk.data() + chunk_sent, chunk.size() - chunk_sent,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
      // Full: still full a second later means nobody reads (a reader would have drained it).
      pollfd writable{source.conn.fd(), POLLOUT, 0};
      pushed_back = ::poll(&writable, 1, 1000) == 0;
      continue;
    }
    chunk_sent += static_cast<std::size_t>(n);
    if (chunk_sent == chunk.size()) sent += 10'000;
  }
  ASSERT_TRUE(pushed_back) << "the ingest read " << sent << " events with NATS down";
  ASSERT_TRUE(wait_for([&] { return ingest->metric("eventserver_cluster_publish_failing") == 1.0; }));
  EXPECT_FALSE(ingest->ready());
  EXPECT_NE(ingest->readyz().find("publishing to JetStream fails"), std::string::npos) << ingest->readyz();
  for (const auto told : durable_lines_so_far(source.conn)) EXPECT_LE(told, 1000u) << "told durable while NATS was down";

  ASSERT_TRUE(nats_.start()) << nats_.error();
  source.conn.send(std::string_view(chunk).substr(chunk_sent));  // the rest of the chunk begun
  sent += 10'000;
  ASSERT_EQ(await_durable_line(source.conn, sent), "durable|1|" + std::to_string(sent));
  EXPECT_TRUE(wait_for([&] { return ingest->ready(); }));
  EXPECT_EQ(ingest->metric("eventserver_cluster_publish_failing"), 0.0);
  EXPECT_GE(ingest->metric("eventserver_cluster_publish_retries_total").value_or(0), 1.0);
  EXPECT_TRUE(holds_exactly(read_stream(nats_.url()), sent));
}

// A second ingest on the same stream recovers where the first one stands (its source is told
// so); the one that then publishes behind the other's back is fenced: a clear error, exit 3,
// nothing of its events in the stream. A third one started after it recovers from the stream.
TEST_F(Ingest, ASecondIngestRecoversFromTheStreamAndTheOneBehindIsFencedNotForked) {
  auto first = start_ingest();
  ASSERT_TRUE(first->started());
  auto first_source = connect_producer(first->event_port());
  first_source.conn.send(events(1, 100));
  ASSERT_EQ(await_durable_line(first_source.conn, 100), "durable|1|100");

  auto second = start_ingest();
  ASSERT_TRUE(second->started());
  auto second_source = connect_producer(second->event_port());
  EXPECT_EQ(second_source.told, "durable|1|100");

  first_source.conn.send(events(101, 200));
  ASSERT_EQ(await_durable_line(first_source.conn, 200), "durable|1|200");
  second_source.conn.send("101|B\r\n102|B\r\n");  // other events under the same numbers
  EXPECT_EQ(second->process().wait_exit(), std::optional<int>(3)) << second->output();
  EXPECT_NE(second->output().find("fenced: "), std::string::npos) << second->output();
  for (const auto told : durable_lines_so_far(second_source.conn)) EXPECT_LE(told, 100u);

  EXPECT_TRUE(holds_exactly(read_stream(nats_.url()), 200));
  auto third = start_ingest();
  ASSERT_TRUE(third->started());
  EXPECT_EQ(connect_producer(third->event_port()).told, "durable|1|200");
}

// kill -9 of the ingest while events are in flight, and another one: the source resends from
// what the new one tells it, and the stream holds every event exactly once (no gap, no double).
TEST_F(Ingest, AKilledIngestsSuccessorContinuesTheStreamExactlyOnce) {
  constexpr std::uint64_t total = 200'000;
  auto first = start_ingest();
  ASSERT_TRUE(first->started());
  {
    auto source = connect_producer(first->event_port());
    source.conn.send(events(1, total));
    ASSERT_NE(await_durable_line(source.conn, 5000).find("durable|1|"), std::string::npos);
    first->process().signal(SIGKILL);
    first->process().wait_exit();
  }
  auto second = start_ingest();
  ASSERT_TRUE(second->started());
  auto source = connect_producer(second->event_port());
  const std::string prefix = "durable|1|";
  ASSERT_TRUE(source.told.starts_with(prefix)) << source.told;
  const std::uint64_t told = std::stoull(source.told.substr(prefix.size()));
  EXPECT_GE(told, 5000u);
  RecordProperty("resent_from", std::to_string(told + 1));  // how far the dead one had got
  if (told < total) {
    source.conn.send(events(told + 1, total));
    ASSERT_EQ(await_durable_line(source.conn, total), "durable|1|" + std::to_string(total));
  }
  EXPECT_TRUE(holds_exactly(read_stream(nats_.url()), total));
}

// A nats-server that asks for a user and password: an ingest given them in the server URL
// publishes; one given a wrong password stops at start-up as a bad config does (exit 2), with a
// line that says the credentials were refused and does not show the password.
TEST_F(Ingest, CredentialsInTheServerUrlAreUsedAndWrongOnesExitWith2) {
  nats_server secured;
  secured.use_config("authorization { user: eventserver, password: s3cret-pw }\njetstream { store_dir: \"STORE_DIR\" }\n");
  ASSERT_TRUE(secured.start()) << secured.error();
  const std::string host = secured.url().substr(std::string("nats://").size());
  {
    ingest_daemon ingest(dir_.path(), "nats://eventserver:s3cret-pw@" + host, ++runs_);
    ASSERT_TRUE(ingest.started()) << ingest.output();
    auto source = connect_producer(ingest.event_port());
    source.conn.send(events(1, 100));
    ASSERT_EQ(await_durable_line(source.conn, 100), "durable|1|100");
    EXPECT_TRUE(holds_exactly(read_stream("nats://eventserver:s3cret-pw@" + host), 100));
    EXPECT_NE(ingest.output().find("at nats://eventserver:***@" + host), std::string::npos) << ingest.output();
    EXPECT_EQ(ingest.output().find("s3cret-pw"), std::string::npos) << ingest.output();
  }
  ingest_daemon wrong(dir_.path(), "nats://eventserver:wr0ng-pw@" + host, ++runs_);
  EXPECT_EQ(wrong.process().wait_exit(), std::optional<int>(2)) << wrong.output();
  EXPECT_NE(wrong.output().find("NATS at nats://eventserver:***@" + host + " refused the credentials"), std::string::npos)
      << wrong.output();
  EXPECT_EQ(wrong.output().find("wr0ng-pw"), std::string::npos) << wrong.output();
}

// Settings that break a promise stop start-up as a bad config does (exit 2): a line longer than
// the server's max_payload allows could never be published.
TEST_F(Ingest, ALineLimitPastTheServersMaxPayloadIsAConfigError) {
  const fs::path config = dir_.path() / "too-long.json";
  std::ofstream(config, std::ios::binary)
      << R"({"eventListenerPort": 0, "adminListenerPort": 0, "maxLineBytes": 1048576, "clusterRole": "ingest", )"
      << R"("clusterServers": ")" << nats_.url() << R"("})";
  daemon_process process({"-config", config.string()}, dir_.path() / "too-long.log", dir_.path());
  EXPECT_EQ(process.wait_exit(), std::optional<int>(2)) << process.output();
  EXPECT_NE(process.output().find("do not fit the server's max_payload"), std::string::npos) << process.output();
}

}  // namespace
}  // namespace eventserver::test_support
