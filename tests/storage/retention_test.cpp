#include "eventserver/storage/retention.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace eventserver::storage {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

const clock_type::time_point now = clock_type::time_point(1'700'000'000s);

segment_info segment(stream_epoch epoch, sequence_number first, sequence_number last, std::uint64_t bytes,
                     std::chrono::seconds age) {
  segment_info info;
  info.epoch = epoch;
  info.first_seq = first;
  info.last_seq = last;
  info.bytes = bytes;
  info.mtime = now - age;
  return info;
}

// Epoch 1: four segments of 100 bytes, hours old; epoch 2: three, the last active.
std::vector<segment_info> log_of_two_epochs() {
  return {
      segment(1, 1, 100, 100, 10h),    segment(1, 101, 200, 100, 9h), segment(1, 201, 300, 100, 8h),
      segment(1, 301, 400, 100, 7h),   segment(2, 1, 50, 100, 3h),    segment(2, 51, 90, 100, 2h),
      segment(2, 91, 95, 100, 0h),
  };
}

constexpr log_position keep_nothing_back{2, 95};  // the newest snapshot covers everything but the last

TEST(Retention, OffDeletesNothing) {
  const auto segments = log_of_two_epochs();
  EXPECT_EQ(segments_to_delete(segments, {}, now, keep_nothing_back), 0u);
}

TEST(Retention, BySizeOldestFirstUntilUnderTheLimit) {
  const auto segments = log_of_two_epochs();  // 700 bytes
  EXPECT_EQ(segments_to_delete(segments, {700, 0s}, now, keep_nothing_back), 0u);
  EXPECT_EQ(segments_to_delete(segments, {699, 0s}, now, keep_nothing_back), 1u);
  EXPECT_EQ(segments_to_delete(segments, {450, 0s}, now, keep_nothing_back), 3u);
  EXPECT_EQ(segments_to_delete(segments, {1, 0s}, now, keep_nothing_back), 6u);  // never the active one
}

TEST(Retention, ByAge) {
  const auto segments = log_of_two_epochs();
  EXPECT_EQ(segments_to_delete(segments, {0, 11h}, now, keep_nothing_back), 0u);
  EXPECT_EQ(segments_to_delete(segments, {0, 10h}, now, keep_nothing_back), 0u);  // exactly the age: kept
  EXPECT_EQ(segments_to_delete(segments, {0, 8h + 30min}, now, keep_nothing_back), 2u);
  EXPECT_EQ(segments_to_delete(segments, {0, 1s}, now, keep_nothing_back), 6u);
}

TEST(Retention, EitherLimitSuffices) {
  const auto segments = log_of_two_epochs();
  EXPECT_EQ(segments_to_delete(segments, {650, 8h + 30min}, now, keep_nothing_back), 2u);  // age: 2, size: 1
  EXPECT_EQ(segments_to_delete(segments, {350, 8h + 30min}, now, keep_nothing_back), 4u);  // size: 4, age: 2
}

TEST(Retention, OnlyAPrefix) {
  // The second segment is older than the first (an mtime touched by hand): deletion still
  // stops at the first segment that may stay, so history has no hole.
  auto segments = log_of_two_epochs();
  segments[0].mtime = now - 1h;
  EXPECT_EQ(segments_to_delete(segments, {0, 5h}, now, keep_nothing_back), 0u);
}

TEST(Retention, KeepsWhatRecoveryNeeds) {
  const auto segments = log_of_two_epochs();
  const retention_policy everything{1, 0s};
  // The newest snapshot is at epoch 1, seq 250: replay needs 251 on, in the third segment.
  EXPECT_EQ(segments_to_delete(segments, everything, now, {1, 251}), 2u);
  EXPECT_EQ(segments_to_delete(segments, everything, now, {1, 201}), 2u);
  EXPECT_EQ(segments_to_delete(segments, everything, now, {1, 200}), 1u);
  EXPECT_EQ(segments_to_delete(segments, everything, now, {1, 1}), 0u);
  // No snapshot in epoch 2: all of epoch 2 is needed, epoch 1 is not.
  EXPECT_EQ(segments_to_delete(segments, everything, now, {2, 1}), 4u);
  EXPECT_EQ(segments_to_delete(segments, everything, now, {2, 51}), 5u);
  // A position past every segment's epoch protects none (the active one stays all the same);
  // one before every epoch protects all of them.
  EXPECT_EQ(segments_to_delete(segments, everything, now, {3, 1}), 6u);
  EXPECT_EQ(segments_to_delete(segments, everything, now, {0, 0}), 0u);
}

TEST(Retention, NeverTheOnlySegment) {
  const std::vector<segment_info> one{segment(1, 1, 1000, 1 << 30, 1000h)};
  EXPECT_EQ(segments_to_delete(one, {1, 1s}, now, {5, 1}), 0u);
  EXPECT_EQ(segments_to_delete({}, {1, 1s}, now, {5, 1}), 0u);
}

TEST(Retention, EmptySegmentsCountAsHoldingNothing) {
  // An empty active-looking segment before the last (left by a crash before start-up removed it).
  const std::vector<segment_info> segments{segment(1, 1, 0, 0, 5h), segment(1, 1, 10, 100, 1h)};
  EXPECT_EQ(segments_to_delete(segments, {0, 2h}, now, {1, 1}), 1u);
}

}  // namespace
}  // namespace eventserver::storage
