#include "followermaze/proc_stats.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

namespace followermaze {
namespace {

TEST(ProcStats, CpuSecondsFromStat) {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const char* stat = "4242 (event server) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 150 0 0 20 0 3 0 100 1 2\n";
  EXPECT_DOUBLE_EQ(*cpu_seconds_from_stat(stat, 100), 4.0);
  // A command name with ") " in it does not shift the fields.
  const char* tricky = "7 (a) b) (c) R 1 7 7 0 -1 0 0 0 0 0 33 67 0 0 20 0 1 0 5 1 2\n";
  EXPECT_DOUBLE_EQ(*cpu_seconds_from_stat(tricky, 100), 1.0);
  EXPECT_EQ(cpu_seconds_from_stat("garbage", 100), std::nullopt);
  EXPECT_EQ(cpu_seconds_from_stat("1 (x) S 1 2", 100), std::nullopt);
}

TEST(ProcStats, PeakRssFromStatus) {
  const char* status = "Name:\teventserver\nVmPeak:\t  200000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t   10000 kB\n";
  EXPECT_EQ(peak_rss_kb_from_status(status), 12345U);
  EXPECT_EQ(peak_rss_kb_from_status("Name:\tx\n"), std::nullopt);
}

TEST(ProcStats, ReadsItsOwnProcess) {
  const auto stats = read_process_stats(static_cast<int>(getpid()));
  ASSERT_TRUE(stats.has_value());
  EXPECT_GT(stats->peak_rss_kb, 0U);
  EXPECT_GE(stats->cpu_seconds, 0.0);
  EXPECT_EQ(read_process_stats(0), std::nullopt);
}

}  // namespace
}  // namespace followermaze
