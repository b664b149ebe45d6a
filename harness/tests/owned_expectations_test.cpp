#include "followermaze/owned_expectations.hpp"

#include <gtest/gtest.h>

#include <string>

namespace followermaze {
namespace {

TEST(OwnedExpectations, FirstInFirstOutWithKindAndTime) {
  owned_expectations q;
  EXPECT_TRUE(q.empty());
  q.push("1|B\r\n", event_kind::broadcast, 10);
  q.push("2|P|3|4\r\n", event_kind::private_message, 20);
  EXPECT_EQ(q.size(), 2U);
  EXPECT_EQ(q.bytes(), 14U);
  EXPECT_EQ(q.front_line(), "1|B\r\n");
  EXPECT_EQ(q.front_kind(), event_kind::broadcast);
  EXPECT_EQ(q.front_sent_ns(), 10U);
  q.pop();
  EXPECT_EQ(q.front_line(), "2|P|3|4\r\n");
  EXPECT_EQ(q.front_kind(), event_kind::private_message);
  EXPECT_EQ(q.front_sent_ns(), 20U);
  q.pop();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0U);
  q.push("3|S|9\r\n", event_kind::status_update, 30);
  EXPECT_EQ(q.front_line(), "3|S|9\r\n");
}

TEST(OwnedExpectations, MemoryFollowsTheBacklogNotTheStream) {
  owned_expectations q;
  std::uint64_t next_pop = 1;
  for (std::uint64_t seq = 1; seq <= 100'000; ++seq) {
    const std::string line = std::to_string(seq) + "|B\r\n";
    q.push(line, event_kind::broadcast, seq);
    if (seq % 2 == 0) {  // always ~half behind... then caught up below
      ASSERT_EQ(q.front_line(), std::to_string(next_pop) + "|B\r\n");
      q.pop();
      ++next_pop;
    }
  }
  EXPECT_EQ(q.size(), 50'000U);
  while (!q.empty()) {
    ASSERT_EQ(q.front_sent_ns(), next_pop);
    q.pop();
    ++next_pop;
  }
  EXPECT_EQ(next_pop, 100'001U);
}

TEST(ReadPacer, AFractionOfWhatWasPublishedWhileTheStreamRuns) {
  read_pacer pacer(0.5);
  EXPECT_EQ(pacer.allowance(1'000, 0, 0), 0U);
  pacer.published(1000);
  EXPECT_EQ(pacer.allowance(5'000, 0, 0), 500U);
  pacer.published(1000);
  EXPECT_EQ(pacer.allowance(9'000, 0, 0), 1000U);
  EXPECT_EQ(pacer.total_published(), 2000U);
}

TEST(ReadPacer, AfterTheEndTheSameFractionOfTheAverageRate) {
  read_pacer pacer(0.5);
  pacer.published(2000);  // over a stream from t=1000 to t=3000: 1 byte/ns
  EXPECT_EQ(pacer.allowance(3'000, 1'000, 3'000), 1000U);
  EXPECT_EQ(pacer.allowance(4'000, 1'000, 3'000), 1500U);  // half a byte per ns more
  EXPECT_EQ(pacer.allowance(5'000, 1'000, 3'000), 2000U);  // all of it: twice the stream's time
  EXPECT_EQ(pacer.allowance(7'000, 1'000, 3'000), 3000U);  // and on, for status lines
}

}  // namespace
}  // namespace followermaze
