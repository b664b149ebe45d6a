// R3 on three nats-server nodes on loopback: kill -9 of the stream's leader while the ingest's
// log publishes. Publishing pauses for the election (about 5 to 9 s here) and goes on; every
// event is in the stream once, in order (../shared/FACTS.md 2b measured the same by hand).
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eventserver/cluster/jetstream_log.hpp"
#include "eventserver/storage/batch_format.hpp"
#include "support/nats_server.hpp"

namespace eventserver::cluster {
namespace {

using namespace std::chrono_literals;
using test_support::nats_cluster;

TEST(JetStreamFailover, KillingTheStreamLeaderLosesAndDoublesNothing) {
  EVENTSERVER_REQUIRE_NATS_SERVER();
  nats_cluster cluster;
  ASSERT_TRUE(cluster.start()) << cluster.error();
  stream_settings settings;
  settings.servers = cluster.urls();
  settings.replicas = 3;
  settings.timeout = 2000ms;
  // The cluster elects its metadata leader first: until then JetStream does not answer.
  std::optional<jetstream_stream> stream;
  std::string why;
  for (int attempt = 0; attempt < 40 && !stream; ++attempt) {
    try {
      stream.emplace(jetstream_stream::open(settings));
    } catch (const cluster_error& e) {
      why = e.what();
      std::this_thread::sleep_for(250ms);  // bounded: 10 s in all
    }
  }
  ASSERT_TRUE(stream.has_value()) << "no JetStream on the cluster within 10 s: " << why;
  const std::string leader = stream->state().leader;
  ASSERT_FALSE(leader.empty());

  std::mutex mutex;
  std::condition_variable changed;
  std::size_t durable = 0;
  std::size_t failures = 0;
  jetstream_log log(std::move(*stream), 0,
                    [&](jetstream_log_report report) {
                      std::lock_guard lock(mutex);
                      durable += report.durable;
                      if (!report.failing.empty()) ++failures;
                      EXPECT_FALSE(report.fenced) << report.failing;
                      changed.notify_all();
                    },
                    200ms);
  log_pipeline pipeline(log, {512, 4}, {1, 0});
  std::size_t handed = 0;
  const auto hand_over = [&](bool wait) {
    std::unique_lock lock(mutex);
    if (wait && !changed.wait_for(lock, 30s, [&] { return durable > handed; })) return false;
    for (; handed < durable; ++handed) pipeline.durable([](const log_batch&) {});
    return true;
  };
  std::string line(64, '\0');
  const auto append = [&](sequence_number first, sequence_number last) {
    for (sequence_number seq = first; seq <= last; ++seq) {
      const std::string text = std::to_string(seq) + "|B\r\n";
      line.replace(0, text.size(), text);
      pipeline.append(event{seq, event_type::broadcast, 0, 0}, std::string_view(line.data(), text.size()));
    }
    pipeline.commit();
  };

  constexpr sequence_number total = 6000;
  for (sequence_number first = 1; first <= total; first += 200) {
    while (pipeline.saturated()) ASSERT_TRUE(hand_over(true)) << "publishing did not resume within 30 s";
    append(first, first + 199);
    hand_over(false);
    if (first == 2001) {
      for (std::size_t i = 0; i < 3; ++i) {
        if ("n" + std::to_string(i + 1) == leader) cluster.node(i).kill(SIGKILL);
      }
    }
  }
  while (pipeline.waiting() != 0) ASSERT_TRUE(hand_over(true)) << "publishing did not resume within 30 s";
  EXPECT_EQ(pipeline.durable_position(), (log_position{1, total}));
  ASSERT_TRUE(log.stop(std::chrono::steady_clock::now() + 10s));

  // Read back through the survivors: every number once, in order.
  jetstream_stream reader = jetstream_stream::open(settings);
  EXPECT_NE(reader.state().leader, leader);
  sequence_number expected = 1;
  const stream_state state = reader.state();
  for (std::uint64_t seq = state.first_seq; seq <= state.last_seq; ++seq) {
    const auto batch = reader.at(seq);
    ASSERT_TRUE(batch.has_value()) << "message " << seq << " missing";
    const auto decoded = storage::decode_batch(batch->sealed.data(), batch->sealed.size());
    for (const auto& stored : storage::batch_lines(decoded.batch)) {
      ASSERT_EQ(stored.payload(), std::to_string(expected) + "|B");
      ++expected;
    }
  }
  EXPECT_EQ(expected, total + 1);
  EXPECT_GE(failures, 1u);  // the election was seen, and said
}

}  // namespace
}  // namespace eventserver::cluster
