// The event log end to end: restart recovery, the durable position a source is told, the
// new-stream policy, disk full, damage, snapshots. In-process daemons over real sockets, and
// the built binary where a process must die (kill -9) or be limited (a full disk).
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <span>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eventserver/app/log_tool.hpp"
#include "eventserver/storage/file_log.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/snapshot_file.hpp"
#include "support/child_process.hpp"
#include "support/daemon.hpp"
#include "support/http.hpp"
#include "support/process.hpp"
#include "support/temp_directory.hpp"

namespace eventserver {
namespace {

namespace fs = std::filesystem;
using namespace test_support;
using ::testing::HasSubstr;

// "first|B" .. "last|B".
lines broadcasts(sequence_number first, sequence_number last) {
  lines out;
  for (sequence_number seq = first; seq <= last; ++seq) out.push_back(std::to_string(seq) + "|B");
  return out;
}

config with_log(const temp_directory& dir, storage::fsync_policy fsync = storage::fsync_policy::always) {
  config settings = test_config();
  settings.data_dir = dir.path().string();
  settings.log_fsync = fsync;
  return settings;
}

// Reads the source connection's durable lines until one reports at least `seq` of `epoch`.
std::string await_durable(connection& source, sequence_number seq, stream_epoch epoch = 1) {
  const auto deadline = std::chrono::steady_clock::now() + wait_bound;
  const std::string prefix = "durable|" + std::to_string(epoch) + "|";
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& line : source.read_lines(1, 100ms)) {
      last = line;
      if (line.starts_with(prefix) && std::stoull(line.substr(prefix.size())) >= seq) return line;
    }
  }
  return "timed out at '" + last + "'";
}

TEST(EventLog, ARestartContinuesAtTheNextNumberWithTheGraphIntact) {
  temp_directory dir{"eventserver-log-test"};
  {
    test_daemon d(with_log(dir));
    auto bob = d.connect_user(2);
    auto source = d.connect_source();
    source.send_lines({"1|F|2|1", "2|B"});
    EXPECT_EQ(bob.read_lines(1), (lines{"2|B"}));
    EXPECT_EQ(d.on_io([](server& s) { return s.dispatch().applied().seq; }), 2u);
  }  // a graceful stop: the last snapshot is written
  test_daemon d(with_log(dir));
  EXPECT_EQ(d.on_io([](server& s) { return s.dispatch().sequence().next_expected(); }), 3u);
  auto bob = d.connect_user(2);
  auto source = d.connect_source();
  source.send_lines({"3|S|1", "1|B"});  // 1 is stale now: dropped
  EXPECT_EQ(bob.read_lines(1), (lines{"3|S|1"}));  // bob's follow of 1 survived the restart
  EXPECT_EQ(bob.expect_no_more(150ms), "");
  EXPECT_EQ(d.stats().rejected_stale, 1u);
  EXPECT_TRUE(d.logs().contains("event log: recovered epoch 1 at sequence number 2")) << d.logs().dump();
}

// The next periodic snapshot counts from the snapshot recovered, not from the stream's start:
// a restart past snapshotEveryEvents does not write another one at once.
TEST(EventLog, ARestartDoesNotSnapshotAgainAtOnce) {
  temp_directory dir{"eventserver-log-test"};
  config settings = with_log(dir);
  settings.snapshot_every_events = 1000;
  const auto snapshots = [&] {
    std::size_t count = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) count += entry.path().extension() == ".snap";
    return count;
  };
  {
    test_daemon d(settings);
    auto source = d.connect_source();
    source.send_lines(broadcasts(1, 1500));
    source.send_lines({"durable?"});
    ASSERT_EQ(await_durable(source, 1500), "durable|1|1500");
  }  // a graceful stop: the last snapshot, at 1500
  const std::size_t before = snapshots();
  test_daemon d(settings);
  auto source = d.connect_source();
  source.send_lines(broadcasts(1501, 1600));
  source.send_lines({"durable?"});
  ASSERT_EQ(await_durable(source, 1600), "durable|1|1600");
  EXPECT_EQ(snapshots(), before);
  EXPECT_FALSE(d.logs().contains("event log: snapshot ")) << d.logs().dump();
}

