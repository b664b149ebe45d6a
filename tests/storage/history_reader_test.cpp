#include "eventserver/storage/history_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eventserver/storage/log_directory.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using testing::event_line;
using testing::events_batch;
using testing::temp_dir;

struct read_back {
  std::vector<sequence_number> seqs;  // every number handed out, skipped ones included
  std::vector<std::string> lines;     // "<seq>:<payload>" or "<seq>:skipped"
  history_status last = history_status::batch;
};

read_back read_until_caught_up(history_reader& reader) {
  read_back out;
  batch_view batch;
  while ((out.last = reader.next(batch)) == history_status::batch) {
    if (batch.kind == batch_kind::skipped) {
      for (sequence_number s = batch.first_seq; s <= batch.last_seq(); ++s) {
        out.seqs.push_back(s);
        out.lines.push_back(std::to_string(s) + ":skipped");
      }
      continue;
    }
    for (const auto& line : batch_lines(batch)) {
      out.seqs.push_back(line.seq);
      out.lines.push_back(std::to_string(line.seq) + ":" + std::string(line.payload()));
    }
  }
  return out;
}

std::vector<std::string> expected_lines(sequence_number from, sequence_number to) {
  std::vector<std::string> lines;
  for (sequence_number s = from; s <= to; ++s) {
    if (s >= 101 && s <= 103) {
      lines.push_back(std::to_string(s) + ":skipped");
    } else {
      const std::string line = event_line(s);
      lines.push_back(std::to_string(s) + ":" + line.substr(0, line.size() - 2));
    }
  }
  return lines;
}

class HistoryReader : public ::testing::Test {
 protected:
  void SetUp() override {
    log_options options;
    options.dir = dir_.path();
    options.segment_bytes = 600;
    log_.emplace(log_directory::open(options));
    // Epoch 1: 1..203 in batches of 5, numbers 101..103 given up by the gap timeout.
    while (log_->last_seq() < 203) {
      const sequence_number next = log_->last_seq() + 1;
      if (next == 101) {
        ASSERT_FALSE(log_->append(1, testing::skip_batch(101, 3)));
      } else {
        ASSERT_FALSE(log_->append(1, events_batch(next, next + 4 <= 203 ? 5 : static_cast<std::uint32_t>(204 - next))));
      }
    }
    // Epoch 2: 1..50.
    for (int i = 0; i < 10; ++i) ASSERT_FALSE(log_->append(2, events_batch(log_->current_epoch() == 2 ? log_->last_seq() + 1 : 1, 5)));
    ASSERT_GE(log_->segments().size(), 6u);
  }

  temp_dir dir_;
  std::optional<log_directory> log_;
};

TEST_F(HistoryReader, ReadsAcrossSegmentsFromAnyPosition) {
  history_reader reader(dir_.path(), 256);
  for (const sequence_number from : {1u, 2u, 57u, 100u, 101u, 102u, 104u, 150u, 203u}) {
    ASSERT_EQ(reader.seek(log_->segments(), 1, from), history_start::complete) << from;
    const read_back got = read_until_caught_up(reader);
    EXPECT_EQ(got.last, history_status::caught_up) << from;
    EXPECT_EQ(got.lines, expected_lines(from, 203)) << from;
    EXPECT_EQ(reader.position(), 204u);
  }
}

TEST_F(HistoryReader, PastTheEndWaitsForTheLog) {
  history_reader reader(dir_.path());
  ASSERT_EQ(reader.seek(log_->segments(), 2, 51), history_start::complete);
  batch_view batch;
  EXPECT_EQ(reader.next(batch), history_status::caught_up);
  // The log goes on, rolling into new segments: the reader follows by name.
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(log_->append(2, events_batch(log_->last_seq() + 1, 5)));
  const read_back got = read_until_caught_up(reader);
  EXPECT_EQ(got.last, history_status::caught_up);
  ASSERT_EQ(got.seqs.size(), 100u);
  EXPECT_EQ(got.seqs.front(), 51u);
  EXPECT_EQ(got.seqs.back(), 150u);
}

TEST_F(HistoryReader, EpochsAreSeparate) {
  history_reader reader(dir_.path());
  ASSERT_EQ(reader.seek(log_->segments(), 2, 1), history_start::complete);
  const read_back got = read_until_caught_up(reader);
  ASSERT_EQ(got.seqs.size(), 50u);
  EXPECT_EQ(got.seqs.back(), 50u);
  EXPECT_EQ(reader.seek(log_->segments(), 3, 1), history_start::no_history);
  EXPECT_EQ(reader.seek(log_->segments(), 0, 1), history_start::no_history);
}

TEST_F(HistoryReader, SaysWhenRetentionRemovedTheStart) {
  ASSERT_FALSE(log_->remove_oldest(2));
  const sequence_number first = log_->segments()[0].first_seq;
  ASSERT_GT(first, 1u);
  EXPECT_EQ(first_available_seq(log_->segments(), 1), first);
  EXPECT_EQ(first_available_seq(log_->segments(), 2), 1u);
  EXPECT_FALSE(first_available_seq(log_->segments(), 7).has_value());

  history_reader reader(dir_.path());
  ASSERT_EQ(reader.seek(log_->segments(), 1, 1), history_start::incomplete);
  EXPECT_EQ(reader.position(), first);
  const read_back got = read_until_caught_up(reader);
  EXPECT_EQ(got.lines, expected_lines(first, 203));
}

TEST_F(HistoryReader, LostWhenTheSegmentsAheadAreDeleted) {
  history_reader reader(dir_.path(), 128);
  ASSERT_EQ(reader.seek(log_->segments(), 1, 1), history_start::complete);
  batch_view batch;
  ASSERT_EQ(reader.next(batch), history_status::batch);
  // Retention deletes the segment being read and the ones after it (all of epoch 1 but the
  // last): the open one stays readable, then the rest is gone.
  std::size_t epoch_one = 0;
  while (log_->segments()[epoch_one].epoch == 1) ++epoch_one;
  ASSERT_FALSE(log_->remove_oldest(epoch_one - 1));
  const read_back got = read_until_caught_up(reader);
  EXPECT_EQ(got.last, history_status::lost);
  EXPECT_FALSE(got.seqs.empty());
}

}  // namespace
}  // namespace eventserver::storage
