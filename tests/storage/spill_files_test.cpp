// A slow client's spill: what is written comes back in order, in whole lines, once; the budget
// and the count of files are kept; a dropped owner's bytes leave the budget; a file that cannot
// be made is reported on the read, never as bytes that were not written.
#include "eventserver/storage/spill_files.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "storage/storage_test_support.hpp"

namespace eventserver::storage {
namespace {

using testing::event_loop;
using testing::temp_dir;

// write() takes an lvalue it moves out of: a named copy of `text` each time.
bool write(spill_files& files, std::uint64_t owner, const std::string& text) {
  std::vector<char> bytes(text.begin(), text.end());
  return files.write(owner, bytes);
}

std::string lines_from(std::uint64_t first, std::uint64_t last, std::size_t pad = 0) {
  std::string out;
  for (std::uint64_t seq = first; seq <= last; ++seq) out += std::to_string(seq) + "|P|" + std::string(pad, '0') + "1|2\r\n";
  return out;
}

class SpillFiles : public ::testing::Test {
 protected:
  // One read of `owner`, run to its answer.
  spill_store::read_result read(spill_files& files, std::uint64_t owner, std::size_t max_bytes) {
    std::optional<spill_store::read_result> got;
    files.read(owner, max_bytes, [&got](spill_store::read_result result) { got = std::move(result); });
    EXPECT_TRUE(loop_.run_until([&got] { return got.has_value(); }));
    return got.value_or(spill_store::read_result{});
  }
  // Everything `owner` holds, read `max_bytes` at a time.
  std::string read_all(spill_files& files, std::uint64_t owner, std::size_t max_bytes) {
    std::string out;
    for (;;) {
      auto got = read(files, owner, max_bytes);
      EXPECT_EQ(got.error, "");
      if (got.bytes.empty()) return out;
      EXPECT_EQ(got.bytes.back(), '\n');  // whole lines only
      out.append(got.bytes.begin(), got.bytes.end());
    }
  }

  temp_dir dir_{"eventserver-spill"};
  event_loop loop_;
};

TEST_F(SpillFiles, WhatIsWrittenComesBackInOrderInWholeLines) {
  spill_files files(dir_.path(), 1 << 20, loop_.post());
  const std::string first = lines_from(1, 300);
  const std::string second = lines_from(301, 700);
  ASSERT_TRUE(write(files, 7, first));
  ASSERT_TRUE(write(files, 7, second));
  EXPECT_EQ(files.held(7), first.size() + second.size());
  EXPECT_EQ(read_all(files, 7, 1000), first + second);  // 1000 bytes cut lines: they come whole
  EXPECT_EQ(files.held(7), 0u);
  EXPECT_EQ(files.in_use(), 0u);
  // Read to its end, the file starts over; later writes come back as well.
  ASSERT_TRUE(write(files, 7, lines_from(701, 710)));
  EXPECT_EQ(read_all(files, 7, 64 << 10), lines_from(701, 710));
}

TEST_F(SpillFiles, OwnersAreKeptApart) {
  spill_files files(dir_.path(), 1 << 20, loop_.post());
  ASSERT_TRUE(write(files, 1, lines_from(1, 10)));
  ASSERT_TRUE(write(files, 2, lines_from(11, 20)));
  ASSERT_TRUE(write(files, 1, lines_from(21, 30)));
  EXPECT_EQ(read_all(files, 2, 4096), lines_from(11, 20));
  EXPECT_EQ(read_all(files, 1, 4096), lines_from(1, 10) + lines_from(21, 30));
  EXPECT_TRUE(read(files, 3, 4096).bytes.empty());  // never wrote: nothing, no error
}

TEST_F(SpillFiles, AFirstLineLongerThanTheReadComesWhole) {
  spill_files files(dir_.path(), 1 << 20, loop_.post());
  const std::string line = lines_from(1, 1, 5000);
  ASSERT_TRUE(write(files, 1, line + lines_from(2, 3)));
  const auto got = read(files, 1, 100);
  EXPECT_EQ(std::string(got.bytes.begin(), got.bytes.end()), line);
  EXPECT_EQ(read_all(files, 1, 100), lines_from(2, 3));
}

TEST_F(SpillFiles, TheBudgetAndTheFilesAreKept) {
  const std::string block = lines_from(1, 100);  // about 1 KiB
  spill_files files(dir_.path(), 2 * block.size() + 10, loop_.post(), /*max_files=*/2);
  ASSERT_TRUE(write(files, 1, block));
  ASSERT_TRUE(write(files, 2, block));
  std::vector<char> refused(block.begin(), block.end());
  EXPECT_FALSE(files.write(2, refused));  // past the budget: nothing taken
  EXPECT_EQ(std::string(refused.begin(), refused.end()), block);
  EXPECT_EQ(files.held(2), block.size());
  EXPECT_FALSE(write(files, 3, "1|B\r\n"));  // a third file: refused
  EXPECT_EQ(files.held(3), 0u);
  // Read back, the bytes leave the budget; dropped, too.
  EXPECT_EQ(read_all(files, 1, 64 << 10), block);
  ASSERT_TRUE(write(files, 2, block));
  files.drop(2);
  EXPECT_EQ(files.in_use(), 0u);
  EXPECT_TRUE(write(files, 3, "1|B\r\n"));
  EXPECT_EQ(read_all(files, 3, 4096), "1|B\r\n");
  // A dropped owner starts again empty.
  EXPECT_TRUE(read(files, 2, 4096).bytes.empty());
}

TEST_F(SpillFiles, AFileThatCannotBeMadeIsReportedOnTheRead) {
  const std::string missing = (dir_.path() / "no-such-directory").string();
  EXPECT_NE(spill_files::check_directory(missing), "");
  EXPECT_EQ(spill_files::check_directory(dir_.path()), "");
  spill_files files(missing, 1 << 20, loop_.post());
  ASSERT_TRUE(write(files, 1, lines_from(1, 10)));
  const auto got = read(files, 1, 4096);
  EXPECT_TRUE(got.bytes.empty());
  EXPECT_NE(got.error.find("cannot make a spill file"), std::string::npos) << got.error;
  EXPECT_NE(read(files, 1, 4096).error, "");  // and it stays failed
}

TEST_F(SpillFiles, NothingIsLeftInTheDirectory) {
  {
    spill_files files(dir_.path(), 1 << 20, loop_.post());
    ASSERT_TRUE(write(files, 1, lines_from(1, 1000)));
    EXPECT_EQ(read(files, 1, 100).error, "");  // the file exists now
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));  // unnamed
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
}

}  // namespace
}  // namespace eventserver::storage
