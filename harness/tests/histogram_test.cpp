#include "followermaze/latency_histogram.hpp"

#include <gtest/gtest.h>

namespace followermaze {
namespace {

TEST(Histogram, EmptyReportsZero) {
  latency_histogram h;
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.percentile(50), 0U);
  EXPECT_EQ(h.percentile(99), 0U);
  EXPECT_EQ(h.max(), 0U);
  EXPECT_EQ(h.min(), 0U);
}

TEST(Histogram, SmallValuesAreExact) {
  latency_histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100U);
  EXPECT_EQ(h.percentile(50), 50U);
  EXPECT_EQ(h.percentile(99), 99U);
  EXPECT_EQ(h.percentile(100), 100U);
  EXPECT_EQ(h.percentile(0), 1U);
  EXPECT_EQ(h.percentile(0.5), 1U);
  EXPECT_EQ(h.percentile(1), 1U);
  EXPECT_EQ(h.percentile(1.5), 2U);
  EXPECT_EQ(h.min(), 1U);
  EXPECT_EQ(h.max(), 100U);
}

TEST(Histogram, NearestRankOnASkewedDistribution) {
  latency_histogram h;
  for (int i = 0; i < 990; ++i) h.record(10);
  for (int i = 0; i < 10; ++i) h.record(100);
  EXPECT_EQ(h.percentile(50), 10U);
  EXPECT_EQ(h.percentile(99), 10U);    // rank 990 is still a 10
  EXPECT_EQ(h.percentile(99.1), 100U); // rank 991 is the first 100
  EXPECT_EQ(h.max(), 100U);
}

TEST(Histogram, BucketBoundaries) {
  EXPECT_EQ(latency_histogram::bucket_of(0), 0U);
  EXPECT_EQ(latency_histogram::bucket_of(127), 127U);
  EXPECT_EQ(latency_histogram::bucket_of(128), 128U);
  EXPECT_EQ(latency_histogram::bucket_of(255), 255U);
  EXPECT_EQ(latency_histogram::bucket_of(256), 256U);
  EXPECT_EQ(latency_histogram::bucket_of(257), 256U);
  EXPECT_EQ(latency_histogram::bucket_of(258), 257U);
  EXPECT_EQ(latency_histogram::bucket_of(~0ULL), latency_histogram::bucket_count - 1);
  EXPECT_EQ(latency_histogram::bucket_lowest(256), 256U);
  EXPECT_EQ(latency_histogram::bucket_highest(256), 257U);
  EXPECT_EQ(latency_histogram::bucket_highest(latency_histogram::bucket_count - 1), ~0ULL);
  // Every bucket's bounds map back to it, and buckets tile the range without gaps.
  for (std::size_t b = 0; b + 1 < latency_histogram::bucket_count; ++b) {
    ASSERT_EQ(latency_histogram::bucket_of(latency_histogram::bucket_lowest(b)), b);
    ASSERT_EQ(latency_histogram::bucket_of(latency_histogram::bucket_highest(b)), b);
    ASSERT_EQ(latency_histogram::bucket_highest(b) + 1, latency_histogram::bucket_lowest(b + 1));
  }
}

TEST(Histogram, LargeValuesReportTheirBucketsHighestValueCappedAtTheMax) {
  latency_histogram h;
  h.record(1'000'000);  // bucket [999424, 1003519]: 244 << 12 .. + 4095
  h.record(2'000'000);
  EXPECT_EQ(latency_histogram::bucket_lowest(latency_histogram::bucket_of(1'000'000)), 999'424U);
  EXPECT_EQ(h.percentile(50), 1'003'519U);
  EXPECT_EQ(h.percentile(99), 2'000'000U);  // capped: the exact max lies inside the bucket
  EXPECT_EQ(h.max(), 2'000'000U);
  EXPECT_EQ(h.min(), 1'000'000U);
}

TEST(Histogram, Merge) {
  latency_histogram a;
  latency_histogram b;
  a.record(5);
  b.record(7);
  b.record(9);
  a.merge(b);
  EXPECT_EQ(a.count(), 3U);
  EXPECT_EQ(a.percentile(50), 7U);
  EXPECT_EQ(a.min(), 5U);
  EXPECT_EQ(a.max(), 9U);
}

}  // namespace
}  // namespace followermaze
