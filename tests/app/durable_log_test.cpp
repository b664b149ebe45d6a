// The log's driver (app/durable_log) against a fake event log: it works through
// storage::event_log alone, so what it promises can be shown without files or threads. The
// fake records what it is asked and the test decides when it reports, through a post as a
// real log does.
#include "eventserver/app/durable_log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "eventserver/storage/storage_error.hpp"

namespace eventserver {
namespace {

using namespace std::chrono_literals;
using calls = std::vector<std::string>;

std::string text(log_position at) { return std::to_string(at.epoch) + ":" + std::to_string(at.seq); }

class fake_event_log final : public storage::event_log, public log_backend {
 public:
  explicit fake_event_log(asio::io_context& io) : io_(io) {}

  // storage::event_log
  void start(storage::event_log_listener& listener) override {
    if (!start_error.empty()) throw storage::storage_error(start_error);
    listener_ = &listener;
    asked.push_back("start");
  }
  log_backend& backend() override { return *this; }
  history_source* history() noexcept override { return nullptr; }
  bool takes_snapshots() const noexcept override { return snapshots; }
  void snapshot_begin(log_position at) override { asked.push_back("snapshot_begin " + text(at)); }
  void snapshot_write(std::string bytes) override { snapshot_bytes += bytes.size(); }
  void snapshot_finish(std::string last_bytes) override {
    snapshot_bytes += last_bytes.size();
    asked.push_back("snapshot_finish");
  }
  void snapshot_abandon() override { asked.push_back("snapshot_abandon"); }
  std::string problem() const override { return failing.empty() ? "" : "writing the event log fails: " + failing; }
  storage::event_log_status status() const override {
    storage::event_log_status s;
    s.kept = true;
    s.failing = failing;
    s.bytes = 1234;
    return s;
  }
  bool stop(log_position closed_at, std::chrono::steady_clock::time_point) override {
    asked.push_back("stop " + text(closed_at));
    return true;
  }

  // log_backend
  std::size_t header_bytes() const noexcept override { return 0; }
  void submit(log_batch&) override { ++submitted; }
  void flush() override {}

  // What a real log's threads would post.
  void recover(storage::recovered_stream stream) {
    auto shared = std::make_shared<storage::recovered_stream>(std::move(stream));
    asio::post(io_, [this, shared] { listener_->recovered(std::move(*shared)); });
  }
  void fail_recovery(std::string error) {
    asio::post(io_, [this, error] { listener_->recovery_failed(error); });
  }
  void report(storage::event_log_report report) {
    asio::post(io_, [this, report] { listener_->reported(report); });
  }

  std::string start_error;
  bool snapshots = true;
  std::string failing;
  calls asked;
  std::size_t submitted = 0;
  std::size_t snapshot_bytes = 0;

 private:
  asio::io_context& io_;
  storage::event_log_listener* listener_ = nullptr;
};

class DurableLogTest : public ::testing::Test {
 protected:
  DurableLogTest() : dispatch({}, stats), changes(1024) {
    settings.snapshot_every_events = 0;
    auto owned = std::make_unique<fake_event_log>(io);
    fake = owned.get();
    durable_log::hooks on;
    on.recovered = [this] { ++recovered; };
    on.fatal = [this](std::string error) { fatal.push_back(std::move(error)); };
    on.applied = [this] {
      ++applied;
      log->maybe_snapshot();
    };
    on.writing = [this](bool failing) { writing.push_back(failing); };
    dispatch.routes().record_changes(changes);
    log = std::make_unique<durable_log>(io, settings, dispatch, changes, on, std::move(owned));
  }

  // Started and recovered at `at` over `graph`.
  void recover(log_position at = {1, 0}, follower_graph graph = {}, sequence_number snapshot_seq = 0) {
    log->start();
    fake->recover({at, std::move(graph), snapshot_seq});
    run_ready();
    ASSERT_EQ(recovered, 1);
  }
  // Runs what is ready (a stopped io_context, out of work before, starts again).
  void run_ready() {
    io.restart();
    io.poll();
  }
  void feed(std::initializer_list<std::string_view> input) {
    for (const auto line : input) ASSERT_EQ(dispatch.offer_line(line), dispatcher::line_outcome::consumed) << line;
    dispatch.commit_log();
  }
  void durable(std::size_t batches) {
    storage::event_log_report report;
    report.durable = batches;
    fake->report(report);
    run_ready();
  }

