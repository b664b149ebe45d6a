#include "eventserver/storage/log_directory.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/segment_index.hpp"
#include "eventserver/storage/segment_scan.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"
#include "eventserver/storage/snapshot_file.hpp"
#include "eventserver/storage/storage_error.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using testing::events_batch;
using testing::temp_dir;

log_options options_for(const temp_dir& dir, std::uint64_t segment_bytes = std::uint64_t{64} << 20) {
  log_options options;
  options.dir = dir.path();
  options.segment_bytes = segment_bytes;
  return options;
}

// Appends `batches` batches of `per_batch` events continuing `epoch`; returns the offsets in
// the active segment at which each batch began.
std::vector<std::uint64_t> append_events(log_directory& log, stream_epoch epoch, int batches, std::uint32_t per_batch) {
  std::vector<std::uint64_t> offsets;
  for (int i = 0; i < batches; ++i) {
    const sequence_number first = log.current_epoch() == epoch ? log.last_seq() + 1 : 1;
    const auto batch = events_batch(first, per_batch);
    EXPECT_FALSE(log.append(epoch, batch)) << "batch " << i;
    offsets.push_back(log.segments().back().bytes - batch.size());
  }
  return offsets;
}

std::string open_error(const log_options& options) {
  try {
    log_directory::open(options);
  } catch (const storage_error& e) {
    return e.what();
  }
  return "(opened)";
}

std::vector<recovery_action> actions(const log_directory& log) {
  std::vector<recovery_action> result;
  for (const auto& note : log.notes()) result.push_back(note.action);
  return result;
}

TEST(LogDirectory, MissingDirectoryIsCreatedOnlyWhenAsked) {
  temp_dir dir;
  log_options options;
  options.dir = dir.file("data/log");
  EXPECT_EQ(open_error(options), "data directory " + options.dir + " does not exist");
  options.create_if_missing = true;
  const log_directory log = log_directory::open(options);
  EXPECT_TRUE(std::filesystem::is_directory(options.dir));
  EXPECT_TRUE(std::filesystem::exists(options.dir + "/LOCK"));
  EXPECT_TRUE(log.segments().empty());
  EXPECT_EQ(log.current_epoch(), 0u);
  EXPECT_EQ(log.last_seq(), 0u);
}

TEST(LogDirectory, RefusesAFileAsDirectory) {
  temp_dir dir;
  testing::write_file(dir.file("plain"), "x");
  log_options options;
  options.dir = dir.file("plain");
  EXPECT_EQ(open_error(options), "data directory " + options.dir + " is not a directory");
}

TEST(LogDirectory, RefusesAnUnwritableDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  temp_dir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  EXPECT_EQ(open_error(options_for(dir)), "cannot open " + dir.file("LOCK") +
                                              ": Permission denied (the data directory must be writable by the "
                                              "daemon's user)");
}

// Where even root cannot create a file (sysfs): the same message.
TEST(LogDirectory, RefusesADirectoryWhereNoFileCanBeCreated) {
  if (!std::filesystem::is_directory("/sys/kernel")) GTEST_SKIP() << "no sysfs";
  log_options options;
  options.dir = "/sys/kernel";
  const std::string error = open_error(options);
  EXPECT_EQ(error.rfind("cannot open /sys/kernel/LOCK: ", 0), 0u) << error;
  EXPECT_NE(error.find("(the data directory must be writable by the daemon's user)"), std::string::npos) << error;
}

TEST(LogDirectory, LockHeldTwiceIsRefused) {
  temp_dir dir;
  auto options = options_for(dir);
  {
    const log_directory first = log_directory::open(options);
    EXPECT_EQ(open_error(options), "data directory " + dir.path().string() + " is in use: another eventserver (pid " +
                                       std::to_string(::getpid()) + ") holds " + dir.file("LOCK") +
                                       "; stop it or give this one another data directory");
  }
  EXPECT_NO_THROW(log_directory::open(options));  // released with the first
}

