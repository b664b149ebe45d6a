// An edge's reader against a real nats-server: every batch in order from any position, caught
// up and waiting, and a stop (never a skip) where the stream does not continue the local log.
#include "eventserver/cluster/stream_follower.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <cstdlib>
#include <vector>

#include "storage/storage_test_support.hpp"
#include "cluster/cluster_test_support.hpp"

namespace eventserver::cluster {
namespace {

using namespace std::chrono_literals;
using storage::testing::events_batch;

class StreamFollower : public testing::nats_test {
 protected:
  void SetUp() override {
    nats_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    stream_.emplace(jetstream_stream::open(settings_));
  }
  // Batches of 10 events of `epoch` from `first`, `count` of them, after stream message `after`.
  std::uint64_t publish(stream_epoch epoch, sequence_number first, int count, std::uint64_t after) {
    for (int i = 0; i < count; ++i, first += 10) {
      const auto result = stream_->publish(epoch, first, first + 9, events_batch(first, 10), after);
      EXPECT_EQ(result.result, publish_result::outcome::stored) << result.detail;
      after = result.stream_seq;
    }
    return after;
  }
  // What the follower returns until it is caught up: (epoch, first) of each batch.
  std::vector<std::pair<stream_epoch, sequence_number>> drain(stream_follower& follower) {
    std::vector<std::pair<stream_epoch, sequence_number>> out;
    while (auto batch = follower.next(300ms)) out.emplace_back(batch->epoch, batch->first);
    return out;
  }
  // Deletes one message, as an operator (or a retention rule) may.
  void delete_message(std::uint64_t seq) {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, server_.url().c_str()), NATS_OK);
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    jsErrCode code{};
    EXPECT_EQ(js_DeleteMsg(js, settings_.name.c_str(), seq, nullptr, &code), NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }

  std::optional<jetstream_stream> stream_;
};

TEST_F(StreamFollower, EveryBatchInOrderFromTheStartOrFromALocalPosition) {
  const std::uint64_t last = publish(1, 1, 5, 0);
  publish(2, 1, 2, last);
  stream_follower from_start(*stream_, {1, 0});
  EXPECT_EQ(drain(from_start), (std::vector<std::pair<stream_epoch, sequence_number>>{
                                   {1, 1}, {1, 11}, {1, 21}, {1, 31}, {1, 41}, {2, 1}, {2, 11}}));
  EXPECT_EQ(from_start.position().epoch, 2u);
  EXPECT_EQ(from_start.position().seq, 20u);
  stream_follower from_middle(*stream_, {1, 30});
  EXPECT_EQ(drain(from_middle),
            (std::vector<std::pair<stream_epoch, sequence_number>>{{1, 31}, {1, 41}, {2, 1}, {2, 11}}));
}

TEST_F(StreamFollower, CaughtUpItWaitsAndThenSeesWhatComes) {
  const std::uint64_t last = publish(1, 1, 2, 0);
  stream_follower follower(*stream_, {1, 0});
  EXPECT_EQ(drain(follower).size(), 2u);
  EXPECT_FALSE(follower.next(100ms).has_value());
  publish(1, 21, 1, last);
  const auto batch = follower.next(5s);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->first, 21u);
  EXPECT_EQ(batch->sealed, events_batch(21, 10));
}

// JetStream skips a deleted message silently: the follower must not.
TEST_F(StreamFollower, AMissingMessageStopsItNamingTheGap) {
  publish(1, 1, 6, 0);
  delete_message(3);
  stream_follower follower(*stream_, {1, 0});
  ASSERT_TRUE(follower.next(5s).has_value());
  ASSERT_TRUE(follower.next(5s).has_value());
  try {
    follower.next(5s);
    FAIL() << "expected follow_error";
  } catch (const follow_error& e) {
    EXPECT_NE(std::string(e.what()).find("message 4 (epoch 1 numbers 31..40) follows message 2"), std::string::npos)
        << e.what();
  }
}

// A start the stream no longer (or never) holds: JetStream would start elsewhere silently.
TEST_F(StreamFollower, AStartTheStreamDoesNotHoldIsRefused) {
  publish(1, 1, 3, 0);
  EXPECT_THROW(stream_follower(*stream_, {1, 100}), follow_error);  // past the stream's end
  EXPECT_THROW(stream_follower(*stream_, {1, 15}), follow_error);   // inside a batch
  delete_message(1);
  // An empty local log needs the epoch's first batch: retention has taken it.
  stream_follower fresh(*stream_, {1, 0});
  try {
    fresh.next(5s);
    FAIL() << "expected follow_error";
  } catch (const follow_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not continue the local log, which ends at number 0 of epoch 1"),
              std::string::npos)
        << e.what();
  }
}

// kill -9 of the server while an edge reads: once it is back the edge reads on, in order,
// from where it stood.
TEST_F(StreamFollower, ItReadsOnAfterTheServerComesBack) {
  const std::uint64_t last = publish(1, 1, 3, 0);
  stream_follower follower(*stream_, {1, 0});
  EXPECT_EQ(drain(follower).size(), 3u);
  server_.kill(SIGKILL);
  EXPECT_FALSE(follower.next(200ms).has_value());
  ASSERT_TRUE(server_.start()) << server_.error();
  // The publisher's connection reconnects by itself; so does the follower's consumer.
  std::uint64_t after = last;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto result = stream_->publish(1, 31, 40, events_batch(31, 10), after);
    if (result.result == publish_result::outcome::stored || result.result == publish_result::outcome::duplicate) break;
    std::this_thread::sleep_for(100ms);  // bounded: the client reconnects every 500 ms
  }
  std::optional<stored_batch> batch;
  for (int attempt = 0; attempt < 50 && !batch; ++attempt) batch = follower.next(200ms);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->first, 31u);
  EXPECT_EQ(follower.stream_seq(), 4u);
}

}  // namespace
}  // namespace eventserver::cluster
