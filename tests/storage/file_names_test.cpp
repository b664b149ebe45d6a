#include "eventserver/storage/file_names.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace eventserver::storage {
namespace {

TEST(FileNames, FormatsZeroPaddedNames) {
  EXPECT_EQ(segment_file_name(1, 1), "00000000000000000001-00000000000000000001.log");
  EXPECT_EQ(index_file_name(3, 4097), "00000000000000000003-00000000000000004097.idx");
  EXPECT_EQ(snapshot_file_name(2, 18446744073709551615u), "snapshot-00000000000000000002-18446744073709551615.snap");
  EXPECT_EQ(temporary_file_name(snapshot_file_name(1, 5)), "snapshot-00000000000000000001-00000000000000000005.snap.tmp");
  EXPECT_EQ(damaged_file_name(segment_file_name(1, 1)), "00000000000000000001-00000000000000000001.log.damaged");
}

TEST(FileNames, ParsesWhatItFormats) {
  const auto segment = parse_file_name(segment_file_name(7, 123456));
  EXPECT_EQ(segment.kind, file_kind::segment);
  EXPECT_EQ(segment.epoch, 7u);
  EXPECT_EQ(segment.seq, 123456u);

  const auto index = parse_file_name(index_file_name(7, 123456));
  EXPECT_EQ(index.kind, file_kind::segment_index);
  EXPECT_EQ(index.seq, 123456u);

  const auto snapshot = parse_file_name(snapshot_file_name(18446744073709551615u, 0));
  EXPECT_EQ(snapshot.kind, file_kind::snapshot);
  EXPECT_EQ(snapshot.epoch, 18446744073709551615u);
  EXPECT_EQ(snapshot.seq, 0u);

  EXPECT_EQ(parse_file_name("LOCK").kind, file_kind::lock);
  EXPECT_EQ(parse_file_name(temporary_file_name(segment_file_name(1, 1))).kind, file_kind::temporary);
  EXPECT_EQ(parse_file_name(damaged_file_name(segment_file_name(1, 1))).kind, file_kind::damaged);
}

TEST(FileNames, RejectsNearMisses) {
  for (const char* name : {
           "0000000000000000001-00000000000000000001.log",    // 19 digits
           "000000000000000000001-00000000000000000001.log",  // 21 digits
           "00000000000000000001_00000000000000000001.log",   // wrong separator
           "0000000000000000000a-00000000000000000001.log",   // not a digit
           "99999999999999999999-00000000000000000001.log",   // over u64
           "00000000000000000001-00000000000000000001.LOG",
           "snapshot-00000000000000000001-00000000000000000001.log",
           "snapshot-00000000000000000001.snap",
           "lock",
           ".tmp",
           "",
           "README",
       }) {
    const auto info = parse_file_name(name);
    EXPECT_EQ(info.kind, file_kind::unknown) << name;
    EXPECT_EQ(info.epoch, 0u) << name;
    EXPECT_EQ(info.seq, 0u) << name;
  }
}

TEST(FileNames, SortAsTheirNumbers) {
  std::vector<std::string> names = {segment_file_name(2, 1), segment_file_name(1, 100000), segment_file_name(1, 99),
                                    segment_file_name(10, 5)};
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{segment_file_name(1, 99), segment_file_name(1, 100000),
                                             segment_file_name(2, 1), segment_file_name(10, 5)}));
}

TEST(FileNames, JoinsPaths) {
  EXPECT_EQ(join_path("/var/lib/eventserver", "LOCK"), "/var/lib/eventserver/LOCK");
  EXPECT_EQ(join_path("/var/lib/eventserver/", "LOCK"), "/var/lib/eventserver/LOCK");
}

}  // namespace
}  // namespace eventserver::storage
