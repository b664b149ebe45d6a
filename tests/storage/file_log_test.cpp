// The file backend under retention, through the daemon's own pipeline: what it tells history
// readers (view()) must be what the directory holds, after any number of deletions, and the
// snapshots it keeps must be the ones a resume can start from.
#include "eventserver/storage/file_log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "eventserver/storage/directory_listing.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using namespace std::chrono_literals;
using testing::temp_dir;

// Counts the batches the log reports durable; the test thread hands them to the pipeline.
class reports {
 public:
  file_log::notify callback() {
    return [this](file_log_report report) {
      std::lock_guard lock(mutex_);
      durable_ += report.durable;
      if (report.snapshot) ++snapshots_;
      changed_.notify_all();
    };
  }
  // Waits for `batches` more durable batches; returns false at the bound (a hang is a failure).
  bool take(std::size_t batches) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, 10s, [&] { return durable_ >= batches; })) return false;
    durable_ -= batches;
    return true;
  }
  bool snapshots(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return snapshots_ >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t durable_ = 0;
  std::size_t snapshots_ = 0;
};

std::vector<std::string> names(const std::vector<segment_info>& segments) {
  std::vector<std::string> out;
  for (const auto& segment : segments) out.push_back(segment.name);
  return out;
}

std::vector<std::string> names_on_disk(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& file : list_directory(dir).segments) out.push_back(file.name);
  return out;
}

// Many rolls and deletions, one batch a round: a round that rolls one segment and deletes one
// left the segment count unchanged, and the list history readers were given went stale (it
// named deleted segments and missed new ones): resumes inside the kept log were refused.
TEST(FileLog, TheViewFollowsEveryRollAndDeletion) {
  temp_dir dir;
  log_options options;
  options.dir = dir.path();
  options.segment_bytes = 1;  // a segment a batch: every round rolls
  file_log_settings settings;
  settings.fsync = fsync_policy::never;
  settings.retention.retention_bytes = 450;  // about four batches
  reports reported;
  file_log log(log_directory::open(options), settings, reported.callback());
  log_pipeline pipeline(log, {256, 4}, {1, 0});

  std::string line(64, '\0');  // a line and the slack the pipeline may read past it
  std::size_t snapshots = 0;
  for (sequence_number seq = 1; seq <= 1500; ++seq) {
    const std::string text = std::to_string(seq) + "|B\r\n";
    line.replace(0, text.size(), text);
    pipeline.append(event{seq, event_type::broadcast, 0, 0}, std::string_view(line.data(), text.size()));
    if (seq % 10 != 0) continue;
    pipeline.commit();
    while (pipeline.waiting() != 0) {
      ASSERT_TRUE(reported.take(1)) << "at " << seq;
      pipeline.durable([](const log_batch&) {});
    }
    if (seq % 10 == 0) {  // retention keeps what recovery needs: the newest snapshot's next number
      snapshot_encoder encoder(1, seq);
      encoder.finish();
      log.snapshot_begin(1, seq);
      log.snapshot_finish(encoder.take_output());
      ASSERT_TRUE(reported.snapshots(++snapshots));
    }
  }
  ASSERT_TRUE(log.stop(std::chrono::steady_clock::now() + 10s));

  const log_view view = log.view();
  EXPECT_GT(log.status().segments_deleted, 10u);
  EXPECT_EQ(names(view.segments), names_on_disk(dir.path()));
  ASSERT_FALSE(view.segments.empty());
  EXPECT_GT(view.segments.front().first_seq, 1u);
  EXPECT_EQ(view.segments.back().last_seq, 1500u);

  // Snapshots: exactly the ones on disk, each one a base the log reaches (the newest always).
  std::vector<sequence_number> kept;
  for (const auto& snapshot : view.snapshots) kept.push_back(snapshot.seq);
  std::sort(kept.begin(), kept.end());
  std::vector<sequence_number> on_disk;
  for (const auto& snapshot : list_snapshots(dir.path())) on_disk.push_back(snapshot.seq);
  std::sort(on_disk.begin(), on_disk.end());
  EXPECT_EQ(kept, on_disk);
  ASSERT_FALSE(kept.empty());
  EXPECT_LT(kept.size(), snapshots);  // those the log no longer reaches were deleted
  EXPECT_EQ(kept.back(), 1500u);
  for (const sequence_number seq : kept) EXPECT_GE(seq + 1, view.segments.front().first_seq) << seq;
  // A resume is exact from the oldest of them on.
  EXPECT_EQ(resumable_from(view, 1), kept.front() + 1);
}

}  // namespace
}  // namespace eventserver::storage

namespace eventserver::storage {
namespace {

// Damage a history reader met after start-up joins the view once, moves where resumes can
// start, and goes with its segment.
TEST(FileLog, DamageFoundSinceStartUpJoinsTheViewOnce) {
  temp_dir dir;
  log_options options;
  options.dir = dir.path();
  options.segment_bytes = 300;
  {
    log_directory log = log_directory::open(options);
    for (sequence_number first = 1; first <= 100; first += 10) ASSERT_FALSE(log.append(1, testing::events_batch(first, 10)));
  }
  file_log log(log_directory::open(options), {}, [](file_log_report) {});
  const log_view before = log.view();
  ASSERT_GE(before.segments.size(), 3u);
  EXPECT_EQ(resumable_from(before, 1), 1u);
  const segment_info& second = before.segments[1];
  damaged_range range;
  range.epoch = 1;
  range.first_lost = second.first_seq + 3;
  range.last_lost = second.last_seq;
  range.file = second.name;
  EXPECT_TRUE(log.note_damage(range));
  EXPECT_FALSE(log.note_damage(range));  // known already
  const log_view after = log.view();
  ASSERT_EQ(after.damage.size(), 1u);
  EXPECT_EQ(log.status().damaged_ranges, 1u);
  EXPECT_EQ(log.status().damaged_numbers, second.last_seq - second.first_seq - 2);
  // No base after it (no snapshot): no resume is exact any more.
  EXPECT_FALSE(resumable_from(after, 1).has_value());
}

}  // namespace
}  // namespace eventserver::storage