  asio::io_context io;
  config settings;
  counters stats;
  dispatcher dispatch;
  graph_changes changes;
  fake_event_log* fake = nullptr;
  std::unique_ptr<durable_log> log;
  int recovered = 0;
  int applied = 0;
  std::vector<std::string> fatal;
  std::vector<bool> writing;
};

TEST_F(DurableLogTest, RecoveryComesThroughAPostAndHandsTheStreamToTheDispatcher) {
  log->start();
  EXPECT_EQ(fake->asked, calls{"start"});
  EXPECT_TRUE(log->recovering());
  EXPECT_EQ(log->problem(), "recovering the event log");
  EXPECT_EQ(log->history(), nullptr);
  // Nothing to run yet, but run() must not return while the log recovers.
  io.poll();
  EXPECT_FALSE(io.stopped());

  follower_graph graph;
  graph.follow(4, 9);
  fake->recover({{3, 7}, std::move(graph), 0});
  EXPECT_EQ(recovered, 0);
  io.poll();
  EXPECT_EQ(recovered, 1);
  EXPECT_FALSE(log->recovering());
  EXPECT_EQ(log->problem(), "");
  EXPECT_EQ(dispatch.applied(), (log_position{3, 7}));
  EXPECT_EQ(dispatch.sequence().next_expected(), 8u);
  EXPECT_TRUE(dispatch.routes().graph().follows(4, 9));
  io.poll();
  EXPECT_TRUE(io.stopped());  // the recovery's hold on run() is released
}

TEST_F(DurableLogTest, AFailedRecoveryIsFatalAndReleasesTheLoop) {
  log->start();
  fake->fail_recovery("segment 3 damaged at byte offset 40: run repair");
  run_ready();
  EXPECT_EQ(fatal, std::vector<std::string>{"segment 3 damaged at byte offset 40: run repair"});
  EXPECT_EQ(recovered, 0);
  EXPECT_FALSE(log->recovering());
  EXPECT_TRUE(io.stopped());
}

TEST_F(DurableLogTest, ALogThatCannotBeUsedAsConfiguredIsAConfigError) {
  fake->start_error = "\"dataDir\" /nowhere: No such file or directory";
  EXPECT_THROW(log->start(), config_error);
  EXPECT_FALSE(log->recovering());
}

TEST_F(DurableLogTest, BatchesAreAppliedOnlyWhenTheLogReportsThemDurable) {
  recover();
  feed({"1|F|1|2", "2|F|3|2"});
  EXPECT_EQ(fake->submitted, 1u);
  EXPECT_FALSE(dispatch.routes().graph().follows(1, 2));
  EXPECT_EQ(dispatch.applied(), (log_position{1, 0}));
  EXPECT_EQ(log->status().batches_waiting, 1u);

  durable(1);
  EXPECT_TRUE(dispatch.routes().graph().follows(1, 2));
  EXPECT_TRUE(dispatch.routes().graph().follows(3, 2));
  EXPECT_EQ(dispatch.applied(), (log_position{1, 2}));
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(log->status().batches_waiting, 0u);
  EXPECT_EQ(log->status().durable_seq, 2u);
  EXPECT_EQ(log->status().bytes, 1234u);  // the log's own figures come through
}

TEST_F(DurableLogTest, AFailingWriteIsTheProblemUntilItWorksAgain) {
  recover();
  fake->failing = "No space left on device";
  storage::event_log_report failed;
  failed.failing = true;
  fake->report(failed);
  run_ready();
  EXPECT_EQ(writing, std::vector<bool>{true});
  EXPECT_EQ(log->problem(), "writing the event log fails: No space left on device");
  EXPECT_EQ(log->status().failing, "No space left on device");

  fake->failing.clear();
  storage::event_log_report again;
  again.works_again = true;
  fake->report(again);
  run_ready();
  EXPECT_EQ(writing, (std::vector<bool>{true, false}));
  EXPECT_EQ(log->problem(), "");
}

TEST_F(DurableLogTest, ShutdownWaitsForTheBatchesOutThenSnapshotsThenStops) {
  recover();
  feed({"1|F|1|2", "2|F|3|2"});
  bool done = false;
  log->shutdown(std::chrono::steady_clock::now() + 5s, [&] { done = true; });
  run_ready();
  EXPECT_FALSE(done);  // a batch is still with the log
  EXPECT_EQ(fake->asked, calls{"start"});

  durable(1);
  EXPECT_TRUE(done);
  EXPECT_EQ(fake->asked, (calls{"start", "snapshot_begin 1:2", "snapshot_finish", "stop 1:2"}));
  EXPECT_GT(fake->snapshot_bytes, 0u);
}

TEST_F(DurableLogTest, ShutdownCommitsWhatIsOpenBeforeWaiting) {
  recover();
  for (const auto line : {"1|F|1|2", "2|B"}) dispatch.offer_line(line);  // no commit yet
  bool done = false;
  log->shutdown(std::chrono::steady_clock::now() + 5s, [&] { done = true; });
  EXPECT_EQ(fake->submitted, 1u);
  EXPECT_FALSE(done);
  durable(1);
  EXPECT_TRUE(done);
  EXPECT_EQ(fake->asked.back(), "stop 1:2");
}

TEST_F(DurableLogTest, ShutdownWhileRecoveringAsksTheLogForNothing) {
  log->start();
  bool done = false;
  log->shutdown(std::chrono::steady_clock::now() + 5s, [&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_EQ(fake->asked, calls{"start"});
}

TEST_F(DurableLogTest, ALogThatDeclinesSnapshotsIsNeverAskedForOne) {
  settings.snapshot_every_events = 1;
  fake->snapshots = false;
  recover();
  feed({"1|F|1|2", "2|F|3|2"});
  durable(1);
  EXPECT_EQ(applied, 1);
  bool done = false;
  log->shutdown(std::chrono::steady_clock::now() + 5s, [&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_EQ(fake->asked, (calls{"start", "stop 1:2"}));
}

TEST_F(DurableLogTest, APeriodicSnapshotIsEncodedOverTurnsAndReported) {
  settings.snapshot_every_events = 2;
  recover();
  feed({"1|F|1|2", "2|F|3|2"});
  durable(1);
  // Begun at the applied position; finished in a later turn of the loop.
  EXPECT_EQ(fake->asked, (calls{"start", "snapshot_begin 1:2", "snapshot_finish"}));
  EXPECT_GT(fake->snapshot_bytes, 0u);

  // Written: the next one comes snapshotEveryEvents later, not before.
  storage::event_log_report written;
  written.snapshot = storage::snapshot_result{true, "snapshot-1-2.snap", 0.001};
  fake->report(written);
  run_ready();
  feed({"3|F|5|6"});
  durable(1);
  EXPECT_EQ(fake->asked.size(), 3u);
  feed({"4|F|7|6"});
  durable(1);
  EXPECT_EQ(fake->asked.back(), "snapshot_finish");
  EXPECT_EQ(fake->asked[3], "snapshot_begin 1:4");
}

TEST_F(DurableLogTest, ARestartCountsTheNextSnapshotFromTheOneRecovered) {
  settings.snapshot_every_events = 3;
  recover({1, 10}, {}, 9);
  feed({"11|F|1|2"});
  durable(1);  // 2 past the snapshot recovered at 9: none yet
  EXPECT_EQ(fake->asked, calls{"start"});
  feed({"12|F|3|2"});
  durable(1);
  EXPECT_EQ(fake->asked[1], "snapshot_begin 1:12");
}

}  // namespace
}  // namespace eventserver