TEST(LogDirectory, FirstAppendCreatesTheFirstSegment) {
  temp_dir dir;
  log_directory log = log_directory::open(options_for(dir));
  ASSERT_FALSE(log.append(1, events_batch(1, 5)));
  ASSERT_EQ(log.segments().size(), 1u);
  EXPECT_EQ(log.segments()[0].name, segment_file_name(1, 1));
  EXPECT_EQ(log.segments()[0].last_seq, 5u);
  EXPECT_EQ(log.current_epoch(), 1u);
  EXPECT_EQ(log.last_seq(), 5u);
  EXPECT_TRUE(std::filesystem::exists(dir.file(segment_file_name(1, 1))));
  EXPECT_TRUE(std::filesystem::exists(dir.file(index_file_name(1, 1))));
}

TEST(LogDirectory, RefusesBatchesThatDoNotContinueTheLog) {
  temp_dir dir;
  log_directory log = log_directory::open(options_for(dir));
  ASSERT_FALSE(log.append(2, events_batch(1, 5)));
  EXPECT_EQ(log.append(2, events_batch(7, 1)), std::errc::invalid_argument);
  EXPECT_EQ(log.append(2, events_batch(5, 1)), std::errc::invalid_argument);
  EXPECT_EQ(log.append(1, events_batch(6, 1)), std::errc::invalid_argument);  // an older epoch
  EXPECT_EQ(log.append(0, events_batch(6, 1)), std::errc::invalid_argument);
  EXPECT_EQ(log.last_seq(), 5u);
}

TEST(LogDirectory, RollsBySizeAndReopensWhereItStood) {
  temp_dir dir;
  std::vector<segment_info> before;
  {
    log_directory log = log_directory::open(options_for(dir, 1000));
    append_events(log, 1, 60, 5);
    before = log.segments();
  }
  ASSERT_GE(before.size(), 4u);
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].name, segment_file_name(1, before[i].first_seq));
    EXPECT_EQ(before[i].bytes, testing::size_of(dir.file(before[i].name)));
    if (i > 0) {
      EXPECT_EQ(before[i].first_seq, before[i - 1].last_seq + 1);
    }
    if (i + 1 < before.size()) {
      EXPECT_GE(before[i].bytes, 1000u);  // rolled once it reached the size
    }
  }
  EXPECT_EQ(before.front().first_seq, 1u);
  EXPECT_EQ(before.back().last_seq, 300u);

  log_directory log = log_directory::open(options_for(dir, 1000));
  EXPECT_TRUE(log.notes().empty());
  ASSERT_EQ(log.segments().size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(log.segments()[i].name, before[i].name);
    EXPECT_EQ(log.segments()[i].first_seq, before[i].first_seq);
    EXPECT_EQ(log.segments()[i].last_seq, before[i].last_seq);
    EXPECT_EQ(log.segments()[i].bytes, before[i].bytes);
  }
  EXPECT_EQ(log.last_seq(), 300u);
  ASSERT_FALSE(log.append(1, events_batch(301, 2)));
  EXPECT_EQ(log.last_seq(), 302u);
}

TEST(LogDirectory, ANewEpochBeginsANewSegment) {
  temp_dir dir;
  {
    log_directory log = log_directory::open(options_for(dir));
    append_events(log, 1, 4, 5);
    append_events(log, 2, 2, 5);
    ASSERT_EQ(log.segments().size(), 2u);
    EXPECT_EQ(log.segments()[1].name, segment_file_name(2, 1));
  }
  const log_directory log = log_directory::open(options_for(dir));
  const auto epochs = log.epochs();
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].epoch, 1u);
  EXPECT_EQ(epochs[0].first_seq, 1u);
  EXPECT_EQ(epochs[0].last_seq, 20u);
  EXPECT_EQ(epochs[1].epoch, 2u);
  EXPECT_EQ(epochs[1].first_seq, 1u);
  EXPECT_EQ(epochs[1].last_seq, 10u);
  EXPECT_EQ(log.current_epoch(), 2u);
  EXPECT_EQ(log.last_seq(), 10u);
  EXPECT_EQ(log.epoch(1)->last_seq, 20u);
  EXPECT_FALSE(log.epoch(3).has_value());
}

