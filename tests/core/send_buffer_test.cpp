#include "eventserver/core/send_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace eventserver {
namespace {

std::string_view contents(const send_buffer& buffer) { return {buffer.data(), buffer.size()}; }

TEST(SendBuffer, ShortLinesAreCopiedAsABlockButOnlyTheirBytesCount) {
  send_buffer buffer;
  buffer.reserve(256);
  // The line's memory goes on past it, as a sequencer slot's does.
  const std::string memory = "1|S|2\r\n" + std::string(send_buffer::short_block, 'x');
  buffer.append_short(line_ref(memory.data(), 7, memory.size()));
  buffer.append_short(line_ref(memory.data(), 7, memory.size()));
  EXPECT_EQ(contents(buffer), "1|S|2\r\n1|S|2\r\n");  // the second line overwrote the first's extra bytes
}

TEST(SendBuffer, WithoutSlackInTheSourceOrTheBufferOnlyTheLineIsCopied) {
  send_buffer buffer;
  buffer.reserve(send_buffer::short_block + 4);
  const std::string line = "2|B\r\n";
  buffer.append_short(line);  // nothing may be read past the line
  EXPECT_EQ(contents(buffer), line);
  const std::string memory = "3|B\r\n" + std::string(64, 'y');
  // A block would not fit beside the bytes already queued: the exact line goes in.
  buffer.append_short(line_ref(memory.data(), 5, memory.size()));
  EXPECT_EQ(contents(buffer), "2|B\r\n3|B\r\n");
  EXPECT_EQ(buffer.capacity(), send_buffer::short_block + 4);  // never grown by the block
}

TEST(SendBuffer, LongLinesAreCopiedWhole) {
  send_buffer buffer;
  buffer.reserve(256);
  const std::string line = "1234567890123456789|P|1234567890123456789|1234567890123456789\r\n";
  ASSERT_GT(line.size(), send_buffer::short_block);
  buffer.append_short(line_ref(line.data(), line.size(), line.size() + 100));
  EXPECT_EQ(contents(buffer), line);
}

TEST(SendBuffer, ReserveKeepsTheBytesAndConsumeKeepsTheTail) {
  send_buffer buffer;
  buffer.reserve(8);
  buffer.append("abcdefgh");
  buffer.reserve(4);  // never shrinks
  EXPECT_EQ(buffer.capacity(), 8u);
  buffer.reserve(64);
  EXPECT_EQ(contents(buffer), "abcdefgh");
  buffer.consume(3);
  EXPECT_EQ(contents(buffer), "defgh");
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 64u);
  buffer.release();
  EXPECT_EQ(buffer.capacity(), 0u);
  EXPECT_EQ(buffer.data(), nullptr);
}

}  // namespace
}  // namespace eventserver
