#include "eventserver/storage/segment_reader.hpp"
#include "eventserver/storage/segment_scan.hpp"
#include "eventserver/storage/segment_writer.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/segment_index.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using testing::events_batch;
using testing::temp_dir;

struct recorded_report final : reporter {
  struct damage {
    std::uint64_t offset, bytes;
    std::string reason;
  };
  std::vector<damage> corruptions;
  std::vector<tail_loss> tails;
  std::vector<std::string> tail_reasons;
  void corruption(std::uint64_t offset, std::uint64_t bytes, std::string_view reason) override {
    corruptions.push_back({offset, bytes, std::string(reason)});
  }
  void torn_tail(const tail_loss& loss) override {
    tails.push_back(loss);
    tail_reasons.emplace_back(loss.reason);
  }
};

// A segment of epoch 1 from sequence number 1: `batches` batches of `per_batch` events.
// Returns each batch's offset (and the file's size last).
std::vector<std::uint64_t> write_segment(const std::string& dir, int batches, std::uint32_t per_batch) {
  segment_writer writer;
  EXPECT_FALSE(writer.create(dir, 1, 1));
  std::vector<std::uint64_t> offsets;
  for (int i = 0; i < batches; ++i) {
    offsets.push_back(writer.size());
    EXPECT_FALSE(writer.append(events_batch(writer.next_seq(), per_batch)));
  }
  offsets.push_back(writer.size());
  EXPECT_FALSE(writer.sync());
  return offsets;
}

std::vector<index_entry> read_index(const std::string& path) {
  const std::string bytes = testing::read_file(path);
  std::vector<index_entry> entries;
  for (std::size_t at = 0; at + index_entry_size <= bytes.size(); at += index_entry_size) {
    entries.push_back(decode_index_entry(bytes.data() + at));
  }
  return entries;
}

TEST(SegmentWriter, AppendsWholeBatchesAndTracksTheSequence) {
  temp_dir dir;
  segment_writer writer;
  ASSERT_FALSE(writer.create(dir.path(), 3, 10));
  EXPECT_EQ(writer.path(), dir.file(segment_file_name(3, 10)));
  const auto first = events_batch(10, 4);
  const auto skip = testing::skip_batch(14, 3);
  const auto second = events_batch(17, 2);
  ASSERT_FALSE(writer.append(first));
  ASSERT_FALSE(writer.append(skip));
  ASSERT_FALSE(writer.append(second));
  EXPECT_EQ(writer.next_seq(), 19u);
  EXPECT_EQ(writer.size(), first.size() + skip.size() + second.size());
  ASSERT_FALSE(writer.sync());
  EXPECT_EQ(testing::read_file(writer.path()),
            std::string(first.begin(), first.end()) + std::string(skip.begin(), skip.end()) +
                std::string(second.begin(), second.end()));

  // Not the next number: refused, nothing written.
  EXPECT_EQ(writer.append(events_batch(20, 1)), std::errc::invalid_argument);
  EXPECT_EQ(writer.append(events_batch(18, 1)), std::errc::invalid_argument);
  EXPECT_EQ(testing::size_of(writer.path()), writer.size());

  segment_writer again;
  EXPECT_EQ(again.create(dir.path(), 3, 10), std::errc::file_exists);
}

TEST(SegmentWriter, ReopensAtTheValidLength) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 5, 10);
  const std::string path = dir.file(segment_file_name(1, 1));
  null_reporter quiet;
  const segment_scan scan = scan_segment(path, quiet);
  ASSERT_EQ(scan.outcome, scan_outcome::clean);
  segment_writer writer;
  // As if recovery had cut the last batch off.
  ASSERT_FALSE(writer.reopen(dir.path(), 1, 1, offsets[4], 41, scan.index));
  EXPECT_EQ(testing::size_of(path), offsets[4]);
  ASSERT_FALSE(writer.append(events_batch(41, 3)));
  EXPECT_EQ(writer.next_seq(), 44u);
  const segment_scan after = scan_segment(path, quiet);
  EXPECT_EQ(after.outcome, scan_outcome::clean);
  EXPECT_EQ(after.last_seq, 43u);
  EXPECT_EQ(after.batches, 5u);
}

