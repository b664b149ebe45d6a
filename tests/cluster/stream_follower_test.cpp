// An edge's reader against a real nats-server: every batch in order from any position, caught
// up and waiting, and a stop (never a skip) where the stream does not continue the local log.
#include "eventserver/cluster/stream_follower.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <cstdlib>
#include <memory>
#include <thread>
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

  // Deletes every consumer of the stream, as the server does with one inactive too long.
  void delete_consumers() {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, server_.url().c_str()), NATS_OK);
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    jsConsumerNamesList* names = nullptr;
    jsErrCode code{};
    ASSERT_EQ(js_ConsumerNames(&names, js, settings_.name.c_str(), nullptr, &code), NATS_OK);
    EXPECT_GE(names->Count, 1);
    for (int i = 0; i < names->Count; ++i) {
      EXPECT_EQ(js_DeleteConsumer(js, settings_.name.c_str(), names->List[i], nullptr, &code), NATS_OK);
    }
    jsConsumerNamesList_Destroy(names);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  // Reads until `count` batches came, making the follower again from its position after each
  // cluster_error (as edge_feed does); bounded (false when they did not come).
  bool read_on(std::unique_ptr<stream_follower>& follower, std::size_t count, std::size_t up_to,
               std::vector<stored_batch>& out, int* remade = nullptr) {
    for (int attempt = 0; attempt < 200 && out.size() < count; ++attempt) {
      try {
        if (!follower) follower = std::make_unique<stream_follower>(*stream_, at_, 300ms);
        while (out.size() < count) {
          auto batch = follower->next(100ms, up_to);
          if (!batch) break;
          out.push_back(std::move(*batch));
          at_ = follower->position();
        }
      } catch (const follow_error&) {
        throw;
      } catch (const cluster_error&) {
        follower.reset();
        if (remade != nullptr) ++*remade;
      }
    }
    return out.size() >= count;
  }

  std::optional<jetstream_stream> stream_;
  follow_position at_;
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

// A fetch asks for no more than the room its caller gives: what the follower holds beyond the
// batch it returns stays within that room, however much the stream holds.
TEST_F(StreamFollower, ItHoldsNoMoreThanTheRoomAskedFor) {
  publish(1, 1, 40, 0);
  stream_follower follower(*stream_, {1, 0});
  std::vector<sequence_number> firsts;
  while (auto batch = follower.next(300ms, 3)) {
    EXPECT_LE(follower.held(), 2u);
    firsts.push_back(batch->first);
  }
  ASSERT_EQ(firsts.size(), 40u);
  for (std::size_t i = 0; i < firsts.size(); ++i) EXPECT_EQ(firsts[i], 1 + 10 * i);
}

// Whether more is ready (messages held, or a fetch that brought all it asked for) tells the
// edge it is behind, so client writes may wait to go out together; once a fetch brings fewer
// than asked it has caught up, and writes must go out at once.
TEST_F(StreamFollower, MoreReadySaysWhetherItIsBehind) {
  publish(1, 1, 10, 0);
  stream_follower follower(*stream_, {1, 0});
  std::vector<bool> more;
  while (auto batch = follower.next(300ms, 3)) more.push_back(follower.more_ready());
  // Fetches of 3, 3, 3 (each full), then 1 of 3 asked: behind until the last one.
  ASSERT_EQ(more.size(), 10u);
  for (std::size_t i = 0; i + 1 < more.size(); ++i) EXPECT_TRUE(more[i]) << i;
  EXPECT_FALSE(more.back());
}

// kill -9 of the server while an edge reads, with messages fetched and not yet returned: once
// it is back, a follower made again from the last batch returned (as edge_feed does on a
// cluster_error) reads on, every batch once and in order. nats-server 2.9.10 brings the
// ephemeral consumer back at its first message after a restart: the follower must not take
// that for the next batch.
TEST_F(StreamFollower, AfterAServerRestartItReadsOnFromTheLastBatchReturned) {
  std::uint64_t after = publish(1, 1, 30, 0);
  std::unique_ptr<stream_follower> follower;
  std::vector<stored_batch> got;
  ASSERT_TRUE(read_on(follower, 10, 4, got));
  EXPECT_GT(follower->held(), 0u);  // fetched, not returned: lost with the server, read again
  server_.kill(SIGKILL);
  EXPECT_THROW(
      {
        for (int i = 0; i < 100; ++i) follower->next(50ms, 4);  // what it held, then the server is gone
      },
      cluster_error);
  ASSERT_TRUE(server_.start()) << server_.error();
  // The publisher's connection reconnects by itself (every 500 ms); a bounded wait for it.
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto result = stream_->publish(1, 301, 310, events_batch(301, 10), after);
    if (result.result == publish_result::outcome::stored || result.result == publish_result::outcome::duplicate) {
      after = result.stream_seq;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(after, 31u);
  ASSERT_TRUE(read_on(follower, 31, 4, got));
  ASSERT_EQ(got.size(), 31u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].stream_seq, i + 1);
    EXPECT_EQ(got[i].first, 1 + 10 * i);
  }
  EXPECT_FALSE(follower->next(100ms, 4).has_value());
}

// A consumer that is gone (deleted, or the server dropped it while the edge waited past its
// inactive threshold) answers no fetch, and the fetch only times out: the follower notices that
// the stream holds the next message and nothing comes, and says so, rather than wait for ever.
TEST_F(StreamFollower, AConsumerThatIsGoneIsNoticed) {
  const std::uint64_t last = publish(1, 1, 2, 0);
  std::unique_ptr<stream_follower> follower;
  std::vector<stored_batch> got;
  ASSERT_TRUE(read_on(follower, 2, 4, got));
  EXPECT_FALSE(follower->next(100ms, 4).has_value());  // caught up: waiting is no failure
  EXPECT_FALSE(follower->next(100ms, 4).has_value());
  delete_consumers();
  publish(1, 21, 1, last);
  bool noticed = false;
  for (int i = 0; i < 100 && !noticed; ++i) {
    try {
      EXPECT_FALSE(follower->next(100ms, 4).has_value());
    } catch (const follow_error& e) {
      FAIL() << e.what();
    } catch (const cluster_error& e) {
      noticed = true;
      EXPECT_NE(std::string(e.what()).find("the consumer delivered nothing"), std::string::npos) << e.what();
    }
  }
  ASSERT_TRUE(noticed);
  follower.reset();
  ASSERT_TRUE(read_on(follower, 3, 4, got));
  EXPECT_EQ(got.back().first, 21u);
}

}  // namespace
}  // namespace eventserver::cluster
