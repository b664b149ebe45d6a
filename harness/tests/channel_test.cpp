#include "followermaze/expectation_channel.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace followermaze {
namespace {

struct delivered {
  connection_index connection;
  std::string line;
  std::uint64_t sent_ns;
  bool operator==(const delivered&) const = default;
};

std::vector<delivered> drain(expectation_channel& channel) {
  std::vector<delivered> out;
  channel.drain([&](connection_index c, const expectation& e) {
    out.push_back({c, std::string(e.line->view()), e.sent_ns});
    channel.checked(e);
    return true;
  });
  return out;
}

// A chunk whose line i is the private message with sequence number i + 1.
expectation_chunk* fill(expectation_channel& channel, std::uint64_t lines) {
  expectation_chunk* chunk = channel.acquire_chunk();
  for (std::uint64_t seq = 1; seq <= lines; ++seq) {
    chunk->lines.push_back(formatted_line::of(event{seq, 1, 2, event_kind::private_message, 0}));
  }
  return chunk;
}

TEST(Channel, DeliversPublishedStretchesInOrderWithTheirWriteTime) {
  expectation_channel channel;
  expectation_chunk* chunk = fill(channel, 3);
  chunk->staged = {{0, 0}, {2, 0}, {0, 1}, {1, 2}};
  EXPECT_TRUE(drain(channel).empty());

  channel.publish(chunk, 0, 3, 1000, false);
  EXPECT_EQ(channel.total_published(), 3U);
  EXPECT_EQ(drain(channel), (std::vector<delivered>{{0, "1|P|1|2\r\n", 1000}, {2, "1|P|1|2\r\n", 1000},
                                                    {0, "2|P|1|2\r\n", 1000}}));
  EXPECT_TRUE(drain(channel).empty());  // drained once

  channel.publish(chunk, 3, 4, 2000, true);
  EXPECT_EQ(drain(channel), (std::vector<delivered>{{1, "3|P|1|2\r\n", 2000}}));
  EXPECT_EQ(channel.total_published(), 4U);
}

TEST(Channel, AChunkIsReusedOnlyOnceEveryReferenceWasChecked) {
  expectation_channel channel;
  expectation_chunk* chunk = fill(channel, 2);
  chunk->staged = {{0, 0}, {1, 1}};
  channel.publish(chunk, 0, 2, 7, true);
  std::vector<expectation> held;
  channel.drain([&](connection_index, const expectation& e) {
    held.push_back(e);
    return true;
  });
  ASSERT_EQ(held.size(), 2U);
  EXPECT_EQ(chunk->unchecked, 2U);
  channel.checked(held[0]);
  EXPECT_NE(channel.acquire_chunk(), chunk);  // one reference left: still in use
  channel.checked(held[1]);
  EXPECT_EQ(channel.acquire_chunk(), chunk);  // free again, and emptied
  EXPECT_TRUE(chunk->lines.empty());
  EXPECT_EQ(channel.chunks_allocated(), 2U);
}

TEST(Channel, AChunkIsReusedOnlyAfterItsLastStretchWasDrained) {
  expectation_channel channel;
  expectation_chunk* first = fill(channel, 1);
  first->staged = {{0, 0}};
  channel.publish(first, 0, 1, 5, true);
  expectation_chunk* second = channel.acquire_chunk();
  EXPECT_NE(second, first);  // published, not yet drained: still in use
  drain(channel);
  channel.publish(second, 0, 0, 0, true);
  drain(channel);
  expectation_chunk* third = channel.acquire_chunk();
  EXPECT_TRUE(third == first || third == second);
  EXPECT_TRUE(third->lines.empty());
  EXPECT_TRUE(third->staged.empty());
}

TEST(Channel, ACopiedExpectationHoldsNoChunk) {
  expectation_channel channel;
  expectation_chunk* chunk = fill(channel, 2);
  chunk->staged = {{0, 0}, {1, 1}};
  channel.publish(chunk, 0, 2, 7, true);
  std::vector<expectation> held;
  std::vector<std::string> copied;
  channel.drain([&](connection_index c, const expectation& e) {
    if (c == 1) {
      copied.emplace_back(e.line->view());  // a detached connection: copies, keeps nothing
      return false;
    }
    held.push_back(e);
    return true;
  });
  EXPECT_EQ(copied, std::vector<std::string>{"2|P|1|2\r\n"});
  ASSERT_EQ(held.size(), 1U);
  EXPECT_EQ(chunk->unchecked, 1U);
  channel.checked(held[0]);
  EXPECT_EQ(channel.acquire_chunk(), chunk);  // the copy did not pin it
}

TEST(Channel, ClosedIsSticky) {
  expectation_channel channel;
  EXPECT_FALSE(channel.closed());
  channel.close();
  EXPECT_TRUE(channel.closed());
}

TEST(Channel, TheLongestNotificationFits) {
  const event widest{18446744073709551615ULL, 4294967295U, 4294967295U, event_kind::follow, 0};
  const auto line = formatted_line::of(widest);
  EXPECT_EQ(line.view(), "18446744073709551615|F|4294967295|4294967295\r\n");
  EXPECT_LE(line.length, max_event_line_bytes);
}

TEST(Channel, LineFromTheRunningCounterEqualsTheFormattedOne) {
  decimal_counter seq(99);
  seq.increment();
  const event e{100, 3, 4, event_kind::follow, 0};
  formatted_line line;
  line.assign(e, seq);
  EXPECT_EQ(line.view(), "100|F|3|4\r\n");
  EXPECT_EQ(line.view(), formatted_line::of(e).view());
}

}  // namespace
}  // namespace followermaze