// The written index and the one a scan rebuilds follow one rule: an entry for the first batch,
// then for the first batch at least 4 KiB past the previous entry.
TEST(SegmentWriter, WritesASparseIndexEvery4KiB) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 400, 5);
  const auto written = read_index(dir.file(index_file_name(1, 1)));
  std::vector<index_entry> expected;
  for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
    if (expected.empty() || offsets[i] - expected.back().offset >= 4096) expected.push_back({1 + 5 * i, offsets[i]});
  }
  ASSERT_GT(expected.size(), 5u);
  EXPECT_EQ(written, expected);
  null_reporter quiet;
  EXPECT_EQ(scan_segment(dir.file(segment_file_name(1, 1)), quiet).index, expected);
}

// Runs in a child process (the file-size limit is process-wide): 0 when every check held.
int append_past_the_file_size_limit(const std::string& dir) {
  // The limit makes write(2) fail with EFBIG part-way through a batch: a stand-in for ENOSPC.
  std::signal(SIGXFSZ, SIG_IGN);
  segment_writer writer;
  if (writer.create(dir, 1, 1)) return 10;
  const auto small = events_batch(1, 10);
  if (writer.append(small)) return 11;
  const rlimit limit{small.size() + 100, RLIM_INFINITY};
  if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 12;
  const auto big = events_batch(11, 100);
  if (writer.append(big) != std::errc::file_too_large) return 13;
  if (testing::size_of(writer.path()) != small.size() || writer.size() != small.size()) return 14;
  if (writer.failure()) return 15;
  if (writer.append(events_batch(11, 2))) return 16;  // the writer goes on
  return 0;
}

TEST(SegmentWriter, AFailedAppendIsCutBackOff) {
  temp_dir dir;
  EXPECT_EXIT(std::_Exit(append_past_the_file_size_limit(dir.path())), ::testing::ExitedWithCode(0), "");
}

TEST(SegmentReader, ReadsEveryBatchThroughASmallBuffer) {
  temp_dir dir;
  segment_writer writer;
  ASSERT_FALSE(writer.create(dir.path(), 1, 1));
  // Batches far larger than the reader's 64-byte buffer, and small ones between them.
  for (std::uint32_t count : {1u, 300u, 2u, 1000u, 1u}) ASSERT_FALSE(writer.append(events_batch(writer.next_seq(), count)));
  segment_reader reader(64);
  ASSERT_FALSE(reader.open(writer.path()));
  sequence_number expected = 1;
  batch_view batch;
  while (reader.next(batch) == read_status::batch) {
    EXPECT_EQ(batch.first_seq, expected);
    for (const auto& line : batch_lines(batch)) ASSERT_EQ(line.bytes, testing::event_line(line.seq));
    expected = batch.next_seq();
  }
  EXPECT_EQ(expected, 1305u);
  EXPECT_EQ(reader.trailing_bytes(), 0u);
  EXPECT_EQ(reader.offset(), writer.size());
}

TEST(SegmentReader, SeesBatchesAppendedAfterItReachedTheEnd) {
  temp_dir dir;
  segment_writer writer;
  ASSERT_FALSE(writer.create(dir.path(), 1, 1));
  ASSERT_FALSE(writer.append(events_batch(1, 3)));
  segment_reader reader;
  ASSERT_FALSE(reader.open(writer.path()));
  batch_view batch;
  ASSERT_EQ(reader.next(batch), read_status::batch);
  EXPECT_EQ(reader.next(batch), read_status::end);
  ASSERT_FALSE(writer.append(events_batch(4, 2)));
  ASSERT_EQ(reader.next(batch), read_status::batch);
  EXPECT_EQ(batch.first_seq, 4u);
  EXPECT_EQ(reader.next(batch), read_status::end);
}

