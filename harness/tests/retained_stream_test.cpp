#include "followermaze/retained_stream.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace followermaze {
namespace {

std::vector<char> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

std::string resent(retained_stream& held, std::uint64_t from) {
  std::string out;
  held.resend(from, [&](const char* data, std::size_t size) {
    out.append(data, size);
    out += '/';  // marks a call
    return true;
  });
  return out;
}

TEST(RetainedStream, OffsetOfTheFirstBatchAtOrAboveANumber) {
  const std::vector<sent_batch> batches = {{10, 3}, {25, 7}, {40, 8}};
  EXPECT_EQ(resend_offset(batches, 1), 0U);
  EXPECT_EQ(resend_offset(batches, 3), 0U);
  EXPECT_EQ(resend_offset(batches, 4), 10U);
  EXPECT_EQ(resend_offset(batches, 7), 10U);
  EXPECT_EQ(resend_offset(batches, 8), 25U);
  EXPECT_EQ(resend_offset(batches, 9), 40U);  // nothing left: the end
}

TEST(RetainedStream, ResendsEveryBatchHoldingANumberAtOrAboveFrom) {
  retained_stream held;
  // Chunk 1: batches 1..2 ("2|B1|B"), 3 ("3|B"); chunk 2: 4..6, 7.
  auto first = bytes_of("2|B\n1|B\n3|B\n");
  held.push(first, first.size(), std::vector<sent_batch>{{8, 2}, {12, 3}});
  auto second = bytes_of("5|B\n4|B\n6|B\n7|B\n");
  held.push(second, second.size(), std::vector<sent_batch>{{12, 6}, {16, 7}});
  EXPECT_EQ(held.chunks(), 2U);
  EXPECT_EQ(held.bytes(), 28U);
  EXPECT_EQ(held.held_from(), 1U);
  EXPECT_EQ(held.next_seq(), 8U);

  EXPECT_EQ(resent(held, 1), "2|B\n1|B\n3|B\n/5|B\n4|B\n6|B\n7|B\n/");
  EXPECT_EQ(resent(held, 3), "3|B\n/5|B\n4|B\n6|B\n7|B\n/");
  EXPECT_EQ(resent(held, 7), "7|B\n/");
  EXPECT_EQ(resent(held, 8), "");
  EXPECT_EQ(held.bytes(), 28U);  // nothing stale in what went again

  held.retire(2);  // chunk 1 still holds 3
  EXPECT_EQ(held.chunks(), 2U);
  EXPECT_EQ(held.held_from(), 1U);
  held.retire(5);
  EXPECT_EQ(held.chunks(), 1U);
  EXPECT_EQ(held.held_from(), 4U);
  EXPECT_EQ(held.bytes(), 16U);
  held.retire(7);
  EXPECT_EQ(held.chunks(), 0U);
  EXPECT_EQ(held.bytes(), 0U);
  EXPECT_EQ(held.held_from(), 8U);
}

TEST(RetainedStream, AResendLeavesOutTheLinesTheDaemonHolds) {
  // Resent, 1 would be stale and could start a new stream (docs/protocol.md, "Starting over":
  // a connection whose lines so far were all stale starts one at its first 1). With 1 durable,
  // the batch holding 2 goes again without it, and the held bytes lose it for good.
  retained_stream held;
  auto first = bytes_of("2|B\n1|B\n3|B\n");
  held.push(first, first.size(), std::vector<sent_batch>{{8, 2}, {12, 3}});
  auto second = bytes_of("5|B\n4|B\n6|B\n7|B\n");
  held.push(second, second.size(), std::vector<sent_batch>{{12, 6}, {16, 7}});
  EXPECT_EQ(resent(held, 2), "2|B\n3|B\n/5|B\n4|B\n6|B\n7|B\n/");
  EXPECT_EQ(held.bytes(), 24U);
  EXPECT_EQ(std::string(held.first_batch().data(), held.first_batch().size()), "2|B\n");
  EXPECT_EQ(resent(held, 5), "5|B\n6|B\n7|B\n/");
  EXPECT_EQ(held.bytes(), 20U);
  EXPECT_EQ(resent(held, 7), "7|B\n/");  // a later batch: nothing of it is stale
  held.retire(6);
  EXPECT_EQ(held.chunks(), 1U);
  EXPECT_EQ(held.bytes(), 12U);  // what was left of chunk 2: "5|B\n6|B\n7|B\n"
  EXPECT_EQ(resent(held, 7), "7|B\n/");
  held.retire(7);
  EXPECT_EQ(held.bytes(), 0U);
}

TEST(RetainedStream, AResendKeepsLinesWithoutANumberAndDropsStaleDuplicates) {
  retained_stream held;
  // Chunk: batch 1..3 with garbage ("abc|B", an empty line) and a bare LF; batch 4..5 with a
  // chaos duplicate of 2 (a broadcast body).
  auto chunk = bytes_of("3|B\r\nabc|B\r\n1|B\n\r\n2|P|1|2\r\n4|B\r\n2|B\r\n5|B\r\n");
  const std::size_t batch_one = std::string("3|B\r\nabc|B\r\n1|B\n\r\n2|P|1|2\r\n").size();
  held.push(chunk, chunk.size(), std::vector<sent_batch>{{batch_one, 3}, {chunk.size(), 5}});
  EXPECT_EQ(resent(held, 3), "3|B\r\nabc|B\r\n\r\n4|B\r\n5|B\r\n/");
  EXPECT_EQ(resent(held, 4), "4|B\r\n5|B\r\n/");  // the batch boundary moved with the cut
}

TEST(RetainedStream, StaleLineCutMovesBoundaries) {
  std::string bytes = "10|B\r\n7|B\r\n12|B\r\n8|S|1\r\n11|B\r\n";
  //                   0      6      11      17       24      30
  stale_line_cut cut;
  const std::size_t end = cut.apply(bytes.data(), 6, bytes.size(), 10);
  EXPECT_EQ(bytes.substr(0, end), "10|B\r\n12|B\r\n11|B\r\n");
  EXPECT_EQ(cut.removed_bytes(), 12U);
  EXPECT_EQ(cut.shifted(0), 0U);
  EXPECT_EQ(cut.shifted(6), 6U);    // the start of a removed line
  EXPECT_EQ(cut.shifted(11), 6U);   // its end
  EXPECT_EQ(cut.shifted(17), 12U);
  EXPECT_EQ(cut.shifted(24), 12U);
  EXPECT_EQ(cut.shifted(30), 18U);  // the end
  // Nothing below `from`: untouched.
  std::string fresh = "3|B\n4|B\n";
  stale_line_cut none;
  EXPECT_EQ(none.apply(fresh.data(), 0, fresh.size(), 3), fresh.size());
  EXPECT_EQ(none.removed_bytes(), 0U);
  EXPECT_EQ(none.shifted(4), 4U);
}

TEST(RetainedStream, PushHandsBackABufferOfTheSameSizeAndStopsOnAFailedSend) {
  retained_stream held;
  std::vector<char> buffer(100, 'x');
  buffer[0] = '1';
  held.push(buffer, 3, std::vector<sent_batch>{{3, 1}});
  EXPECT_EQ(buffer.size(), 100U);
  std::vector<char> other(100, 'y');
  held.push(other, 2, std::vector<sent_batch>{{2, 2}});
  int calls = 0;
  EXPECT_FALSE(held.resend(1, [&](const char*, std::size_t) { return ++calls > 5; }));
  EXPECT_EQ(calls, 1);
  held.retire(2);
  std::vector<char> third(50, 'z');
  held.push(third, 1, std::vector<sent_batch>{{1, 3}});
  EXPECT_EQ(third.size(), 50U);  // a spare buffer, resized to what was pushed
}

TEST(RetainedStream, FirstBatchOnlyWhileTheStreamStartIsHeld) {
  retained_stream held;
  EXPECT_TRUE(held.first_batch().empty());
  auto chunk = bytes_of("2|B\n1|B\n3|B\n");
  held.push(chunk, 12, std::vector<sent_batch>{{8, 2}, {12, 3}});
  EXPECT_EQ(std::string(held.first_batch().data(), held.first_batch().size()), "2|B\n1|B\n");
  held.retire(3);
  EXPECT_TRUE(held.first_batch().empty());
}

std::string forward(std::string batch, std::uint64_t old_position, std::size_t carry = 65536,
                    moved_line* moved = nullptr) {
  const auto m = bring_sequence_one_forward(std::span<char>(batch.data(), batch.size()), old_position, carry);
  if (moved != nullptr) *moved = m;
  return batch;
}

TEST(RetainedStream, SequenceOneGoesFirstOnlyWhenWhatPrecedesItIsNotStale) {
  // Everything before the 1 is at or below the old stream's position: the daemon takes it in.
  EXPECT_EQ(forward("57|B\r\n3|B\r\n1|P|2|3\r\n9|B\r\n", 100), "57|B\r\n3|B\r\n1|P|2|3\r\n9|B\r\n");
  // 57 is above it: fresh for the old stream, it would hold the new stream back.
  moved_line moved;
  EXPECT_EQ(forward("57|B\r\n3|B\r\n1|P|2|3\r\n9|B\r\n", 50, 65536, &moved), "1|P|2|3\r\n57|B\r\n3|B\r\n9|B\r\n");
  EXPECT_EQ(moved.offset, 11U);
  EXPECT_EQ(moved.length, 9U);
  EXPECT_EQ(moved.shifted(6), 15U);   // the boundary after 57: now after the 1 and 57
  EXPECT_EQ(moved.shifted(0), 0U);
  EXPECT_EQ(moved.shifted(20), 20U);  // after the moved line: unchanged
  // A line without a usable sequence number before the 1 (chaos garbage).
  EXPECT_EQ(forward("abc|B\r\n1|B\n2|B\r\n", 100), "1|B\nabc|B\r\n2|B\r\n");
  EXPECT_EQ(forward("0|B\r\n1|B\r\n", 100), "1|B\r\n0|B\r\n");
  // More stale bytes before the 1 than the daemon carries into the new stream.
  EXPECT_EQ(forward("3|B\r\n2|B\r\n1|B\r\n", 100, 9), "1|B\r\n3|B\r\n2|B\r\n");
  EXPECT_EQ(forward("3|B\r\n2|B\r\n1|B\r\n", 100, 10), "3|B\r\n2|B\r\n1|B\r\n");
  // Already first, or absent: untouched.
  EXPECT_EQ(forward("1|B\r\n70|B\r\n", 5), "1|B\r\n70|B\r\n");
  EXPECT_EQ(forward("12|B\r\n70|B\r\n", 5), "12|B\r\n70|B\r\n");
  // "10|..." and "11|..." are not the 1.
  EXPECT_EQ(forward("10|B\r\n11|B\r\n1|B\r\n", 5), "1|B\r\n10|B\r\n11|B\r\n");
}

}  // namespace
}  // namespace followermaze
