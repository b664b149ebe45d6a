#include "eventserver/core/line_ref.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace eventserver {
namespace {

TEST(LineRef, APlainViewPromisesOnlyItsOwnBytes) {
  const std::string line = "7|B\r\n";
  const line_ref ref = line;
  EXPECT_EQ(ref.view(), line);
  EXPECT_EQ(ref.readable(), line.size());
  EXPECT_FALSE(ref.fits_block(line_ref::short_block));
  const line_ref from_view = std::string_view(line).substr(0, 3);
  EXPECT_EQ(from_view.readable(), 3u);
}

TEST(LineRef, APrefixKeepsWhatMayBeReadFromTheStart) {
  const std::string memory = "12|S|3\r\n" + std::string(line_ref::readable_margin, '\0');
  const line_ref ref(memory.data(), 8, memory.size());
  const line_ref payload = ref.prefix(6);
  EXPECT_EQ(payload.view(), "12|S|3");
  EXPECT_EQ(payload.readable(), memory.size());
  EXPECT_TRUE(payload.fits_block(line_ref::short_block));
  EXPECT_TRUE(payload.fits_block(line_ref::readable_margin));
}

// The fixed-size copy moves Block bytes but the line is exactly what the reader of `to` keeps;
// a line that may not be read that far, or is longer, is copied exactly (AddressSanitizer
// would catch a block read past a plain view's bytes).
TEST(LineRef, CopyLineMovesABlockOnlyWhenTheLineAllowsIt) {
  char to[64];
  std::string(sizeof to, '#').copy(to, sizeof to);
  const std::string padded = "1|B\r\n" + std::string(line_ref::short_block, 'x');
  copy_line<line_ref::short_block>(to, line_ref(padded.data(), 5, padded.size()));
  EXPECT_EQ(std::string_view(to, 5), "1|B\r\n");
  EXPECT_EQ(to[line_ref::short_block - 1], 'x') << "one block moved";
  EXPECT_EQ(to[line_ref::short_block], '#');

  std::string(sizeof to, '#').copy(to, sizeof to);
  const std::string exact = "2|B\r\n";
  copy_line<line_ref::short_block>(to, line_ref(exact));
  EXPECT_EQ(std::string_view(to, 6), "2|B\r\n#") << "only the line's bytes moved";

  const std::string longer(40, 'L');
  const std::string memory = longer + std::string(line_ref::readable_margin, '\0');
  std::string(sizeof to, '#').copy(to, sizeof to);
  copy_line<line_ref::short_block>(to, line_ref(memory.data(), longer.size(), memory.size()));
  EXPECT_EQ(std::string_view(to, 41), longer + "#") << "a line longer than the block is copied exactly";
}

}  // namespace
}  // namespace eventserver