TEST(EventLog, WithoutASnapshotTheGraphIsReplayedFromTheLog) {
  temp_directory dir{"eventserver-log-test"};
  {
    test_daemon d(with_log(dir));
    auto source = d.connect_source();
    source.send_lines({"1|F|2|1", "2|F|3|1", "3|U|3|1"});
    ASSERT_TRUE(d.wait_until([](server& s) { return s.dispatch().applied().seq == 3; }));
  }
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().filename().string().starts_with("snapshot-")) fs::remove(entry.path());
  }
  test_daemon d(with_log(dir));
  EXPECT_EQ(d.on_io([](server& s) { return s.dispatch().routes().graph().edge_count(); }), 1u);
  EXPECT_TRUE(d.logs().contains("snapshot none, 3 events replayed")) << d.logs().dump();
}

// A stream of follows and unfollows over a few users, with the graph it must leave (a set of
// edges, built beside the stream: the model the recovered graph is compared with).
struct follow_stream {
  lines events;
  std::set<std::pair<user_id, user_id>> edges;
};
follow_stream follows_and_unfollows(sequence_number count, std::uint32_t seed) {
  follow_stream out;
  std::mt19937 random(seed);
  for (sequence_number seq = 1; seq <= count; ++seq) {
    const user_id from = random() % 23, to = random() % 19;
    const bool follow = random() % 3 != 0;
    out.events.push_back(std::to_string(seq) + (follow ? "|F|" : "|U|") + std::to_string(from) + "|" + std::to_string(to));
    if (follow) {
      out.edges.insert({from, to});
    } else {
      out.edges.erase({from, to});
    }
  }
  return out;
}

// The graph a restart recovers is the model's, edge for edge: from the last snapshot plus the
// log after it, and from the log alone once the snapshots are gone.
TEST(EventLog, TheRecoveredGraphIsTheOneTheStreamBuilt) {
  temp_directory dir{"eventserver-log-test"};
  config settings = with_log(dir, storage::fsync_policy::interval);
  settings.snapshot_every_events = 700;
  const auto stream = follows_and_unfollows(3000, 25);
  {
    test_daemon d(settings);
    auto source = d.connect_source();
    source.send_lines(stream.events);
    source.send_lines({"durable?"});
    ASSERT_EQ(await_durable(source, 3000), "durable|1|3000");
    d.request_shutdown();  // graceful: the last snapshot at 3000
  }
  const auto recovered_edges = [](test_daemon& d) {
    return d.on_io([](server& s) {
      std::set<std::pair<user_id, user_id>> edges;
      s.dispatch().routes().graph().for_each([&](user_id from, std::span<const user_id> followed) {
        for (const user_id to : followed) edges.insert({from, to});
      });
      return edges;
    });
  };
  {
    test_daemon d(settings);
    EXPECT_EQ(recovered_edges(d), stream.edges);
  }
  // Only the log: every snapshot removed, the whole stream replayed.
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().filename().string().starts_with("snapshot-")) fs::remove(entry.path());
  }
  test_daemon d(settings);
  EXPECT_TRUE(d.logs().contains("snapshot none, 3000 events replayed")) << d.logs().dump();
  EXPECT_EQ(recovered_edges(d), stream.edges);
}

TEST(EventLog, ASourceThatAsksIsToldTheDurablePositionAndOthersAreNot) {
  temp_directory dir{"eventserver-log-test"};
  test_daemon d(with_log(dir));
  auto quiet = d.connect_source();
  quiet.send_lines({"1|B", "2|B"});
  ASSERT_TRUE(d.wait_until([](server& s) { return s.dispatch().applied().seq == 2; }));
  EXPECT_EQ(quiet.expect_no_more(200ms), "");  // the original producers never read: nothing is written

  auto asking = d.connect_source();
  asking.send_lines({"durable?"});
  EXPECT_EQ(asking.read_lines(1), (lines{"durable|1|2"}));
  asking.send_lines({"3|B", "4|B"});
  EXPECT_EQ(await_durable(asking, 4), "durable|1|4");
  EXPECT_EQ(d.stats().rejected_no_sequence, 0u);  // durable? is no bad line
  EXPECT_EQ(quiet.expect_no_more(150ms), "");
}

TEST(EventLog, WithoutALogTheAppliedPositionIsReported) {
  test_daemon d;
  auto source = d.connect_source();
  source.send_lines({"1|B", "durable?"});
  EXPECT_EQ(await_durable(source, 1), "durable|1|1");
}

