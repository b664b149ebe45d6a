// An edge's intake against a real nats-server: batches reach the event thread in order and no
// more than the window at once, a cluster that is away is waited for and said so, a gap stops
// the feed, and the lag counts what the event thread has not taken.
#include "eventserver/cluster/edge_feed.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <csignal>
#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/cluster_test_support.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::cluster {
namespace {

using namespace std::chrono_literals;
using storage::testing::events_batch;

// The test's "event thread": what the feed posts waits here until the test runs it.
class posted_work {
 public:
  edge_feed::post_fn post() {
    return [this](std::function<void()> work) {
      const std::lock_guard lock(mutex_);
      queue_.push_back(std::move(work));
    };
  }
  // Runs what was posted until `done` holds or 10 s pass (bounded; false then).
  bool run_until(const std::function<bool()>& done) {
    for (int round = 0; round < 1000; ++round) {
      std::deque<std::function<void()>> ready;
      {
        const std::lock_guard lock(mutex_);
        ready.swap(queue_);
      }
      for (auto& work : ready) work();
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

 private:
  std::mutex mutex_;
  std::deque<std::function<void()>> queue_;
};

class EdgeFeed : public testing::nats_test {
 protected:
  void SetUp() override {
    nats_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    stream_.emplace(jetstream_stream::open(settings_));
  }
  // `count` batches of 10 events of epoch 1 from `first`, after stream message `after`.
  std::uint64_t publish(sequence_number first, int count, std::uint64_t after) {
    for (int i = 0; i < count; ++i, first += 10) {
      const auto result = stream_->publish(1, first, first + 9, events_batch(first, 10), after);
      EXPECT_EQ(result.result, publish_result::outcome::stored) << result.detail;
      after = result.stream_seq;
    }
    return after;
  }
  edge_feed::handlers handlers() {
    return {work_.post(), [this](stored_batch&& batch, bool) { batches_.push_back(std::move(batch)); },
            [this](std::string why) { stopped_ = std::move(why); },
            [this](std::string failing) { failing_.push_back(std::move(failing)); }};
  }
  // The event thread takes every batch it was handed.
  void take_all(edge_feed& feed) {
    feed.taken(batches_.size() - taken_);
    taken_ = batches_.size();
  }
  edge_feed_settings quick(std::size_t window) {
    edge_feed_settings s;
    s.window = window;
    s.poll = 50ms;
    s.retry_after = 100ms;
    s.lag_every = 100ms;
    return s;
  }

  // The event thread at its slowest: runs what was posted and takes one batch, every
  // millisecond or so, until `count` batches came (bounded: false after 20 s).
  bool take_slowly(edge_feed& feed, std::size_t count, const std::function<void()>& each = {}) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      work_.run_until([] { return true; });
      if (taken_ < batches_.size()) {
        feed.taken(1);
        ++taken_;
        if (each) each();
      }
      if (taken_ >= count) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  std::optional<jetstream_stream> stream_;
  posted_work work_;
  std::vector<stored_batch> batches_;
  std::size_t taken_ = 0;
  std::string stopped_;
  std::vector<std::string> failing_;
};

TEST_F(EdgeFeed, HandsEveryBatchOverInOrderNoMoreThanTheWindowUntaken) {
  publish(1, 12, 0);
  edge_feed feed(settings_, {1, 0}, handlers(), quick(4));
  ASSERT_TRUE(work_.run_until([&] { return batches_.size() >= 4; }));
  // Nothing taken: the feed waits with four handed over, however long the event thread takes.
  std::this_thread::sleep_for(300ms);
  work_.run_until([] { return true; });
  EXPECT_EQ(batches_.size(), 4u);
  // The lag counts all twelve: none was taken.
  ASSERT_TRUE(work_.run_until([&] { return feed.lag().known && feed.lag().stream_last_seq == 12; }));
  EXPECT_EQ(feed.lag().events_behind, 120u);
  EXPECT_GT(feed.lag().seconds_behind, 0.0);

  ASSERT_TRUE(work_.run_until([&] {
    take_all(feed);
    return batches_.size() == 12;
  }));
  for (std::size_t i = 0; i < batches_.size(); ++i) {
    EXPECT_EQ(batches_[i].first, 1 + 10 * i);
    EXPECT_EQ(batches_[i].stream_seq, i + 1);
    EXPECT_NE(batches_[i].stored_ns, 0);
  }
  take_all(feed);
  ASSERT_TRUE(work_.run_until([&] { return feed.lag().taken_stream_seq == 12 && feed.lag().events_behind == 0; }));
  EXPECT_EQ(feed.lag().seconds_behind, 0.0);
  EXPECT_TRUE(stopped_.empty()) << stopped_;
}

// The last message taken is reported as soon as it is taken, not at the next measurement of the
// stream's end (eventserver_edge_stream_applied_sequence read right after a run).
TEST_F(EdgeFeed, TheLastMessageTakenIsCurrentBetweenMeasurements) {
  publish(1, 6, 0);
  edge_feed_settings rarely = quick(8);
  rarely.lag_every = 1h;  // measured once, at the start
  edge_feed feed(settings_, {1, 0}, handlers(), rarely);
  ASSERT_TRUE(work_.run_until([&] { return batches_.size() == 6; }));
  feed.taken(2);
  taken_ = 2;
  EXPECT_EQ(feed.lag().taken_stream_seq, 2u);
  take_all(feed);
  EXPECT_EQ(feed.lag().taken_stream_seq, 6u);
  EXPECT_GE(feed.lag().stream_last_seq, 6u);
}

TEST_F(EdgeFeed, StartsAfterTheLocalPosition) {
  publish(1, 5, 0);
  edge_feed feed(settings_, {1, 20}, handlers(), quick(8));
  ASSERT_TRUE(work_.run_until([&] { return batches_.size() == 3; }));
  EXPECT_EQ(batches_.front().first, 21u);
  take_all(feed);
  ASSERT_TRUE(work_.run_until([&] { return feed.lag().taken_stream_seq == 5 && feed.lag().events_behind == 0; }));
}

TEST_F(EdgeFeed, WaitsForAClusterThatIsAwayAndSaysSo) {
  const std::uint64_t last = publish(1, 2, 0);
  server_.kill(SIGKILL);
  edge_feed feed(settings_, {1, 0}, handlers(), quick(8));
  ASSERT_TRUE(work_.run_until([&] { return !failing_.empty(); }));
  EXPECT_FALSE(failing_.front().empty());
  EXPECT_TRUE(batches_.empty());
  ASSERT_TRUE(server_.start()) << server_.error();
  // The publisher's connection reconnects by itself (every 500 ms); a bounded wait for it.
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto result = stream_->publish(1, 21, 30, events_batch(21, 10), last);
    if (result.result == publish_result::outcome::stored || result.result == publish_result::outcome::duplicate) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(work_.run_until([&] {
    take_all(feed);
    return batches_.size() == 3;
  }));
  EXPECT_EQ(batches_.back().first, 21u);
  EXPECT_TRUE(failing_.back().empty()) << "reading again is said too";
  EXPECT_TRUE(stopped_.empty()) << stopped_;
}

TEST_F(EdgeFeed, AGapStopsItAfterWhatCameBefore) {
  publish(1, 3, 0);
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, server_.url().c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsErrCode code{};
  ASSERT_EQ(js_DeleteMsg(js, settings_.name.c_str(), 2, nullptr, &code), NATS_OK);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  edge_feed feed(settings_, {1, 0}, handlers(), quick(8));
  ASSERT_TRUE(work_.run_until([&] {
    take_all(feed);
    return !stopped_.empty();
  }));
  ASSERT_EQ(batches_.size(), 1u);
  EXPECT_NE(stopped_.find("the messages between are gone"), std::string::npos) << stopped_;
}

// An event thread far slower than the stream over many more messages than any buffer on the
// way: every batch comes once and in order, and nothing is lost on the way (the ordered push
// consumer read before dropped messages past libnats' pending limit of 1,024 and had to read
// again, which `failing` reported).
TEST_F(EdgeFeed, ASlowEventThreadGetsEveryBatchOnceInOrderAndNothingIsLostOnTheWay) {
  constexpr int count = 1500;
  publish(1, count, 0);
  edge_feed feed(settings_, {1, 0}, handlers(), quick(4));
  std::size_t most_untaken = 0;
  ASSERT_TRUE(take_slowly(feed, count, [&] { most_untaken = std::max(most_untaken, batches_.size() - taken_); }));
  ASSERT_EQ(batches_.size(), static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < batches_.size(); ++i) {
    ASSERT_EQ(batches_[i].stream_seq, i + 1);
    ASSERT_EQ(batches_[i].first, 1 + 10 * i);
  }
  EXPECT_LE(most_untaken, 4u);
  EXPECT_TRUE(failing_.empty()) << failing_.front();
  EXPECT_TRUE(stopped_.empty()) << stopped_;
}

// kill -9 of nats-server while the edge is behind and reading: once it is back the feed reads
// on after the last batch it handed over: every batch once, in order, and what comes later.
TEST_F(EdgeFeed, ANatsServerRestartMidReadRepeatsAndLosesNothing) {
  constexpr int count = 200;
  std::uint64_t last = publish(1, count, 0);
  edge_feed feed(settings_, {1, 0}, handlers(), quick(4));
  bool restarted = false;
  ASSERT_TRUE(take_slowly(feed, count, [&] {
    if (restarted || taken_ != 50) return;
    restarted = true;
    server_.kill(SIGKILL);
    ASSERT_TRUE(server_.start()) << server_.error();
  }));
  // The publisher's connection reconnects by itself (every 500 ms); a bounded wait for it.
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto result = stream_->publish(1, 1 + 10 * count, 10 * count + 10, events_batch(1 + 10 * count, 10), last);
    if (result.result == publish_result::outcome::stored || result.result == publish_result::outcome::duplicate) {
      last = result.stream_seq;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(last, static_cast<std::uint64_t>(count + 1));
  ASSERT_TRUE(take_slowly(feed, count + 1));
  ASSERT_EQ(batches_.size(), static_cast<std::size_t>(count + 1));
  for (std::size_t i = 0; i < batches_.size(); ++i) {
    ASSERT_EQ(batches_[i].stream_seq, i + 1);
    ASSERT_EQ(batches_[i].first, 1 + 10 * i);
  }
  EXPECT_TRUE(stopped_.empty()) << stopped_;
}

}  // namespace
}  // namespace eventserver::cluster
