// Retention in the running daemon: logRetentionBytes and logRetentionMs delete the oldest whole
// segments of the event log on disk, as the limits say. (tests/storage/retention_test.cpp
// checks the rule itself, a pure function; these check that the daemon applies it, with the
// limits its config gives.) What history then offers a resume is left to the tests of the
// history: here only the files on disk and a restart that still recovers.
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eventserver/storage/file_log.hpp"
#include "eventserver/storage/file_names.hpp"
#include "support/daemon.hpp"

namespace eventserver {
namespace {

namespace fs = std::filesystem;
using namespace test_support;

struct temp_dir : temp_directory {
  temp_dir() : temp_directory("eventserver-retention-test") {}
};

constexpr std::uint64_t segment_bytes = 1 << 20;  // the smallest logSegmentBytes

config with_log(const fs::path& dir) {
  config settings = test_config();
  settings.data_dir = dir.string();
  settings.log_fsync = storage::fsync_policy::interval;
  settings.log_segment_bytes = segment_bytes;
  settings.log_retention_bytes = 0;  // each test sets the limit it is about
  settings.log_retention = 0ms;
  settings.snapshot_every_events = 5000;  // retention keeps what recovery replays: snapshot often
  return settings;
}

// Private messages first..last of 64 bytes each: 16,000 a segment.
lines private_messages(sequence_number first, sequence_number last) {
  lines out;
  for (sequence_number seq = first; seq <= last; ++seq) {
    char line[80];
    std::snprintf(line, sizeof line, "%020" PRIu64 "|P|%020d|%020" PRIu64, seq, 1, seq % 1000);
    out.emplace_back(line);
  }
  return out;
}

// Sends the events and waits until the log holds them durably.
void write_events(test_daemon& d, sequence_number first, sequence_number last) {
  auto source = d.connect_source();
  source.send_lines(private_messages(first, last));
  source.send_lines({"durable?"});
  const std::string wanted = "durable|1|" + std::to_string(last);
  std::string line;
  while (line != wanted) {
    const auto got = source.read_lines(1);
    ASSERT_EQ(got.size(), 1u) << "no durable line for " << last << " within the wait bound; last: " << line;
    line = got.front();
  }
}

struct segment_file {
  fs::path path;
  std::uint64_t bytes;
};

// The segment files, oldest first (their names order them).
std::vector<segment_file> segments(const fs::path& dir) {
  std::vector<segment_file> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") out.push_back({entry.path(), entry.file_size()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path.filename() < b.path.filename(); });
  return out;
}

std::uint64_t total_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  for (const auto& segment : segments(dir)) total += segment.bytes;
  return total;
}

TEST(LogRetention, TheLogIsKeptUnderLogRetentionBytes) {
  temp_dir dir;
  config settings = with_log(dir.path());
  settings.log_retention_bytes = 3 * segment_bytes;
  constexpr sequence_number last = 120'000;  // ~7.7 MB of events: eight segments and more
  {
    test_daemon d(settings);
    write_events(d, 1, last);
    // Retention runs as segments roll and after each snapshot (on the log's own thread): wait
    // for its outcome. The last snapshot frees all but the active segment, so the log ends
    // within the limit plus the active segment at most.
    EXPECT_TRUE(wait_for([&] { return total_bytes(dir.path()) <= settings.log_retention_bytes + segment_bytes; }))
        << total_bytes(dir.path()) << " bytes of segments";
    EXPECT_GT(d.on_io([](server& s) { return s.snapshot().log.segments_deleted; }), 0u);
  }
  // The oldest whole segments went, their indexes with them; no more went than the limit asks
  // (the limit holds three segments, and retention stops once the log is within it).
  const auto left = segments(dir.path());
  ASSERT_GE(left.size(), 2u) << "retention deleted more than the limit asks";
  EXPECT_FALSE(fs::exists(dir.path() / storage::segment_file_name(1, 1))) << "the first segment is still there";
  EXPECT_GE(total_bytes(dir.path()) + segment_bytes, settings.log_retention_bytes);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().extension() != ".idx") continue;
    EXPECT_TRUE(fs::exists(fs::path(entry.path()).replace_extension(".log"))) << entry.path() << " outlived its segment";
  }

  // A restart over what retention left recovers where the stream stood.
  test_daemon d(settings);
  EXPECT_EQ(d.on_io([](server& s) { return s.dispatch().sequence().next_expected(); }), last + 1);
}

// Age: the segments of a first run are made ten minutes old on disk (their mtime), then a
// second daemon starts over the directory with the limit under test and writes past one
// snapshot; retention runs after the snapshot, before its log line.
class LogRetentionAge : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    written_ = new temp_dir;
    test_daemon d(with_log(written_->path()));
    write_events(d, 1, 40'000);  // three segments
    d.stop();
    const auto ten_minutes_ago = fs::file_time_type::clock::now() - std::chrono::minutes(10);
    for (const auto& segment : segments(written_->path())) fs::last_write_time(segment.path, ten_minutes_ago);
  }
  static void TearDownTestSuite() {
    delete written_;
    written_ = nullptr;
  }

  // The aged segments still on disk after a second run with logRetentionMs `limit`.
  std::vector<fs::path> aged_left_after_a_run_with(std::chrono::milliseconds limit) {
    const temp_dir copy;
    fs::copy(written_->path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    std::vector<fs::path> aged;
    for (const auto& segment : segments(copy.path())) aged.push_back(segment.path);
    // fs::copy does not keep times: age the copies again.
    const auto ten_minutes_ago = fs::file_time_type::clock::now() - std::chrono::minutes(10);
    for (const auto& path : aged) fs::last_write_time(path, ten_minutes_ago);
    EXPECT_GE(aged.size(), 3u);

    config settings = with_log(copy.path());
    settings.log_retention = limit;
    test_daemon d(settings);
    write_events(d, 40'001, 46'000);  // past the snapshot at 45,000
    EXPECT_TRUE(wait_for([&] { return d.logs().contains("event log: snapshot "); })) << d.logs().dump();
    std::vector<fs::path> left;
    for (const auto& path : aged) {
      if (fs::exists(path)) left.push_back(path);
    }
    d.stop();
    return left;
  }

  static temp_dir* written_;
};
temp_dir* LogRetentionAge::written_ = nullptr;

TEST_F(LogRetentionAge, SegmentsOlderThanLogRetentionMsAreDeleted) {
  // A minute: the ten-minute-old segments go, all but the one the daemon may still write to.
  const auto left = aged_left_after_a_run_with(std::chrono::minutes(1));
  EXPECT_LE(left.size(), 1u);
}

TEST_F(LogRetentionAge, SegmentsYoungerThanLogRetentionMsAreKept) {
  // An hour: nothing is old enough.
  EXPECT_GE(aged_left_after_a_run_with(std::chrono::hours(1)).size(), 3u);
}

TEST_F(LogRetentionAge, ASubSecondLimitIsHonouredToo) {
  // 500 ms is a limit like any other (not "no limit" once rounded down to whole seconds).
  EXPECT_LE(aged_left_after_a_run_with(500ms).size(), 1u);
}

}  // namespace
}  // namespace eventserver