// The daemon died at every possible byte of its last batch: start-up cuts back to the batch
// before, says what it cut, and appends from there.
TEST(LogDirectory, EveryTornTailOffsetOfTheLastRecord) {
  temp_dir dir;
  std::uint64_t last_start = 0;
  {
    log_directory log = log_directory::open(options_for(dir, 100));
    append_events(log, 1, 8, 3);  // a few sealed segments first
  }
  {
    log_directory log = log_directory::open(options_for(dir));
    last_start = append_events(log, 1, 4, 6).back();  // then 4 batches of 6 in the active one
    EXPECT_EQ(log.last_seq(), 48u);
  }
  const std::string active = dir.file(list_directory(dir.path()).segments.back().name);
  const std::string whole = testing::read_file(active);
  const std::string index = testing::read_file(index_path_for(active));
  for (std::uint64_t cut = last_start + 1; cut < whole.size(); ++cut) {
    testing::write_file(active, std::string_view(whole).substr(0, cut));
    testing::write_file(index_path_for(active), index);
    log_directory log = log_directory::open(options_for(dir));
    ASSERT_EQ(log.notes().size(), 1u) << cut;
    const recovery_note& note = log.notes()[0];
    EXPECT_EQ(note.action, recovery_action::cut_torn_tail) << cut;
    EXPECT_EQ(note.offset, last_start) << cut;
    EXPECT_EQ(note.bytes, cut - last_start) << cut;
    EXPECT_EQ(note.first_lost, 43u) << cut;
    EXPECT_EQ(note.last_lost, cut - last_start >= 24 ? 48u : 0u) << cut;
    EXPECT_EQ(log.last_seq(), 42u) << cut;
    EXPECT_EQ(testing::size_of(active), last_start) << cut;
    ASSERT_FALSE(log.append(1, events_batch(43, 2))) << cut;
    EXPECT_EQ(log.last_seq(), 44u);
  }
  // The note reads well in the daemon's log.
  testing::write_file(active, std::string_view(whole).substr(0, last_start + 30));
  const log_directory log = log_directory::open(options_for(dir));
  EXPECT_EQ(log.notes()[0].describe(),
            std::filesystem::path(active).filename().string() +
                " ended in a torn write (body runs past the end of the file): cut 30 bytes at offset " +
                std::to_string(last_start) + ", sequence numbers 43..48 lost");
}

TEST(LogDirectory, DamageInTheMiddleIsReadPastAndKeptUnlessRepairing) {
  temp_dir dir;
  std::vector<std::uint64_t> offsets;
  {
    log_directory log = log_directory::open(options_for(dir));
    offsets = append_events(log, 1, 6, 5);
  }
  const std::string path = dir.file(segment_file_name(1, 1));
  const std::uint64_t size = testing::size_of(path);
  testing::flip_bit(path, offsets[2] + 40);
  {
    // Start-up reads past it: the batch's numbers are a damaged range, the file is untouched,
    // and what follows the damage is still the log (appends continue at its end).
    log_directory log = log_directory::open(options_for(dir));
    ASSERT_EQ(actions(log), std::vector<recovery_action>{recovery_action::kept_damage});
    EXPECT_EQ(log.notes()[0].describe(),
              segment_file_name(1, 1) + " is damaged at byte offset " + std::to_string(offsets[2]) +
                  " (checksum mismatch, " + std::to_string(offsets[3] - offsets[2]) +
                  " bytes): sequence numbers 11..15 lost; history reads past it, and a resume across it is told it "
                  "is incomplete");
    ASSERT_EQ(log.damage().size(), 1u);
    const damaged_range& range = log.damage()[0];
    EXPECT_EQ(range.epoch, 1u);
    EXPECT_EQ(range.first_lost, 11u);
    EXPECT_EQ(range.last_lost, 15u);
    EXPECT_EQ(range.file, segment_file_name(1, 1));
    EXPECT_EQ(range.offset, offsets[2]);
    EXPECT_EQ(range.bytes, offsets[3] - offsets[2]);
    EXPECT_EQ(log.last_seq(), 30u);
    EXPECT_EQ(testing::size_of(path), size);
    // The index has an entry where the valid batches start again, on disk at once (readers on
    // other threads seek with it while the log is open): a reader seeking past the damage
    // starts there instead of scanning into it.
    const auto entry = search_index(index_path_for(path), 16);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->first_seq, 16u);
    EXPECT_EQ(entry->offset, offsets[3]);
    ASSERT_FALSE(log.append(1, events_batch(31, 1)));
  }

  auto options = options_for(dir);
  options.repair = true;
  log_directory log = log_directory::open(options);
  ASSERT_EQ(actions(log), std::vector<recovery_action>{recovery_action::cut_damage});
  const recovery_note& note = log.notes()[0];
  EXPECT_EQ(note.file, segment_file_name(1, 1));
  EXPECT_EQ(note.offset, offsets[2]);
  EXPECT_EQ(note.first_lost, 11u);
  EXPECT_EQ(note.reason, "checksum mismatch");
  EXPECT_EQ(log.last_seq(), 10u);
  EXPECT_EQ(testing::size_of(path), offsets[2]);
  EXPECT_TRUE(log.damage().empty());
  ASSERT_FALSE(log.append(1, events_batch(11, 1)));
}