// The seed's question: a source that starts again at 1 begins a new stream (newStreamPolicy
// restart, the default). Its shuffled first lines before the 1 were stale; they are taken.
TEST(EventLog, AProducerStartingOverBeginsANewEpoch) {
  temp_directory dir{"eventserver-log-test"};
  test_daemon d(with_log(dir));
  auto alice = d.connect_user(1);
  {
    auto first = d.connect_source();
    first.send_lines({"1|F|1|7", "2|B", "3|B"});
    EXPECT_EQ(alice.read_lines(2), (lines{"2|B", "3|B"}));
    first.close();
  }
  ASSERT_TRUE(d.wait_for_event_sources(0));
  auto again = d.connect_source();
  again.send_lines({"durable?", "3|S|7", "2|B", "1|B"});
  // 1, then the stale lines kept before it: 3 and 2. Alice followed 7 in the old stream only.
  EXPECT_EQ(alice.read_lines(2), (lines{"1|B", "2|B"}));
  EXPECT_EQ(alice.expect_no_more(150ms), "");
  EXPECT_EQ(await_durable(again, 3, 2), "durable|2|3");
  EXPECT_EQ(d.stats().streams_started, 1u);
  EXPECT_EQ(d.stats().rejected_stale, 0u);  // taken into the new stream: not rejected after all
  EXPECT_EQ(d.stats().lines_received, 6u);
  EXPECT_TRUE(fs::exists(dir.path() / storage::segment_file_name(2, 1)));
  EXPECT_TRUE(d.logs().contains("new stream: epoch 2 begins")) << d.logs().dump();
}

TEST(EventLog, UnderContinueAProducerStartingOverIsStale) {
  temp_directory dir{"eventserver-log-test"};
  auto settings = with_log(dir);
  settings.new_stream_policy = new_stream_mode::continue_numbering;
  test_daemon d(settings);
  auto alice = d.connect_user(1);
  {
    auto first = d.connect_source();
    first.send_lines(broadcasts(1, 3));
    EXPECT_EQ(alice.read_lines(3), broadcasts(1, 3));
  }
  ASSERT_TRUE(d.wait_for_event_sources(0));
  auto again = d.connect_source();
  again.send_lines(broadcasts(1, 4));
  EXPECT_EQ(alice.read_lines(1), (lines{"4|B"}));
  EXPECT_EQ(d.stats().streams_started, 0u);
  EXPECT_EQ(d.stats().rejected_stale, 3u);
}

// A second source connected, or events pending, and the 1 is only a stale line.
TEST(EventLog, NoNewStreamWhileAnotherSourceIsConnected) {
  temp_directory dir{"eventserver-log-test"};
  test_daemon d(with_log(dir));
  auto alice = d.connect_user(1);
  auto first = d.connect_source();
  first.send_lines(broadcasts(1, 2));
  EXPECT_EQ(alice.read_lines(2), broadcasts(1, 2));
  auto second = d.connect_source();
  second.send_lines({"1|B", "3|B"});
  EXPECT_EQ(alice.read_lines(1), (lines{"3|B"}));
  EXPECT_EQ(d.stats().streams_started, 0u);
}

