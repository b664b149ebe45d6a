#pragma once
// What every storage::event_log promises its driver, as parameterised tests that each
// implementation's test instantiates (on disk and in memory: event_log_contract_test.cpp; the
// JetStream stream: tests/cluster/jetstream_event_log_test.cpp): recovery and reports come
// through the post function and never inside the call that caused them; batches come back
// durable in the order they went out; history (where the log serves it) gives back what was
// appended; a snapshot is reported once written, or declined; a log that is kept recovers what
// it held after a restart (the follower graph too, where it recovers one), one that is not
// starts empty. The test thread plays the event thread: it runs what was posted.
#include "eventserver/storage/event_log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "eventserver/core/dispatcher.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"
#include "eventserver/storage/storage_error.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace contract {

using namespace std::chrono_literals;
using testing::temp_dir;

// The event thread's queue: posted from any thread, run on the test's.
class event_thread {
 public:
  post_fn post() {
    return [this](std::function<void()> f) {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(f));
      wake_.notify_all();
    };
  }
  // Runs what was posted until `done` holds; false after 10 s without it (a hang is a failure).
  template <class Done>
  bool run_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      std::function<void()> next;
      {
        std::unique_lock lock(mutex_);
        if (!wake_.wait_until(lock, deadline, [&] { return !queue_.empty(); })) return false;
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      next();
    }
    return true;
  }
  std::size_t queued() {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
};

class recording_listener final : public event_log_listener {
 public:
  void recovered(recovered_stream s) override { stream = std::move(s); }
  void recovery_failed(std::string e) override { error = std::move(e); }
  void reported(const event_log_report& report) override {
    durable += report.durable;
    if (report.snapshot) snapshots.push_back(*report.snapshot);
  }
  void note(level, std::string_view text) override { notes.emplace_back(text); }

  std::optional<recovered_stream> stream;
  std::string error;
  std::size_t durable = 0;
  std::vector<snapshot_result> snapshots;
  std::vector<std::string> notes;
};

struct implementation {
  std::string name;
  std::function<std::unique_ptr<event_log>(const std::string& dir, post_fn post)> make;
};

inline void PrintTo(const implementation& kind, std::ostream* out) { *out << kind.name; }

class EventLogContract : public ::testing::TestWithParam<implementation> {
 protected:
  std::unique_ptr<event_log> make() { return GetParam().make(dir.path(), thread.post()); }

  // Started and recovered; the pipeline and the dispatcher continue where it stands.
  void open(std::unique_ptr<event_log>& log, recording_listener& listener) {
    log->start(listener);
    ASSERT_FALSE(listener.stream) << "recovered inside start()";
    ASSERT_TRUE(thread.run_until([&] { return listener.stream || !listener.error.empty(); })) << "no recovery";
    ASSERT_EQ(listener.error, "");
    dispatch = std::make_unique<dispatcher>(stream_settings{}, stats);
    pipeline = &dispatch->open_log(log->backend(), log_pipeline::limits{64, 4}, listener.stream->position);
    dispatch->recover(listener.stream->position.epoch, listener.stream->position.seq, std::move(listener.stream->graph));
  }
  // Feeds lines, commits, and applies every batch as it is reported durable.
  void append(recording_listener& listener, std::initializer_list<std::string_view> lines) {
    for (const auto line : lines) ASSERT_EQ(dispatch->offer_line(line), dispatcher::line_outcome::consumed) << line;
    dispatch->commit_log();
    ASSERT_TRUE(thread.run_until([&] {
      for (; listener.durable > 0; --listener.durable) dispatch->apply_durable();
      return pipeline->waiting() == 0;
    })) << "batches not reported durable";
  }
  std::string read_all(event_log& log, sequence_number until) {
    std::optional<history_chunk> got;
    history_request request;
    request.until = until;
    log.history()->read(request, [&](history_chunk chunk) { got = std::move(chunk); });
    EXPECT_FALSE(got) << "history answered inside read()";
    EXPECT_TRUE(thread.run_until([&] { return got.has_value(); }));
    std::string out;
    if (!got) return out;
    for (const auto& run : got->runs) out += run.lines;
    log.history()->release(request.reader);
    return out;
  }

  temp_dir dir;
  event_thread thread;
  counters stats;
  log_pipeline* pipeline = nullptr;  // the dispatcher's
  std::unique_ptr<dispatcher> dispatch;
};

TEST_P(EventLogContract, AFreshLogRecoversAnEmptyStreamThroughAPost) {
  auto log = make();
  recording_listener listener;
  ASSERT_NO_FATAL_FAILURE(open(log, listener));
  EXPECT_EQ(listener.stream->position, (eventserver::log_position{1, 0}));
  EXPECT_EQ(listener.stream->graph.edge_count(), 0u);
  EXPECT_EQ(listener.stream->snapshot_seq, 0u);
  EXPECT_EQ(log->problem(), "");
  EXPECT_FALSE(log->status().recovering);
  EXPECT_TRUE(log->stop(dispatch->applied(), std::chrono::steady_clock::now() + 10s));
}