// Two epochs in segments of 600 bytes (several of epoch 1, then epoch 2); their list.
std::vector<segment_info> write_two_epochs(const temp_dir& dir) {
  log_directory log = log_directory::open(options_for(dir, 600));
  append_events(log, 1, 30, 4);
  append_events(log, 2, 3, 4);
  return log.segments();
}

TEST(LogDirectory, ASealedSegmentsDamagedEndLosesTheNumbersUpToTheNext) {
  temp_dir dir;
  const std::vector<segment_info> segments = write_two_epochs(dir);
  ASSERT_GE(segments.size(), 4u);
  // The last batch of epoch 1's first segment: no valid batch follows it in its file.
  const std::string first = dir.file(segments[0].name);
  const std::uint64_t first_size = testing::size_of(first);
  testing::flip_bit(first, first_size - 5);
  {
    log_directory log = log_directory::open(options_for(dir, 600));
    ASSERT_EQ(log.damage().size(), 1u);
    const damaged_range& range = log.damage()[0];
    EXPECT_EQ(range.file, segments[0].name);
    EXPECT_EQ(range.first_lost, segments[0].last_seq - 3);
    EXPECT_EQ(range.last_lost, segments[0].last_seq);  // up to the next segment's first number
    EXPECT_EQ(log.segments().size(), segments.size());
    sequence_number epoch_one_end = 0;
    for (const auto& segment : segments) {
      if (segment.epoch == 1) epoch_one_end = segment.last_seq;
    }
    EXPECT_EQ(log.epochs()[0].last_seq, epoch_one_end);
    EXPECT_EQ(testing::size_of(first), first_size);
    // Retention deleting that segment takes its damage with it.
    ASSERT_FALSE(log.remove_oldest(1));
    EXPECT_TRUE(log.damage().empty());
  }
}

TEST(LogDirectory, RepairOfASealedSegmentSetsTheRestOfItsEpochAside) {
  temp_dir dir;
  const std::vector<segment_info> segments = write_two_epochs(dir);
  ASSERT_GE(segments.size(), 4u);
  const std::string first = dir.file(segments[0].name);
  testing::flip_bit(first, testing::size_of(first) - 5);
  auto options = options_for(dir, 600);
  options.repair = true;
  log_directory log = log_directory::open(options);
  ASSERT_GE(log.notes().size(), 2u);
  EXPECT_EQ(log.notes()[0].action, recovery_action::cut_damage);
  EXPECT_EQ(log.notes()[0].file, segments[0].name);
  std::vector<std::string> set_aside;
  for (const auto& note : log.notes()) {
    if (note.action == recovery_action::set_aside) set_aside.push_back(note.file);
  }
  std::vector<std::string> expected_aside;
  for (const auto& segment : segments) {
    if (segment.epoch == 1 && segment.name != segments[0].name) expected_aside.push_back(segment.name);
  }
  EXPECT_EQ(set_aside, expected_aside);
  for (const auto& name : expected_aside) {
    EXPECT_FALSE(std::filesystem::exists(dir.file(name))) << name;
    EXPECT_TRUE(std::filesystem::exists(dir.file(name + ".damaged"))) << name;
  }
  const auto epochs = log.epochs();
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].last_seq, segments[0].last_seq - 4);  // the damaged batch cut off
  EXPECT_EQ(epochs[1].last_seq, 12u);                       // epoch 2 untouched
}