// Snapshots are encoded a few hundred users per turn of the loop while the stream goes on;
// each must still be the graph at exactly its number (graph_changes' journal undoes what
// changed since), or a recovery from it past a torn tail would route with a future graph.
TEST(EventLog, EverySnapshotIsTheGraphAtExactlyItsNumber) {
  temp_directory dir{"eventserver-log-test"};
  config settings = with_log(dir, storage::fsync_policy::never);
  settings.snapshot_every_events = 15000;
  constexpr user_id users = 20000;  // dozens of turns of encoding each
  std::mt19937_64 rng(7);
  lines stream;
  for (user_id u = 1; u <= users; ++u) stream.push_back(std::to_string(u) + "|F|" + std::to_string(u) + "|" + std::to_string(u % 50 + 1));
  while (stream.size() < 60000) {
    const sequence_number seq = stream.size() + 1;
    const user_id from = rng() % users + 1;
    const user_id to = rng() % 50 + 1;
    stream.push_back(std::to_string(seq) + (rng() % 2 == 0 ? "|F|" : "|U|") + std::to_string(from) + "|" + std::to_string(to));
  }
  {
    test_daemon d(settings);
    auto source = d.connect_source();
    // All at once: the socket holds more than one read, so the loop applies events between
    // the turns that encode a snapshot.
    source.send_lines(stream);
    source.send_lines({"durable?"});
    ASSERT_EQ(await_durable(source, stream.size()), "durable|1|" + std::to_string(stream.size()));
    ASSERT_TRUE(d.wait_until([](server& s) { return s.snapshot().log.snapshots_written >= 1; }));
  }
  std::size_t checked = 0;
  for (const auto& snapshot : storage::list_snapshots(dir.path().string())) {
    std::map<user_id, std::set<user_id>> model;
    for (sequence_number seq = 1; seq <= snapshot.seq; ++seq) {
      const parse_result parsed = parse_event(stream[seq - 1]);
      if (parsed.ev.type == event_type::follow) model[parsed.ev.from].insert(parsed.ev.to);
      if (parsed.ev.type == event_type::unfollow) model[parsed.ev.from].erase(parsed.ev.to);
    }
    std::erase_if(model, [](const auto& entry) { return entry.second.empty(); });
    std::map<user_id, std::set<user_id>> loaded;
    const auto result = storage::load_snapshot((dir.path() / snapshot.name).string(),
                                               [&](user_id user, std::span<const user_id> followed) {
                                                 loaded[user].insert(followed.begin(), followed.end());
                                               });
    ASSERT_TRUE(result.ok) << result.error;
    EXPECT_TRUE(result.exact);
    EXPECT_EQ(loaded, model) << snapshot.name;
    ++checked;
  }
  EXPECT_GE(checked, 2u);
}

TEST(EventLog, AMissingDataDirStopsStartUp) {
  config settings = test_config();
  settings.data_dir = "/nonexistent/eventserver-data";
  asio::io_context io;
  server s(io, settings);
  try {
    s.start();
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"dataDir\" /nonexistent/eventserver-data: No such file or directory"));
  }
}

// --- The built daemon: crashes, a full disk, damage -------------------------------------

class EventLogProcess : public process_fixture {
 protected:
  std::string config_json(const std::string& more = "") {
    return with_ephemeral_ports("\"dataDir\": \"" + data_.string() + "\"" + (more.empty() ? "" : ", " + more));
  }
  void SetUp() override {
    process_fixture::SetUp();
    data_ = dir_ / "data";
    fs::create_directories(data_);
  }
  fs::path data_;
};

// kill -9 in the middle of a stream: the restart replays the log and the source resends from
// the durable position it is told; every client gets every notification exactly once.
TEST_F(EventLogProcess, KillNineLosesNothingTheLogHeld) {
  auto process = spawn_with_config(config_json("\"logFsync\": \"always\""));
  auto bound = wait_for_ports(*process);
  ASSERT_TRUE(bound) << process->output();
  auto source = connection::open(bound->event);
  source.send_lines({"durable?", "1|F|5|9", "2|B", "3|B"});
  ASSERT_EQ(await_durable(source, 3), "durable|1|3");
  process->signal(SIGKILL);
  process->wait_exit();

  auto restarted = spawn_with_config(config_json("\"logFsync\": \"always\""));
  bound = wait_for_ports(*restarted);
  ASSERT_TRUE(bound) << restarted->output();
  auto user5 = connection::open(bound->client);
  user5.send("5\r\n");
  auto source2 = connection::open(bound->event);
  source2.send_lines({"durable?"});
  ASSERT_EQ(source2.read_lines(1), (lines{"durable|1|3"}));
  // The producer resends from 4. Registration is asynchronous: broadcasts until one arrives.
  sequence_number seq = 3;
  lines got;
  for (int attempt = 0; attempt < 100 && got.empty(); ++attempt) {
    source2.send_lines({std::to_string(++seq) + "|B"});
    got = user5.read_lines(1, 50ms);
  }
  ASSERT_FALSE(got.empty());
  source2.send_lines({std::to_string(++seq) + "|S|9"});
  EXPECT_EQ(user5.read_lines(1), (lines{std::to_string(seq) + "|S|9"}));  // the follow survived the crash
  EXPECT_THAT(restarted->output(), HasSubstr("event log: recovered epoch 1 at sequence number 3"));
}

