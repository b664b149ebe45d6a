// Where history for a resume begins (resumable_from) and which snapshots still serve as a base
// (snapshots_to_prune): pure functions of the segment list, the snapshots and the damage.
#include "eventserver/storage/log_view.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace eventserver::storage {
namespace {

segment_info segment(stream_epoch epoch, sequence_number first, sequence_number last) {
  segment_info info;
  info.epoch = epoch;
  info.first_seq = first;
  info.last_seq = last;
  return info;
}

damaged_range damage(stream_epoch epoch, sequence_number first, sequence_number last) {
  damaged_range range;
  range.epoch = epoch;
  range.first_lost = first;
  range.last_lost = last;
  return range;
}

TEST(ResumableFrom, TheEpochsStartWhileTheLogHoldsIt) {
  log_view view({segment(1, 1, 100), segment(1, 101, 200)});
  EXPECT_EQ(resumable_from(view, 1), 1u);
  view.snapshots = {{1, 150}};
  EXPECT_EQ(resumable_from(view, 1), 1u);
  EXPECT_FALSE(resumable_from(view, 2).has_value());
}

TEST(ResumableFrom, AfterRetentionTheOldestSnapshotTheLogStillReaches) {
  log_view view({segment(1, 101, 200), segment(1, 201, 300)});
  EXPECT_FALSE(resumable_from(view, 1).has_value());  // no base at all
  view.snapshots = {{1, 250}, {1, 99}, {1, 100}, {1, 160}};
  // 99: its next number (100) is gone. 100: the log holds 101, so a resume after 100 is exact.
  EXPECT_EQ(resumable_from(view, 1), 101u);
  view.snapshots = {{1, 250}, {1, 160}, {2, 120}, {1, 301}};
  EXPECT_EQ(resumable_from(view, 1), 161u);  // 301 is past the log's end; 120 is another epoch's
}

TEST(ResumableFrom, DamageMovesItPastTheDamage) {
  log_view view({segment(1, 1, 100), segment(1, 101, 200), segment(1, 201, 300)});
  view.snapshots = {{1, 50}, {1, 150}, {1, 250}};
  view.damage = {damage(1, 120, 130)};
  EXPECT_EQ(resumable_from(view, 1), 151u);  // the start and 50 are before the damage
  view.damage = {damage(1, 120, 130), damage(1, 140, 150)};
  EXPECT_EQ(resumable_from(view, 1), 151u);  // a base right at the damage's end is enough
  view.damage = {damage(1, 120, 0)};          // an end unknown: nothing after it is safe
  EXPECT_FALSE(resumable_from(view, 1).has_value());
  view.damage = {damage(2, 120, 130)};        // another epoch's damage is not this one's
  EXPECT_EQ(resumable_from(view, 1), 1u);
}

TEST(SnapshotsToPrune, KeepsEveryBaseAndTheNewest) {
  const std::vector<snapshot_mark> snapshots = {{1, 99}, {1, 100}, {1, 160}, {1, 250}, {2, 10}, {2, 20}};
  // Epoch 2 is current: epoch 1's snapshots serve nobody.
  std::vector<segment_info> segments = {segment(1, 101, 300), segment(2, 1, 50)};
  EXPECT_EQ(snapshots_to_prune(snapshots, segments), (std::vector<std::size_t>{0, 1, 2, 3}));
  // Epoch 1 current, its start deleted: 99's next number is gone.
  segments = {segment(1, 101, 300)};
  const std::vector<snapshot_mark> one = {{1, 250}, {1, 99}, {1, 100}, {1, 160}};
  EXPECT_EQ(snapshots_to_prune(one, segments), (std::vector<std::size_t>{1}));
  // The newest stays even when nothing reaches it (retention never deletes past it).
  EXPECT_EQ(snapshots_to_prune(std::vector<snapshot_mark>{{1, 50}}, segments), std::vector<std::size_t>{});
  EXPECT_EQ(snapshots_to_prune({}, segments), std::vector<std::size_t>{});
}

}  // namespace
}  // namespace eventserver::storage
