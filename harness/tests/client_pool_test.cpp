#include "followermaze/client_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace followermaze {
namespace {

TEST(ClientPool, DropPointsAreSeededSortedAndInTheStream) {
  prng a(7);
  prng b(7);
  const auto first = drop_points(1000, 5, a);
  EXPECT_EQ(first, drop_points(1000, 5, b));  // the same seed, the same points
  ASSERT_EQ(first.size(), 5U);
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end()));
  for (const auto point : first) {
    EXPECT_GE(point, 1U);
    EXPECT_LE(point, 1000U);
  }
  prng c(7);
  EXPECT_EQ(drop_points(1, 3, c), (std::vector<std::uint64_t>{1, 1, 1}));
  EXPECT_TRUE(drop_points(0, 3, c).empty());  // no stream, no drop
}

TEST(ClientPool, BadClientGreetings) {
  EXPECT_EQ(bad_client_greeting(bad_client_kind::negative), "-42\r\n");
  EXPECT_EQ(bad_client_greeting(bad_client_kind::overlong).size(), 4096U);
  EXPECT_TRUE(bad_client_greeting(bad_client_kind::silent).empty());
}

}  // namespace
}  // namespace followermaze