// A full disk (here: a file-size limit the test lowers and raises on the running daemon):
// sources are no longer read, /readyz fails, and it all resumes by itself.
TEST_F(EventLogProcess, AFullDiskPausesTheSourcesUntilWritingWorksAgain) {
  const std::uint16_t admin = test_support::free_loopback_port();
  auto process = spawn({"-config", write_config(R"({"eventListenerPort": 0, "clientListenerPort": 0, )"
                                                R"("clientListenerAddress": "127.0.0.1", "adminListenerPort": )" +
                                                std::to_string(admin) + R"(, "dataDir": ")" + data_.string() + "\"}")
                                       .string()});
  auto bound = wait_for_ports(*process);
  ASSERT_TRUE(bound) << process->output();
  // The soft limit only: the first batches fit, then writes fail with EFBIG (raising it back
  // needs no privilege, the hard limit stays).
  rlimit small{4096, RLIM_INFINITY};
  ASSERT_EQ(::prlimit(process->pid(), RLIMIT_FSIZE, &small, nullptr), 0);
  auto user = connection::open(bound->client);
  user.send("1\r\n");
  ASSERT_TRUE(wait_for([&] {
    return metric(http_request(admin, "GET /metrics HTTP/1.1").body, "eventserver_clients_registered_total") == 1;
  }));
  auto source = connection::open(bound->event);
  const lines stream = broadcasts(1, 2000);  // ~14 KB of log
  source.send_lines(stream);
  ASSERT_TRUE(wait_for([&] { return http_request(admin, "GET /readyz HTTP/1.1").status == 503; }));
  EXPECT_THAT(http_request(admin, "GET /readyz HTTP/1.1").body, HasSubstr("writing the event log fails"));
  const double applied = metric(http_request(admin, "GET /metrics HTTP/1.1").body, "eventserver_log_durable_sequence").value_or(-1);
  EXPECT_LT(applied, 2000);
  EXPECT_GT(metric(http_request(admin, "GET /metrics HTTP/1.1").body, "eventserver_log_write_errors_total"), 0);

  rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(::prlimit(process->pid(), RLIMIT_FSIZE, &unlimited, nullptr), 0);
  EXPECT_EQ(user.read_lines(2000, 20s), stream);  // nothing lost, in order
  EXPECT_TRUE(wait_for([&] { return http_request(admin, "GET /readyz HTTP/1.1").status == 200; }));
  EXPECT_THAT(process->output(), HasSubstr("event log: writing to"));
  EXPECT_THAT(process->output(), HasSubstr("works again"));
}

// Damage before the tail is not cut silently: start-up stops, naming the file and the offset.
TEST_F(EventLogProcess, DamageBeforeTheTailStopsStartUpWithExit2) {
  {
    auto process = spawn_with_config(config_json("\"logSegmentBytes\": 1048576"));
    auto bound = wait_for_ports(*process);
    ASSERT_TRUE(bound) << process->output();
    auto source = connection::open(bound->event);
    // ~1.5 MB of lines: two segments.
    lines stream;
    for (sequence_number seq = 1; seq <= 60000; ++seq) stream.push_back(std::to_string(seq) + "|P|12345678|87654321");
    source.send_lines(stream);
    source.send_lines({"durable?"});
    ASSERT_EQ(await_durable(source, 60000), "durable|1|60000");
    process->signal(SIGTERM);
    ASSERT_EQ(process->wait_exit(), std::optional<int>(0));
  }
  const fs::path first = data_ / storage::segment_file_name(1, 1);
  ASSERT_TRUE(fs::exists(first));
  // Without snapshots start-up replays the whole epoch, reading every segment.
  for (const auto& entry : fs::directory_iterator(data_)) {
    if (entry.path().filename().string().starts_with("snapshot-")) fs::remove(entry.path());
  }
  {
    std::fstream file(first, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(1000);
    file.put('\x7f');  // a flipped byte in the first, sealed segment
  }
  const auto [code, output] = run_with_config(config_json());
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, HasSubstr("damage in " + first.string() + " at byte "));
  EXPECT_THAT(output, HasSubstr("eventserver log repair"));

  // The operator's repair cuts the log at the damage; the daemon then starts.
  testing::internal::CaptureStdout();
  std::vector<std::string> args = {"log", "repair", "-data-dir", data_.string()};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  const int repaired = run_log_tool(static_cast<int>(argv.size()), argv.data());
  const std::string said = testing::internal::GetCapturedStdout();
  EXPECT_EQ(repaired, 0) << said;
  auto process = spawn_with_config(config_json());
  ASSERT_TRUE(process->wait_for_output(std::regex("recovered epoch 1 at sequence number"))) << process->output();
}

