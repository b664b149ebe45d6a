// The log at the centre, without files or threads: a backend that only records what it is
// given, and the test decides when each batch is durable.
#include "eventserver/core/log_pipeline.hpp"

#include <gtest/gtest.h>

#include "eventserver/core/dispatcher.hpp"
#include "support/recording.hpp"

namespace eventserver {
namespace {

using testing::recording_recipient;
using lines = std::vector<std::string>;

class recording_backend final : public log_backend {
 public:
  std::size_t header_bytes() const noexcept override { return 24; }
  void submit(log_batch& batch) override { submitted.push_back(&batch); }
  void flush() override { ++flushes; }
  int flushes = 0;

  // The body of the i-th submitted batch, as stored.
  std::string body(std::size_t i) const { return std::string(submitted[i]->body(), submitted[i]->body_size()); }

  std::vector<log_batch*> submitted;
};

class LogPipelineTest : public ::testing::Test {
 protected:
  explicit LogPipelineTest(log_pipeline::limits bounds = {})
      : dispatch({}, stats), log(dispatch.open_log(backend, bounds, {1, 0})) {
    dispatch.routes().connect(1, alice);
  }

  void feed(std::initializer_list<std::string_view> input) {
    for (const auto line : input) ASSERT_EQ(dispatch.offer_line(line), dispatcher::line_outcome::consumed) << line;
  }