class SegmentFind : public ::testing::Test {
 protected:
  void SetUp() override {
    segment_writer writer;
    ASSERT_FALSE(writer.create(dir_.path(), 1, 1));
    // 20,000 events in batches of 1 to 40, with a skip now and then.
    std::mt19937_64 rng(7);
    while (writer.next_seq() <= 20000) {
      const sequence_number first = writer.next_seq();
      if (rng() % 50 == 0) {
        ASSERT_FALSE(writer.append(testing::skip_batch(first, 1 + static_cast<std::uint32_t>(rng() % 5))));
      } else {
        ASSERT_FALSE(writer.append(events_batch(first, 1 + static_cast<std::uint32_t>(rng() % 40))));
      }
    }
    last_seq_ = writer.next_seq() - 1;
    path_ = writer.path();
  }

  // Finds `count` random numbers and checks the batch found holds each.
  void expect_finds(bool via_index) {
    std::mt19937_64 rng(11);
    segment_reader reader(1024);
    ASSERT_FALSE(reader.open(path_));
    for (int i = 0; i < 300; ++i) {
      const sequence_number seq = 1 + rng() % last_seq_;
      const find_result found = reader.find(seq);
      ASSERT_EQ(found.outcome, find_result::status::found) << seq;
      EXPECT_EQ(found.used_index, via_index) << seq;
      EXPECT_EQ(reader.offset(), found.offset);
      batch_view batch;
      ASSERT_EQ(reader.next(batch), read_status::batch);
      EXPECT_EQ(found.seq, batch.first_seq);
      EXPECT_LE(batch.first_seq, seq);
      EXPECT_GE(batch.last_seq(), seq);
    }
    const find_result after = reader.find(last_seq_ + 1);
    EXPECT_EQ(after.outcome, find_result::status::after);
    EXPECT_EQ(after.offset, testing::size_of(path_));
    EXPECT_EQ(after.seq, last_seq_ + 1);
  }

  temp_dir dir_;
  std::string path_;
  sequence_number last_seq_ = 0;
};

TEST_F(SegmentFind, RandomNumbersThroughTheIndex) { expect_finds(true); }

TEST_F(SegmentFind, RandomNumbersWithoutAnIndex) {
  ASSERT_FALSE(remove_file(index_path_for(path_)));
  expect_finds(false);
}

TEST_F(SegmentFind, RandomNumbersWithAGarbageIndex) {
  std::mt19937_64 rng(3);
  std::string garbage(4000, '\0');
  for (auto& byte : garbage) byte = static_cast<char>(rng());
  testing::write_file(index_path_for(path_), garbage);
  // Garbage entries may by chance point nowhere useful: the scan from the start must still
  // find every number, whichever way it went.
  segment_reader reader;
  ASSERT_FALSE(reader.open(path_));
  for (int i = 0; i < 200; ++i) {
    const sequence_number seq = 1 + rng() % last_seq_;
    const find_result found = reader.find(seq);
    ASSERT_EQ(found.outcome, find_result::status::found) << seq;
    batch_view batch;
    ASSERT_EQ(reader.next(batch), read_status::batch);
    EXPECT_LE(batch.first_seq, seq);
    EXPECT_GE(batch.last_seq(), seq);
  }
}

TEST_F(SegmentFind, AnIndexPointingBetweenBatchesIsNotTrusted) {
  // Every entry moved 7 bytes on: no batch starts there.
  auto entries = read_index(index_path_for(path_));
  for (auto& entry : entries) entry.offset += 7;
  ASSERT_FALSE(write_index_file(index_path_for(path_), entries));
  expect_finds(false);
}

TEST_F(SegmentFind, BeforeTheSegment) {
  // A segment whose name says 1 but whose first batch starts later: found is "before".
  temp_dir other;
  segment_writer writer;
  ASSERT_FALSE(writer.create(other.path(), 1, 50));
  ASSERT_FALSE(writer.append(events_batch(50, 5)));
  segment_reader reader;
  ASSERT_FALSE(reader.open(writer.path()));
  const find_result found = reader.find(10);
  EXPECT_EQ(found.outcome, find_result::status::before);
  EXPECT_EQ(found.offset, 0u);
  EXPECT_EQ(found.seq, 50u);
}

