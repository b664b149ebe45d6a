#include "eventserver/app/log_tool.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/log_directory.hpp"
#include "eventserver/storage/snapshot_encoder.hpp"
#include "eventserver/storage/snapshot_file.hpp"
#include "storage/storage_test_support.hpp"

namespace eventserver {
namespace {

using storage::testing::events_batch;
using storage::testing::temp_dir;

struct tool_run {
  int status = -1;
  std::string out;
  std::string err;
};

tool_run run(std::vector<std::string> args) {
  args.insert(args.begin(), "log");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  std::ostringstream out;
  std::ostringstream err;
  tool_run result;
  result.status = run_log_tool(static_cast<int>(argv.size()), argv.data(), out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

// Epoch 1: 1..40 in two segments, a skip of 21..22; epoch 2: 1..10. One snapshot.
void make_log(const temp_dir& dir) {
  storage::log_options options;
  options.dir = dir.path();
  options.segment_bytes = 200;  // two batches of ten fill a segment
  storage::log_directory log = storage::log_directory::open(options);
  ASSERT_FALSE(log.append(1, events_batch(1, 10)));
  ASSERT_FALSE(log.append(1, events_batch(11, 10)));
  ASSERT_FALSE(log.append(1, storage::testing::skip_batch(21, 2)));
  ASSERT_FALSE(log.append(1, events_batch(23, 18)));
  ASSERT_FALSE(log.append(2, events_batch(1, 10)));
  storage::snapshot_encoder encoder(1, 30);
  const std::vector<user_id> followed{2, 3};
  encoder.add(1, followed);
  encoder.finish();
  storage::snapshot_file_writer writer;
  ASSERT_FALSE(writer.open(dir.path(), 1, 30));
  ASSERT_FALSE(writer.finish(encoder.take_output()));
}

std::string payload(sequence_number seq) {
  const std::string line = storage::testing::event_line(seq);
  return line.substr(0, line.size() - 2);
}

TEST(LogTool, Usage) {
  EXPECT_EQ(run({}).status, 2);
  const tool_run unknown = run({"shred", "-data-dir", "/tmp"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_EQ(unknown.err.rfind("eventserver log: unknown action 'shred'\nusage: eventserver log", 0), 0u);
  EXPECT_EQ(run({"list"}).err.rfind("eventserver log: -data-dir is required", 0), 0u);
  EXPECT_EQ(run({"dump", "-data-dir", "/tmp", "-from", "x"}).err, "eventserver log: -from needs a number\n");
  EXPECT_EQ(run({"list", "-data-dir", "/nonexistent/eventserver"}).status, 1);
  // `eventserver -help` points here.
  for (const char* help : {"-help", "--help", "-h"}) {
    const tool_run asked = run({help});
    EXPECT_EQ(asked.status, 0) << help;
    EXPECT_EQ(asked.out.rfind("usage: eventserver log", 0), 0u) << help;
    EXPECT_EQ(asked.err, "") << help;
  }
}

TEST(LogTool, ListShowsSegmentsAndSnapshots) {
  temp_dir dir;
  make_log(dir);
  const tool_run listed = run({"list", "-data-dir", dir.path()});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("segments (3):\n  " + storage::segment_file_name(1, 1) + "  epoch 1  seq 1..20  ", 0), 0u)
      << listed.out;
  EXPECT_NE(listed.out.find("  " + storage::segment_file_name(1, 21) + "  epoch 1  seq 21..40  "), std::string::npos);
  EXPECT_NE(listed.out.find("  " + storage::segment_file_name(2, 1) + "  epoch 2  seq 1..10  "), std::string::npos);
  EXPECT_NE(listed.out.find("snapshots (1):\n  " + storage::snapshot_file_name(1, 30) + "  epoch 1  seq 30  "),
            std::string::npos);
}

TEST(LogTool, DumpPrintsARangeAsStored) {
  temp_dir dir;
  make_log(dir);
  const tool_run dumped = run({"dump", "-data-dir", dir.path(), "-epoch", "1", "-from", "18", "-to", "25"});
  EXPECT_EQ(dumped.status, 0) << dumped.err;
  EXPECT_EQ(dumped.out, payload(18) + "\n" + payload(19) + "\n" + payload(20) + "\n" + payload(23) + "\n" +
                            payload(24) + "\n" + payload(25) + "\n");
  EXPECT_EQ(dumped.err, "skipped 21..22 (gap timeout)\n");

  const tool_run newest = run({"dump", "-data-dir=" + dir.path().string(), "-from=9"});
  EXPECT_EQ(newest.out, payload(9) + "\n" + payload(10) + "\n");  // epoch 2 by default

  EXPECT_EQ(run({"dump", "-data-dir", dir.path(), "-epoch", "4"}).status, 1);
}

TEST(LogTool, VerifyFindsDamageAndRepairCutsIt) {
  temp_dir dir;
  make_log(dir);
  const tool_run clean = run({"verify", "-data-dir", dir.path()});
  EXPECT_EQ(clean.status, 0) << clean.out;
  EXPECT_EQ(clean.out.substr(clean.out.size() - 6), "clean\n");

  // A flipped bit in the first batch (the skip of 21..22) of the segment holding 21..40.
  const std::string path = dir.file(storage::segment_file_name(1, 21));
  storage::testing::flip_bit(path, 5);
  const tool_run damaged = run({"verify", "-data-dir", dir.path()});
  EXPECT_EQ(damaged.status, 1);
  EXPECT_NE(damaged.out.find("DAMAGED " + path + " at byte offset 0: checksum mismatch (24 bytes before the next "
                             "valid batch)\n"),
            std::string::npos)
      << damaged.out;
  EXPECT_EQ(damaged.out.substr(damaged.out.size() - 8), "damaged\n");

  // A damaged snapshot is named too.
  const std::string snapshot = dir.file(storage::snapshot_file_name(1, 30));
  storage::testing::flip_bit(snapshot, 50);
  EXPECT_NE(run({"verify", "-data-dir", dir.path()}).out.find("DAMAGED snapshot " + snapshot + " at byte offset 40"),
            std::string::npos);

  const tool_run repaired = run({"repair", "-data-dir", dir.path()});
  EXPECT_EQ(repaired.status, 0) << repaired.err;
  EXPECT_NE(repaired.out.find("repair: " + storage::segment_file_name(1, 21) + " is damaged at byte offset 0"),
            std::string::npos)
      << repaired.out;
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing valid was left in it
  EXPECT_EQ(run({"dump", "-data-dir", dir.path(), "-epoch", "1", "-from", "19"}).out,
            payload(19) + "\n" + payload(20) + "\n");
}

TEST(LogTool, RepairRefusesWhileTheDaemonHoldsTheLock) {
  temp_dir dir;
  make_log(dir);
  storage::log_options options;
  options.dir = dir.path();
  const storage::log_directory held = storage::log_directory::open(options);
  const tool_run refused = run({"repair", "-data-dir", dir.path()});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("is in use"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace eventserver