TEST_P(EventLogContract, BatchesComeBackDurableInOrderAndHistoryHoldsThem) {
  auto log = make();
  recording_listener listener;
  ASSERT_NO_FATAL_FAILURE(open(log, listener));
  // Batches of 64 bytes: several go out at once.
  ASSERT_NO_FATAL_FAILURE(append(listener, {"1|F|1|2", "2|B", "3|P|4|5", "4|F|3|2", "5|S|2", "6|B", "7|U|3|2", "8|B", "9|B", "10|B"}));
  EXPECT_EQ(dispatch->applied(), (eventserver::log_position{1, 10}));
  EXPECT_TRUE(dispatch->routes().graph().follows(1, 2));
  EXPECT_FALSE(dispatch->routes().graph().follows(3, 2));
  if (log->history() != nullptr) {  // a log that serves history gives back what was appended
    EXPECT_EQ(read_all(*log, 10), "1|F|1|2\r\n2|B\r\n3|P|4|5\r\n4|F|3|2\r\n5|S|2\r\n6|B\r\n7|U|3|2\r\n8|B\r\n9|B\r\n10|B\r\n");
    EXPECT_EQ(read_all(*log, 3), "1|F|1|2\r\n2|B\r\n3|P|4|5\r\n");  // never past `until`
  }
  EXPECT_TRUE(log->stop(dispatch->applied(), std::chrono::steady_clock::now() + 10s));
}

TEST_P(EventLogContract, ASnapshotIsReportedOnceWrittenOrDeclined) {
  auto log = make();
  recording_listener listener;
  ASSERT_NO_FATAL_FAILURE(open(log, listener));
  ASSERT_NO_FATAL_FAILURE(append(listener, {"1|F|1|2", "2|F|3|2"}));
  if (!log->takes_snapshots()) {  // declined: the driver never asks for one, and none is counted
    EXPECT_EQ(log->status().snapshots_written, 0u);
    EXPECT_TRUE(log->stop(dispatch->applied(), std::chrono::steady_clock::now() + 10s));
    return;
  }
  snapshot_encoder encoder(1, 2);
  dispatch->routes().graph().for_each([&](user_id user, std::span<const user_id> followed) { encoder.add(user, followed); });
  encoder.finish();
  log->snapshot_begin(eventserver::log_position{1, 2});
  log->snapshot_finish(encoder.take_output());
  ASSERT_TRUE(thread.run_until([&] { return !listener.snapshots.empty(); }));
  EXPECT_TRUE(listener.snapshots[0].ok) << listener.snapshots[0].detail;
  EXPECT_EQ(log->status().snapshots_written, 1u);
  EXPECT_TRUE(log->stop(dispatch->applied(), std::chrono::steady_clock::now() + 10s));
}

TEST_P(EventLogContract, ARestartRecoversWhatAKeptLogHeldAndAnotherStartsEmpty) {
  bool kept = false;
  {
    auto log = make();
    recording_listener listener;
    ASSERT_NO_FATAL_FAILURE(open(log, listener));
    ASSERT_NO_FATAL_FAILURE(append(listener, {"1|F|1|2", "2|F|3|2", "3|U|1|2"}));
    kept = log->status().kept;
    if (log->takes_snapshots()) {  // as the driver does at shutdown
      snapshot_encoder encoder(1, 3);
      dispatch->routes().graph().for_each([&](user_id user, std::span<const user_id> followed) { encoder.add(user, followed); });
      encoder.finish();
      log->snapshot_begin(eventserver::log_position{1, 3});
      log->snapshot_finish(encoder.take_output());
    }
    EXPECT_TRUE(log->stop(dispatch->applied(), std::chrono::steady_clock::now() + 10s));
  }
  auto log = make();
  recording_listener listener;
  ASSERT_NO_FATAL_FAILURE(open(log, listener));
  if (kept && !log->recovers_graph()) {  // the position alone
    EXPECT_EQ(listener.stream->position, (eventserver::log_position{1, 3}));
    EXPECT_EQ(dispatch->routes().graph().edge_count(), 0u);
  } else if (kept) {
    EXPECT_EQ(listener.stream->position, (eventserver::log_position{1, 3}));
    EXPECT_EQ(dispatch->routes().graph().edge_count(), 1u);
    EXPECT_TRUE(dispatch->routes().graph().follows(3, 2));
    // The next periodic snapshot counts from the one it began from.
    if (log->takes_snapshots()) {
      EXPECT_EQ(listener.stream->snapshot_seq, 3u);
    }
  } else {
    EXPECT_EQ(listener.stream->position, (eventserver::log_position{1, 0}));
    EXPECT_EQ(dispatch->routes().graph().edge_count(), 0u);
  }
  EXPECT_TRUE(log->stop(dispatch->applied(), std::chrono::steady_clock::now() + 10s));
}

}  // namespace contract
}  // namespace eventserver::storage
