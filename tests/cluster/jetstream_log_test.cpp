// The ingest's log backend through the daemon's own pipeline, against a real nats-server: every
// batch reported durable is in the stream exactly once and in order, across a server crash; a
// second publisher is fenced instead of forking the stream.
#include "eventserver/cluster/jetstream_log.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "eventserver/storage/batch_format.hpp"
#include "cluster/cluster_test_support.hpp"

namespace eventserver::cluster {
namespace {

using namespace std::chrono_literals;

// What the backend reported, for the test thread.
class reports {
 public:
  jetstream_log::notify callback() {
    return [this](jetstream_log_report report) {
      std::lock_guard lock(mutex_);
      durable_ += report.durable;
      failed_ += report.failing.empty() || report.fenced ? 0 : 1;
      recovered_ += report.recovered ? 1 : 0;
      fenced_ = fenced_ || report.fenced;
      if (report.fenced) why_ = report.failing;
      changed_.notify_all();
    };
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 20s, [&] { return pred(*this); });
  }
  // Hands the batches reported durable since the last call to the pipeline, as the daemon's
  // event thread does; waits (bounded) for at least one when `wait_for_one`.
  bool hand_over(log_pipeline& pipeline, bool wait_for_one) {
    std::unique_lock lock(mutex_);
    if (wait_for_one && !changed_.wait_for(lock, 20s, [&] { return durable_ > handed_; })) return false;
    for (; handed_ < durable_; ++handed_) pipeline.durable([](const log_batch&) {});
    return true;
  }
  std::size_t durable_ = 0, failed_ = 0, recovered_ = 0, handed_ = 0;
  bool fenced_ = false;
  std::string why_;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
};

// Appends events [first, last] (broadcasts, or status updates of `user`) and commits.
void append(log_pipeline& pipeline, sequence_number first, sequence_number last, user_id user = 0) {
  std::string line(64, '\0');  // the line and the slack the pipeline may read past it
  for (sequence_number seq = first; seq <= last; ++seq) {
    const std::string text = std::to_string(seq) + (user == 0 ? "|B\r\n" : "|S|" + std::to_string(user) + "\r\n");
    line.replace(0, text.size(), text);
    pipeline.append(event{seq, event_type::broadcast, 0, 0}, std::string_view(line.data(), text.size()));
  }
  pipeline.commit();
}

// Every event line in the stream, in stream order.
std::vector<std::string> stream_lines(jetstream_stream& stream) {
  std::vector<std::string> out;
  const stream_state state = stream.state();
  for (std::uint64_t seq = state.first_seq; seq <= state.last_seq && seq != 0; ++seq) {
    const auto batch = stream.at(seq);
    if (!batch) continue;
    const auto decoded = storage::decode_batch(batch->sealed.data(), batch->sealed.size());
    for (const auto& line : storage::batch_lines(decoded.batch)) out.emplace_back(line.payload());
  }
  return out;
}

std::vector<std::string> broadcasts(sequence_number first, sequence_number last, user_id user = 0) {
  std::vector<std::string> out;
  for (sequence_number seq = first; seq <= last; ++seq) {
    out.push_back(std::to_string(seq) + (user == 0 ? "|B" : "|S|" + std::to_string(user)));
  }
  return out;
}

class JetStreamLog : public testing::nats_test {
 protected:
};

TEST_F(JetStreamLog, EveryBatchReportedDurableIsInTheStreamOnceInOrder) {
  reports reported;
  jetstream_log log(jetstream_stream::open(settings_), 0, reported.callback());
  log_pipeline pipeline(log, {256, 4}, {1, 0});
  for (sequence_number first = 1; first <= 2000; first += 100) {
    append(pipeline, first, first + 99);
    while (pipeline.waiting() != 0) ASSERT_TRUE(reported.hand_over(pipeline, true));
  }
  EXPECT_EQ(pipeline.durable_position(), (log_position{1, 2000}));
  ASSERT_TRUE(log.stop(std::chrono::steady_clock::now() + 10s));
  jetstream_stream reader = jetstream_stream::open(settings_);
  EXPECT_EQ(stream_lines(reader), broadcasts(1, 2000));
  EXPECT_EQ(log.status().batches_published, reader.state().messages);
}

// kill -9 of the server mid-stream: publishing fails (reported once), the pipeline saturates,
// and once the server is back every batch is in the stream exactly once.
TEST_F(JetStreamLog, AServerCrashPausesPublishingAndLosesOrDoublesNothing) {
  reports reported;
  jetstream_log log(jetstream_stream::open(settings_), 0, reported.callback(), 100ms);
  log_pipeline pipeline(log, {256, 4}, {1, 0});
  sequence_number next = 1;
  append(pipeline, next, next + 499);
  next += 500;
  ASSERT_TRUE(reported.wait([](const reports& r) { return r.durable_ >= 1; }));
  server_.kill(SIGKILL);
  // Batches submitted while the server is down wait; the pipeline fills up.
  for (int i = 0; i < 4 && !pipeline.saturated(); ++i) {
    reported.hand_over(pipeline, false);
    append(pipeline, next, next + 299);
    next += 300;
  }
  ASSERT_TRUE(reported.wait([](const reports& r) { return r.failed_ >= 1; }));
  ASSERT_TRUE(server_.start()) << server_.error();
  ASSERT_TRUE(reported.wait([](const reports& r) { return r.recovered_ >= 1; }));
  append(pipeline, next, next + 99);
  next += 100;
  while (pipeline.waiting() != 0) ASSERT_TRUE(reported.hand_over(pipeline, true));
  ASSERT_TRUE(log.stop(std::chrono::steady_clock::now() + 10s));
  jetstream_stream reader = jetstream_stream::open(settings_);
  EXPECT_EQ(stream_lines(reader), broadcasts(1, next - 1));
  EXPECT_EQ(reported.failed_, 1u);  // said once, not once per retry
}

// A second ingest that recovered from the stream before the first one published more, with
// other events under the same numbers: its first batch has the same id as one stored (dedup
// would call it a duplicate) or a stale expected sequence; either way it is fenced, and the
// stream holds the first ingest's events only.
TEST_F(JetStreamLog, ASecondIngestIsFencedNotForked) {
  reports first_reports;
  reports second_reports;
  jetstream_log first(jetstream_stream::open(settings_), 0, first_reports.callback());
  jetstream_log second(jetstream_stream::open(settings_), 0, second_reports.callback());
  log_pipeline first_pipeline(first, {256, 4}, {1, 0});
  log_pipeline second_pipeline(second, {256, 4}, {1, 0});
  // Lines of the same lengths: both cut their batches at the same numbers, so the ids agree.
  append(first_pipeline, 1, 100, 8);
  ASSERT_TRUE(first_reports.wait([](const reports& r) { return r.durable_ >= 1; }));
  append(second_pipeline, 1, 150, 7);
  ASSERT_TRUE(second_reports.wait([](const reports& r) { return r.fenced_; }));
  EXPECT_NE(second_reports.why_.find("another ingest publishes to it"), std::string::npos) << second_reports.why_;
  EXPECT_EQ(second_reports.durable_, 0u);
  EXPECT_TRUE(second.status().fenced);
  ASSERT_TRUE(first.stop(std::chrono::steady_clock::now() + 10s));
  jetstream_stream reader = jetstream_stream::open(settings_);
  EXPECT_EQ(stream_lines(reader), broadcasts(1, 100, 8));
}

}  // namespace
}  // namespace eventserver::cluster