// What a machine crash under logFsync interval or never leaves (the snapshot synced, the log
// tail not), or a repair's cut: snapshots of numbers the log no longer has.
TEST(LogDirectory, SnapshotsPastTheEndOfTheLogAreSetAside) {
  temp_dir dir;
  {
    log_directory log = log_directory::open(options_for(dir));
    append_events(log, 1, 6, 5);
  }
  const auto write_snapshot = [&](stream_epoch epoch, sequence_number seq) {
    snapshot_encoder encoder(epoch, seq);
    encoder.finish();
    snapshot_file_writer writer;
    ASSERT_FALSE(writer.open(dir.path(), epoch, seq));
    ASSERT_FALSE(writer.finish(encoder.take_output()));
  };
  write_snapshot(1, 20);
  write_snapshot(1, 30);
  write_snapshot(1, 31);
  write_snapshot(2, 5);
  log_directory log = log_directory::open(options_for(dir));
  std::vector<std::string> aside;
  for (const auto& note : log.notes()) {
    if (note.action == recovery_action::set_aside_snapshot) aside.push_back(note.file);
  }
  EXPECT_EQ(aside, (std::vector<std::string>{snapshot_file_name(2, 5), snapshot_file_name(1, 31)}));
  EXPECT_EQ(log.notes().back().describe(), "renamed " + snapshot_file_name(1, 31) + " to " +
                                               snapshot_file_name(1, 31) +
                                               ".damaged: a snapshot of sequence number 31 of epoch 1, but the log "
                                               "ends at sequence number 30 of epoch 1");
  for (const auto& name : aside) {
    EXPECT_FALSE(std::filesystem::exists(dir.file(name))) << name;
    EXPECT_TRUE(std::filesystem::exists(dir.file(name + ".damaged"))) << name;
  }
  ASSERT_EQ(log.snapshots_at_open().size(), 2u);
  EXPECT_EQ(log.snapshots_at_open()[0].seq, 30u);
  EXPECT_EQ(log.snapshots_at_open()[1].seq, 20u);
}

TEST(LogDirectory, MissingSegmentIsAnErrorNamingTheFileExpected) {
  temp_dir dir;
  std::vector<segment_info> segments;
  {
    log_directory log = log_directory::open(options_for(dir, 400));
    append_events(log, 1, 40, 4);
    segments = log.segments();
  }
  ASSERT_GE(segments.size(), 4u);
  ASSERT_EQ(::unlink(dir.file(segments[1].name).c_str()), 0);
  EXPECT_EQ(open_error(options_for(dir, 400)),
            "data directory " + dir.path().string() + ": missing segment " + segment_file_name(1, segments[1].first_seq) +
                " (sequence numbers " + std::to_string(segments[1].first_seq) + ".." +
                std::to_string(segments[1].last_seq) + " of epoch 1) between " + segments[0].name + " and " +
                segments[2].name + "; to keep the log up to the gap and set the rest of the epoch aside, run repair");

  auto options = options_for(dir, 400);
  options.repair = true;
  const log_directory log = log_directory::open(options);
  std::size_t aside = 0;
  for (const auto& note : log.notes()) aside += note.action == recovery_action::set_aside ? 1 : 0;
  EXPECT_EQ(aside, segments.size() - 2);
  EXPECT_EQ(log.last_seq(), segments[0].last_seq);
  ASSERT_EQ(log.segments().size(), 1u);
}