// A crash in the middle of a write: the torn tail is cut with a warning naming what was cut.
TEST_F(EventLogProcess, ATornTailIsCutWithAWarning) {
  {
    auto process = spawn_with_config(config_json());
    auto bound = wait_for_ports(*process);
    ASSERT_TRUE(bound) << process->output();
    auto source = connection::open(bound->event);
    source.send_lines({"durable?", "1|B", "2|B"});
    ASSERT_EQ(await_durable(source, 2), "durable|1|2");
    source.send_lines({"3|B"});
    ASSERT_EQ(await_durable(source, 3), "durable|1|3");
    process->signal(SIGKILL);
    process->wait_exit();
  }
  const fs::path segment = data_ / storage::segment_file_name(1, 1);
  fs::resize_file(segment, fs::file_size(segment) - 3);  // the last batch, torn
  auto restarted = spawn_with_config(config_json());
  auto bound = wait_for_ports(*restarted);
  ASSERT_TRUE(bound) << restarted->output();
  auto source = connection::open(bound->event);
  source.send_lines({"durable?"});
  EXPECT_EQ(source.read_lines(1), (lines{"durable|1|2"}));
  // The log output is written by its own thread: wait for the line, do not race it.
  EXPECT_TRUE(restarted->wait_for_output(std::regex("warning event log:"))) << restarted->output();
}

TEST_F(EventLogProcess, SnapshotsAreTakenAsTheStreamGoesAndUsedAtStartUp) {
  const auto stream = follows_and_unfollows(5000, 1);
  {
    auto process = spawn_with_config(config_json("\"snapshotEveryEvents\": 1000"));
    auto bound = wait_for_ports(*process);
    ASSERT_TRUE(bound) << process->output();
    auto source = connection::open(bound->event);
    source.send_lines(stream.events);
    source.send_lines({"durable?"});
    ASSERT_EQ(await_durable(source, 5000), "durable|1|5000");
    ASSERT_TRUE(wait_for([&] { return process->output().find("snapshot ") != std::string::npos; }));
    process->signal(SIGKILL);  // no last snapshot at shutdown: the periodic ones must do
    process->wait_exit();
  }
  auto restarted = spawn_with_config(config_json());
  const auto recovered = restarted->wait_for_output(
      std::regex(R"(recovered epoch 1 at sequence number 5000 \((\d+) follow edges; snapshot (\w+), (\d+) events replayed)"));
  ASSERT_TRUE(recovered) << restarted->output();
  const std::string edges = (*recovered)[1], snapshot = (*recovered)[2], replayed = (*recovered)[3];
  EXPECT_EQ(edges, std::to_string(stream.edges.size()));
  ASSERT_NE(snapshot, "none") << "the periodic snapshots were not used";
  // A periodic one (every 1000 events), and only what follows it replayed.
  EXPECT_GE(std::stoull(snapshot), 1000u);
  EXPECT_LE(std::stoull(snapshot), 5000u);
  EXPECT_EQ(std::stoull(replayed), 5000 - std::stoull(snapshot));

  // The graph itself, through what it routes: a status update of every followed user reaches
  // exactly the followers the model has.
  const auto bound = wait_for_ports(*restarted);
  ASSERT_TRUE(bound) << restarted->output();
  const user_id follower = stream.edges.begin()->first;
  auto client = connection::open(bound->client);
  client.send(std::to_string(follower) + "\r\n");
  auto source = connection::open(bound->event);
  // Registered once a private message reaches it.
  sequence_number seq = 5000;
  lines got;
  for (int attempt = 0; attempt < 200 && got.empty(); ++attempt) {
    source.send_lines({std::to_string(++seq) + "|P|0|" + std::to_string(follower)});
    got = client.read_lines(1, 50ms);
  }
  ASSERT_EQ(got.size(), 1u) << restarted->output();
  lines updates, expected;
  for (user_id user = 0; user < 19; ++user) {
    updates.push_back(std::to_string(++seq) + "|S|" + std::to_string(user));
    if (stream.edges.contains({follower, user})) expected.push_back(updates.back());
  }
  source.send_lines(updates);
  EXPECT_EQ(client.read_lines(expected.size()), expected);
  EXPECT_EQ(client.expect_no_more(100ms), "");
}

}  // namespace
}  // namespace eventserver