TEST(SegmentScan, CleanSegment) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 10, 7);
  recorded_report report;
  const segment_scan scan = scan_segment(dir.file(segment_file_name(1, 1)), report);
  EXPECT_EQ(scan.outcome, scan_outcome::clean);
  EXPECT_EQ(scan.first_seq, 1u);
  EXPECT_EQ(scan.last_seq, 70u);
  EXPECT_EQ(scan.batches, 10u);
  EXPECT_EQ(scan.valid_length, offsets.back());
  EXPECT_EQ(scan.file_size, offsets.back());
  EXPECT_TRUE(report.corruptions.empty());
  EXPECT_TRUE(report.tails.empty());
}

TEST(SegmentScan, EmptySegment) {
  temp_dir dir;
  segment_writer writer;
  ASSERT_FALSE(writer.create(dir.path(), 2, 500));
  recorded_report report;
  const segment_scan scan = scan_segment(writer.path(), report);
  EXPECT_EQ(scan.outcome, scan_outcome::clean);
  EXPECT_EQ(scan.first_seq, 500u);
  EXPECT_EQ(scan.last_seq, 499u);
  EXPECT_EQ(scan.valid_length, 0u);
}

// The writer died at every possible byte of its last batch: recovery cuts back to the batch
// before and says what it cut.
TEST(SegmentScan, EveryTornTailOffsetOfTheLastBatch) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 4, 6);  // numbers 1..24; the last batch 19..24
  const std::string path = dir.file(segment_file_name(1, 1));
  const std::string whole = testing::read_file(path);
  const std::uint64_t last_start = offsets[3];
  for (std::uint64_t cut = last_start + 1; cut < whole.size(); ++cut) {
    testing::write_file(path, std::string_view(whole).substr(0, cut));
    recorded_report report;
    const segment_scan scan = scan_segment(path, report);
    ASSERT_EQ(scan.outcome, scan_outcome::torn_tail) << "cut at " << cut;
    EXPECT_EQ(scan.valid_length, last_start) << cut;
    EXPECT_EQ(scan.damage_offset, last_start) << cut;
    EXPECT_EQ(scan.last_seq, 18u) << cut;
    EXPECT_TRUE(report.corruptions.empty()) << cut;
    ASSERT_EQ(report.tails.size(), 1u) << cut;
    const tail_loss& loss = report.tails[0];
    EXPECT_EQ(loss.offset, last_start) << cut;
    EXPECT_EQ(loss.bytes, cut - last_start) << cut;
    EXPECT_EQ(loss.first_lost, 19u) << cut;
    // With the header whole, the cut batch says how far it reached.
    EXPECT_EQ(loss.last_lost, cut - last_start >= 24 ? 24u : 0u) << cut;
    EXPECT_EQ(report.tail_reasons[0], cut - last_start >= 24 ? "body runs past the end of the file"
                                                             : "header cut short by the end of the file")
        << cut;
  }
  // Cut exactly at a batch boundary: nothing torn.
  testing::write_file(path, std::string_view(whole).substr(0, last_start));
  recorded_report report;
  EXPECT_EQ(scan_segment(path, report).outcome, scan_outcome::clean);
}

TEST(SegmentScan, ZeroFilledTailIsTorn) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 3, 5);
  const std::string path = dir.file(segment_file_name(1, 1));
  testing::write_file(path, testing::read_file(path) + std::string(8192, '\0'));
  recorded_report report;
  const segment_scan scan = scan_segment(path, report);
  EXPECT_EQ(scan.outcome, scan_outcome::torn_tail);
  EXPECT_EQ(scan.valid_length, offsets.back());
  ASSERT_EQ(report.tails.size(), 1u);
  EXPECT_EQ(report.tails[0].bytes, 8192u);
  EXPECT_EQ(report.tails[0].first_lost, 16u);
  EXPECT_EQ(report.tails[0].last_lost, 0u);
  EXPECT_EQ(report.tail_reasons[0], "zero-filled header");
}