TEST(LogDirectory, ZeroLengthSegmentsAreTolerated) {
  temp_dir dir;
  {
    log_directory log = log_directory::open(options_for(dir));
    append_events(log, 1, 3, 5);
  }
  // A crash right after a segment was created: nothing written to it.
  testing::write_file(dir.file(segment_file_name(2, 1)), "");
  {
    log_directory log = log_directory::open(options_for(dir));
    EXPECT_TRUE(log.notes().empty());
    EXPECT_EQ(log.current_epoch(), 2u);
    EXPECT_EQ(log.last_seq(), 0u);
    ASSERT_EQ(log.segments().size(), 2u);
    EXPECT_EQ(log.segments()[1].bytes, 0u);
    // A later epoch begun before anything was written to the empty one: the empty one goes.
    ASSERT_FALSE(log.append(3, events_batch(1, 2)));
    ASSERT_EQ(log.segments().size(), 2u);
    EXPECT_EQ(log.segments()[1].name, segment_file_name(3, 1));
    EXPECT_FALSE(std::filesystem::exists(dir.file(segment_file_name(2, 1))));
  }
  // An empty segment that is not the last is removed at start-up.
  testing::write_file(dir.file(segment_file_name(2, 1)), "");
  const log_directory log = log_directory::open(options_for(dir));
  EXPECT_EQ(actions(log), std::vector<recovery_action>{recovery_action::removed_empty_segment});
  EXPECT_EQ(log.notes()[0].file, segment_file_name(2, 1));
  EXPECT_EQ(log.segments().size(), 2u);
  EXPECT_EQ(log.current_epoch(), 3u);
  EXPECT_EQ(log.last_seq(), 2u);
}

TEST(LogDirectory, RemovesLeftoversOfInterruptedWrites) {
  temp_dir dir;
  {
    log_directory log = log_directory::open(options_for(dir));
    append_events(log, 1, 2, 5);
  }
  testing::write_file(dir.file(temporary_file_name(snapshot_file_name(1, 7))), "half a snapshot");
  testing::write_file(dir.file(snapshot_file_name(1, 4)), "a snapshot, by name");
  testing::write_file(dir.file(index_file_name(1, 999)), "orphan");
  testing::write_file(dir.file("notes.txt"), "the operator's");
  const log_directory log = log_directory::open(options_for(dir));
  EXPECT_EQ(actions(log), (std::vector<recovery_action>{recovery_action::removed_temporary,
                                                        recovery_action::removed_orphan_index}));
  EXPECT_FALSE(std::filesystem::exists(dir.file(temporary_file_name(snapshot_file_name(1, 7)))));
  EXPECT_FALSE(std::filesystem::exists(dir.file(index_file_name(1, 999))));
  EXPECT_TRUE(std::filesystem::exists(dir.file("notes.txt")));  // not ours: left alone
  ASSERT_EQ(log.snapshots_at_open().size(), 1u);
  EXPECT_EQ(log.snapshots_at_open()[0].name, snapshot_file_name(1, 4));
}

TEST(LogDirectory, RebuildsAGarbageIndexOfASealedSegment) {
  temp_dir dir;
  std::vector<segment_info> segments;
  {
    log_directory log = log_directory::open(options_for(dir, 20000));
    append_events(log, 1, 500, 5);
    segments = log.segments();
  }
  ASSERT_GE(segments.size(), 2u);
  const std::string index = dir.file(index_file_name(1, 1));
  const std::string good = testing::read_file(index);
  testing::write_file(index, std::string(good.size(), '\x5a'));
  const log_directory log = log_directory::open(options_for(dir, 20000));
  EXPECT_EQ(actions(log), std::vector<recovery_action>{recovery_action::rebuilt_index});
  EXPECT_EQ(log.notes()[0].file, index_file_name(1, 1));
  EXPECT_EQ(testing::read_file(index), good);
  EXPECT_EQ(log.segments()[0].last_seq, segments[0].last_seq);
}

TEST(LogDirectory, RemovesTheOldestSegmentsButNeverTheActiveOne) {
  temp_dir dir;
  log_directory log = log_directory::open(options_for(dir, 500));
  append_events(log, 1, 30, 5);
  const auto segments = log.segments();
  ASSERT_GE(segments.size(), 4u);
  ASSERT_FALSE(log.remove_oldest(2));
  ASSERT_EQ(log.segments().size(), segments.size() - 2);
  EXPECT_EQ(log.segments()[0].name, segments[2].name);
  EXPECT_FALSE(std::filesystem::exists(dir.file(segments[0].name)));
  EXPECT_FALSE(std::filesystem::exists(dir.file(index_file_name(1, segments[1].first_seq))));
  EXPECT_EQ(log.epoch(1)->first_seq, segments[2].first_seq);
  EXPECT_EQ(log.remove_oldest(log.segments().size()), std::errc::invalid_argument);
  EXPECT_FALSE(log.remove_oldest(0));
}

}  // namespace
}  // namespace eventserver::storage