  recording_backend backend;
  counters stats;
  dispatcher dispatch;
  log_pipeline& log;
  recording_recipient alice;
};

TEST_F(LogPipelineTest, NothingIsAppliedBeforeTheLogHasIt) {
  feed({"2|B", "1|F|2|1", "3|S|2"});
  EXPECT_TRUE(alice.lines.empty());  // released in order, but only into the log
  EXPECT_EQ(dispatch.sequence().next_expected(), 4u);
  EXPECT_FALSE(dispatch.routes().graph().follows(2, 1));
  dispatch.commit_log();
  ASSERT_EQ(backend.submitted.size(), 1u);
  EXPECT_EQ(backend.body(0), "1|F|2|1\r\n2|B\r\n3|S|2\r\n");
  EXPECT_EQ(backend.submitted[0]->first_seq(), 1u);
  EXPECT_EQ(backend.submitted[0]->count(), 3u);
  EXPECT_EQ(dispatch.applied(), (log_position{1, 0}));

  dispatch.apply_durable();
  EXPECT_EQ(alice.lines, (lines{"1|F|2|1", "2|B"}));  // alice does not follow 2: no status update
  EXPECT_TRUE(dispatch.routes().graph().follows(2, 1));
  EXPECT_EQ(dispatch.applied(), (log_position{1, 3}));
}

TEST_F(LogPipelineTest, ABadBodyKeepsItsPlaceAsAnEmptyLine) {
  feed({"1|X|9", "2|B"});
  dispatch.commit_log();
  EXPECT_EQ(backend.body(0), "\r\n2|B\r\n");
  dispatch.apply_durable();
  EXPECT_EQ(alice.lines, (lines{"2|B"}));
}

TEST_F(LogPipelineTest, BatchesComeBackInOrderAndTheOpenOneKeepsFilling) {
  feed({"1|B"});
  dispatch.commit_log();
  feed({"2|B", "3|B"});
  dispatch.commit_log();
  feed({"4|B"});
  ASSERT_EQ(backend.submitted.size(), 2u);
  EXPECT_EQ(log.waiting(), 2u);
  dispatch.apply_durable();
  EXPECT_EQ(alice.lines, (lines{"1|B"}));
  dispatch.apply_durable();
  EXPECT_EQ(alice.lines, (lines{"1|B", "2|B", "3|B"}));
  EXPECT_EQ(log.next_seq(), 5u);
  dispatch.commit_log();
  EXPECT_EQ(backend.submitted.back()->first_seq(), 4u);
}

TEST_F(LogPipelineTest, GivenUpNumbersAreASkipBatchInTheirPlace) {
  stream_settings settings;
  settings.gap_timeout = std::chrono::milliseconds(1);
  recording_backend b;
  counters other_stats;
  dispatcher d(settings, other_stats);
  d.open_log(b, {}, {1, 0});
  d.offer_line("1|B");
  d.offer_line("5|B");
  const auto t0 = std::chrono::steady_clock::now();
  d.end_batch(t0);
  ASSERT_TRUE(d.skip_expired_gap(t0 + std::chrono::milliseconds(1)));
  d.commit_log();
  ASSERT_EQ(b.submitted.size(), 3u);
  EXPECT_EQ(b.submitted[0]->type(), log_batch::kind::events);
  EXPECT_EQ(b.submitted[1]->type(), log_batch::kind::skipped);
  EXPECT_EQ(b.submitted[1]->first_seq(), 2u);
  EXPECT_EQ(b.submitted[1]->count(), 3u);
  EXPECT_EQ(b.submitted[2]->first_seq(), 5u);
  for (int i = 0; i < 3; ++i) d.apply_durable();
  EXPECT_EQ(d.applied(), (log_position{1, 5}));
}

// Durable latency: from the read that brought a batch's oldest event to the batch coming back
// durable, once per event; and the events being applied carry that arrival to the clients.
TEST_F(LogPipelineTest, DurableLatencyRunsFromTheOldestReadOfTheBatch) {
  using std::chrono::microseconds;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  dispatch.note_input(t0);
  feed({"2|B", "1|B"});
  dispatch.note_input(t0 + microseconds(300));  // a second read, before the commit: the batch keeps t0
  feed({"3|B"});
  dispatch.commit_log();
  dispatch.note_input(t0 + microseconds(900));
  feed({"4|B"});
  dispatch.commit_log();

  dispatch.apply_durable(t0 + microseconds(1500));
  EXPECT_EQ(dispatch.applying_arrival(), t0);
  dispatch.apply_durable(t0 + microseconds(1000));
  EXPECT_EQ(dispatch.applying_arrival(), t0 + microseconds(900));
  const latency_histogram& h = stats.durable_latency;
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.cumulative(0), 1u);  // 4|B: 100 us
  EXPECT_EQ(h.cumulative(3), 1u);  // le 1 ms
  EXPECT_EQ(h.cumulative(4), 4u);  // le 2 ms: 1, 2 and 3 after 1.5 ms
  EXPECT_NEAR(h.sum_seconds(), 0.0046, 1e-12);
}

class SmallBatchTest : public LogPipelineTest {
 protected:
  SmallBatchTest() : LogPipelineTest({256, 2}) {}
};

// A batch sealed at its bound in the middle of a read: the one opened after it holds lines of
// the same read, and carries its arrival.
TEST_F(SmallBatchTest, ABatchOpenedInTheMiddleOfAReadCarriesItsArrival) {
  const auto first_read = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  const auto second_read = first_read + std::chrono::milliseconds(5);
  std::vector<std::string> input;
  for (int seq = 1; seq <= 60; ++seq) input.push_back(std::to_string(seq) + "|P|7|1");
  dispatch.note_input(first_read);
  for (int i = 0; i < 30; ++i) dispatch.offer_line(input[static_cast<std::size_t>(i)]);
  dispatch.commit_log();
  while (log.waiting() != 0) dispatch.apply_durable(second_read);  // the spares come back
  const std::size_t before = backend.submitted.size();
  dispatch.note_input(second_read);
  for (int i = 30; i < 60; ++i) dispatch.offer_line(input[static_cast<std::size_t>(i)]);
  dispatch.commit_log();
  ASSERT_GE(backend.submitted.size(), before + 2);  // sealed at its bound at least once
  for (std::size_t i = before; i < backend.submitted.size(); ++i) EXPECT_EQ(backend.submitted[i]->arrival(), second_read) << i;
}

TEST_F(SmallBatchTest, ABatchIsSealedAtItsBoundAndTooManyWaitingSaturates) {
  std::vector<std::string> input;
  for (int seq = 1; seq <= 100; ++seq) input.push_back(std::to_string(seq) + "|P|7|1");  // ~11 bytes each
  for (const auto& line : input) dispatch.offer_line(line);
  EXPECT_GE(backend.submitted.size(), 1u);
  for (const auto* batch : backend.submitted) EXPECT_LE(batch->body_size(), 256u);
  EXPECT_TRUE(log.saturated());
  while (log.waiting() != 0) dispatch.apply_durable();
  dispatch.commit_log();
  while (log.waiting() != 0) dispatch.apply_durable();
  ASSERT_EQ(alice.lines.size(), 100u);
  EXPECT_EQ(alice.lines.back(), "100|P|7|1");
}

TEST_F(SmallBatchTest, ALineLongerThanABatchGetsOneOfItsOwn) {
  const std::string long_line = "1|P|" + std::string(300, '0') + "7|1";
  feed({long_line, "2|B"});
  dispatch.commit_log();
  ASSERT_EQ(backend.submitted.size(), 2u);
  EXPECT_EQ(backend.body(0), long_line + "\r\n");
  dispatch.apply_durable();
  dispatch.apply_durable();
  EXPECT_EQ(alice.lines, (lines{long_line, "2|B"}));
}

// A new stream: what the old one released is applied to the old graph first; only then is
// the graph emptied and the connections told.
TEST_F(LogPipelineTest, ANewStreamBeginsAfterTheOldOnesBatchesAreApplied) {
  feed({"1|F|1|5", "2|S|5"});
  dispatch.commit_log();
  EXPECT_TRUE(dispatch.idle());
  dispatch.begin_new_stream();
  EXPECT_EQ(dispatch.epoch(), 2u);
  EXPECT_EQ(dispatch.sequence().next_expected(), 1u);
  feed({"1|S|5"});  // epoch 2: alice no longer follows 5
  dispatch.commit_log();
  EXPECT_TRUE(alice.epochs.empty());
  dispatch.apply_durable();  // epoch 1's batch, then the epoch start behind it
  EXPECT_EQ(alice.lines, (lines{"2|S|5"}));
  EXPECT_EQ(alice.epochs, (std::vector<stream_epoch>{2}));
  EXPECT_EQ(dispatch.applied(), (log_position{2, 0}));
  EXPECT_EQ(backend.submitted.back()->epoch(), 2u);
  dispatch.apply_durable();
  EXPECT_EQ(alice.lines, (lines{"2|S|5"}));
  EXPECT_EQ(dispatch.applied(), (log_position{2, 1}));
}

TEST(LogPipelineWithoutALog, ANewStreamAppliesAtOnce) {
  counters stats;
  dispatcher d({}, stats);
  recording_recipient bob;
  d.routes().connect(2, bob);
  d.offer_line("1|F|2|3");
  d.begin_new_stream();
  EXPECT_EQ(bob.epochs, (std::vector<stream_epoch>{2}));
  EXPECT_EQ(d.routes().graph().edge_count(), 0u);
  EXPECT_EQ(d.applied(), (log_position{2, 0}));
}

}  // namespace
}  // namespace eventserver