TEST(SegmentScan, FlippedBitInTheMiddleIsDamage) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 5, 8);
  const std::string path = dir.file(segment_file_name(1, 1));
  testing::flip_bit(path, offsets[2] + 30, 3);  // in the third batch's body
  recorded_report report;
  const segment_scan scan = scan_segment(path, report);
  EXPECT_EQ(scan.outcome, scan_outcome::damaged);
  EXPECT_EQ(scan.valid_length, offsets[2]);
  EXPECT_EQ(scan.damage_offset, offsets[2]);
  EXPECT_EQ(scan.resume_offset, offsets[3]);
  EXPECT_EQ(scan.last_seq, 16u);
  EXPECT_EQ(scan.reason, "checksum mismatch");
  ASSERT_EQ(report.corruptions.size(), 1u);
  EXPECT_EQ(report.corruptions[0].offset, offsets[2]);
  EXPECT_EQ(report.corruptions[0].bytes, offsets[3] - offsets[2]);
  EXPECT_EQ(report.corruptions[0].reason, "checksum mismatch");
  EXPECT_TRUE(report.tails.empty());
}

TEST(SegmentScan, FlippedBitInAHeaderIsDamage) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 5, 8);
  const std::string path = dir.file(segment_file_name(1, 1));
  testing::flip_bit(path, offsets[1] + 1, 5);  // the second batch's length
  recorded_report report;
  const segment_scan scan = scan_segment(path, report);
  EXPECT_EQ(scan.outcome, scan_outcome::damaged);
  EXPECT_EQ(scan.damage_offset, offsets[1]);
  EXPECT_EQ(scan.resume_offset, offsets[2]);
  EXPECT_EQ(scan.last_seq, 8u);
}

TEST(SegmentScan, DiscontinuityIsDamage) {
  temp_dir dir;
  segment_writer writer;
  ASSERT_FALSE(writer.create(dir.path(), 1, 1));
  ASSERT_FALSE(writer.append(events_batch(1, 5)));
  const std::uint64_t gap_at = writer.size();
  writer.close();
  // Batches 11.. follow 1..5 directly: numbers 6..10 are missing from the middle.
  const auto b2 = events_batch(11, 5);
  const auto b3 = events_batch(16, 5);
  testing::write_file(dir.file(segment_file_name(1, 1)), testing::read_file(dir.file(segment_file_name(1, 1))) +
                                                             std::string(b2.begin(), b2.end()) +
                                                             std::string(b3.begin(), b3.end()));
  recorded_report report;
  const segment_scan scan = scan_segment(dir.file(segment_file_name(1, 1)), report);
  EXPECT_EQ(scan.outcome, scan_outcome::damaged);
  EXPECT_EQ(scan.damage_offset, gap_at);
  // The search starts after the offending batch: the next valid batch past it is b3.
  EXPECT_EQ(scan.resume_offset, gap_at + b2.size());
  EXPECT_EQ(scan.reason, "sequence discontinuity: expected 6, found 11");
  ASSERT_EQ(report.corruptions.size(), 1u);
  EXPECT_EQ(report.corruptions[0].bytes, b2.size());
}

TEST(SegmentScan, TailCheckUsesTheIndexAndFallsBackWhenItDisagrees) {
  temp_dir dir;
  const auto offsets = write_segment(dir.path(), 400, 5);
  const std::string path = dir.file(segment_file_name(1, 1));
  recorded_report report;
  const segment_scan quick = check_segment_tail(path, 1, report);
  EXPECT_EQ(quick.outcome, scan_outcome::clean);
  EXPECT_FALSE(quick.index_rebuilt);
  EXPECT_EQ(quick.last_seq, 2000u);
  EXPECT_EQ(quick.valid_length, offsets.back());
  EXPECT_LT(quick.batches, 400u);  // only the tail was read

  ASSERT_FALSE(remove_file(index_path_for(path)));
  const segment_scan full = check_segment_tail(path, 1, report);
  EXPECT_EQ(full.outcome, scan_outcome::clean);
  EXPECT_TRUE(full.index_rebuilt);
  EXPECT_EQ(full.last_seq, 2000u);
  EXPECT_EQ(full.batches, 400u);
}

}  // namespace
}  // namespace eventserver::storage
