#include "eventserver/core/line_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace eventserver {
namespace {

// Feeds `bytes` in pieces of at most `piece` bytes and collects every line.
std::vector<std::string> feed(line_reader& reader, std::string_view bytes, std::size_t piece) {
  std::vector<std::string> lines;
  while (!bytes.empty()) {
    auto room = reader.prepare();
    const std::size_t n = std::min({piece, bytes.size(), room.size()});
    std::copy_n(bytes.data(), n, room.data());
    reader.commit(n);
    bytes.remove_prefix(n);
    while (auto line = reader.next_line()) lines.emplace_back(*line);
  }
  return lines;
}

TEST(LineReader, SplitsOnCrLfAndBareLf) {
  line_reader reader(64, 16);
  const auto lines = feed(reader, "1|B\r\n2|S|3\n\r\n3|P|1|2\r\n", 1000);
  EXPECT_EQ(lines, (std::vector<std::string>{"1|B", "2|S|3", "", "3|P|1|2"}));
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(LineReader, LinesSplitAcrossReadsAreReassembled) {
  line_reader reader(64, 16);
  std::string stream;
  for (int i = 1; i <= 200; ++i) stream += std::to_string(i) + "|P|" + std::to_string(i * 7) + "|3\r\n";
  const auto lines = feed(reader, stream, 3);
  ASSERT_EQ(lines.size(), 200u);
  EXPECT_EQ(lines.front(), "1|P|7|3");
  EXPECT_EQ(lines.back(), "200|P|1400|3");
}

TEST(LineReader, OverlongLineIsSkippedToItsEndAndCounted) {
  line_reader reader(8, 4);
  const std::string stream = "1|B\r\n" + std::string(100, 'x') + "\r\n2|B\r\n";
  const auto lines = feed(reader, stream, 4);
  EXPECT_EQ(lines, (std::vector<std::string>{"1|B", "2|B"}));
  EXPECT_EQ(reader.overlong_lines(), 1u);
}

TEST(LineReader, CompleteOverlongLineInOneReadIsSkipped) {
  line_reader reader(8, 64);
  const auto lines = feed(reader, "123456789\n12345678\r\n", 64);
  EXPECT_EQ(lines, (std::vector<std::string>{"12345678"}));  // exactly the limit passes
  EXPECT_EQ(reader.overlong_lines(), 1u);
}

TEST(LineReader, BufferNeverGrowsWithTheStream) {
  line_reader reader(16, 32);
  const auto capacity = reader.capacity();
  std::string stream;
  for (int i = 0; i < 5000; ++i) stream += "12345|S|678\r\n" + std::string(i % 40 == 0 ? 50 : 0, 'z') + (i % 40 == 0 ? "\n" : "");
  feed(reader, stream, 29);
  EXPECT_EQ(reader.capacity(), capacity);
  EXPECT_EQ(reader.overlong_lines(), 125u);
}

std::optional<std::string_view> take(line_reader& reader, const char* newline) {
  line_ref line;
  if (!reader.take_line(newline, line)) return std::nullopt;
  EXPECT_GE(line.readable(), line_ref::readable_margin);  // every line it makes is padded
  return line.view();
}

// What the event-source session does: a scan of its own finds the '\n', take_line takes the line.
TEST(LineReader, TakeLineTakesTheLineTheCallersScanFramed) {
  line_reader reader(64, 64);
  const std::string bytes = "1|B\r\n2|S|3\n4|P";
  auto room = reader.prepare();
  std::copy_n(bytes.data(), bytes.size(), room.data());
  reader.commit(bytes.size());
  const auto scan = [&reader] { return static_cast<const char*>(std::memchr(reader.unconsumed(), '\n', 64)); };
  EXPECT_EQ(take(reader, scan()), "1|B");
  EXPECT_EQ(take(reader, scan()), "2|S|3");
  reader.unread_last_line();
  EXPECT_EQ(reader.next_line(), "2|S|3");  // put back like a line from next_line
  EXPECT_EQ(take(reader, nullptr), std::nullopt);
  EXPECT_EQ(reader.buffered_bytes(), 3u);  // "4|P" waits for its '\n'
}

TEST(LineReader, TakeLineRefusesBytesPastTheBufferedOnes) {
  line_reader reader(64, 64);
  auto room = reader.prepare();
  const std::string stale = "9|B\n";
  std::copy_n(stale.data(), stale.size(), room.data());  // bytes a read left but never committed
  EXPECT_EQ(take(reader, reader.unconsumed() + 3), std::nullopt);
  EXPECT_EQ(reader.next_line(), std::nullopt);
  std::copy_n("1|B\n", 4, room.data());
  reader.commit(4);
  EXPECT_EQ(take(reader, reader.unconsumed() + 3), "1|B");
}

TEST(LineReader, TakeLineLeavesOverlongLinesToNextLine) {
  line_reader reader(4, 64);
  std::string bytes = "123456|B\n1|B\n";
  auto room = reader.prepare();
  std::copy_n(bytes.data(), bytes.size(), room.data());
  reader.commit(bytes.size());
  EXPECT_EQ(take(reader, reader.unconsumed() + 8), std::nullopt);
  EXPECT_EQ(reader.next_line(), "1|B");  // the overlong line was skipped and counted
  EXPECT_EQ(reader.overlong_lines(), 1u);
}

TEST(LineReader, ReadableSlackFollowsEveryLine) {
  line_reader reader(16, 32);
  auto room = reader.prepare();
  ASSERT_EQ(room.size(), reader.capacity());
  const std::string bytes(room.size(), '\n');  // the last line starts at the last byte a read may fill
  std::copy_n(bytes.data(), bytes.size(), room.data());
  reader.commit(bytes.size());
  std::optional<line_ref> last;
  while (const auto line = reader.next_line()) last = reader.ref(*line);
  ASSERT_TRUE(last.has_value());
  EXPECT_GE(last->readable(), line_reader::slack_bytes);
  EXPECT_GE(last->readable(), line_ref::readable_margin);
  EXPECT_EQ(last->data()[last->readable() - 1], '\0');  // a scan always meets a '\0'
}

TEST(LineReader, UnreadLineIsReturnedAgain) {
  line_reader reader(64, 64);
  feed(reader, "", 1);
  auto room = reader.prepare();
  const std::string bytes = "1|B\n2|B\n";
  std::copy(bytes.begin(), bytes.end(), room.data());
  reader.commit(bytes.size());
  EXPECT_EQ(*reader.next_line(), "1|B");
  EXPECT_EQ(*reader.next_line(), "2|B");
  reader.unread_last_line();
  EXPECT_EQ(*reader.next_line(), "2|B");
  EXPECT_FALSE(reader.next_line());
}

TEST(LineReader, PartialLineStaysBufferedUntilItsNewline) {
  line_reader reader(64, 64);
  const auto lines = feed(reader, "1|B\r\n2|S|", 64);
  EXPECT_EQ(lines.size(), 1u);
  EXPECT_EQ(reader.buffered_bytes(), 4u);
}

void put(line_reader& reader, std::string_view bytes) {
  auto room = reader.prepare();
  std::copy(bytes.begin(), bytes.end(), room.data());
  reader.commit(bytes.size());
}

TEST(LineReader, TakeAllTakesWhatFitsAndKeepsTheRestInOrder) {
  line_reader reader(64, 64);
  put(reader, "9|B\r\n2|B\n8|B\r\n1|B\n7|S|9\n4|");
  std::vector<std::string> offered;
  const auto taken = reader.take_all([&](std::string_view line) {
    offered.emplace_back(line);
    return line < "5";  // "2|B" and "1|B"
  });
  EXPECT_EQ(taken, 2u);
  EXPECT_EQ(offered, (std::vector<std::string>{"9|B", "2|B", "8|B", "1|B", "7|S|9"}));
  EXPECT_EQ(*reader.next_line(), "9|B");
  EXPECT_EQ(*reader.next_line(), "8|B");
  EXPECT_EQ(*reader.next_line(), "7|S|9");
  EXPECT_FALSE(reader.next_line());
  EXPECT_EQ(reader.buffered_bytes(), 2u);  // the partial "4|" waits for its newline
  put(reader, "0\n");
  EXPECT_EQ(*reader.next_line(), "4|0");
}

TEST(LineReader, TakeAllLeavesEverythingWhenNothingIsTaken) {
  line_reader reader(8, 64);
  put(reader, "1|B\n123456789012\n2|B\n3|");  // the overlong line is passed over, never offered
  std::vector<std::string> offered;
  EXPECT_EQ(reader.take_all([&](std::string_view line) {
    offered.emplace_back(line);
    return false;
  }), 0u);
  EXPECT_EQ(offered, (std::vector<std::string>{"1|B", "2|B"}));
  EXPECT_EQ(*reader.next_line(), "1|B");
  EXPECT_EQ(*reader.next_line(), "2|B");
  EXPECT_EQ(reader.overlong_lines(), 1u);
}

TEST(LineReader, TakeAllKeepsAnOverlongLineForNextLineToDrop) {
  line_reader reader(8, 64);
  put(reader, "9|B\n123456789012\n1|B\n");
  EXPECT_EQ(reader.take_all([](std::string_view line) { return line == "1|B"; }), 1u);
  EXPECT_EQ(*reader.next_line(), "9|B");
  EXPECT_FALSE(reader.next_line());
  EXPECT_EQ(reader.overlong_lines(), 1u);
}

TEST(LineReader, UnreadAfterTakeAllReturnsTheLineJustReturned) {
  line_reader reader(64, 64);
  put(reader, "3|B\n1|B\n2|B\n");
  EXPECT_EQ(*reader.next_line(), "3|B");
  reader.unread_last_line();
  EXPECT_EQ(reader.take_all([](std::string_view line) { return line == "1|B"; }), 1u);
  EXPECT_EQ(*reader.next_line(), "3|B");
  reader.unread_last_line();
  EXPECT_EQ(*reader.next_line(), "3|B");
  EXPECT_EQ(*reader.next_line(), "2|B");
  EXPECT_EQ(reader.free_bytes(), reader.capacity());
}

// A session paused on a full window may take lines while its read into the span prepare()
// returned is still under way: dropping an overlong line then must not move that span.
TEST(LineReader, DroppingAnOverlongLineKeepsAReadUnderWayInPlace) {
  line_reader reader(8, 16);
  put(reader, "1234567890AB");               // no newline yet, longer than a line may be
  const std::span<char> in_flight = reader.prepare();  // the read the kernel is filling
  EXPECT_FALSE(reader.next_line());          // starts discarding the overlong line
  const std::string arrives = "CD\n5|B\n";
  std::copy(arrives.begin(), arrives.end(), in_flight.data());
  reader.commit(arrives.size());
  EXPECT_EQ(*reader.next_line(), "5|B");
  EXPECT_FALSE(reader.next_line());
  EXPECT_EQ(reader.overlong_lines(), 1u);
}

}  // namespace
}  // namespace eventserver
