#include "eventserver/core/write_pacing.hpp"

#include <gtest/gtest.h>

namespace eventserver {
namespace {

using namespace std::chrono_literals;
using clock = write_pacing::clock;

const clock::time_point t0 = clock::time_point{} + 1h;

TEST(WritePacing, TheFirstIdlePassIsAtOnce) {
  write_pacing pacing(50ms, t0);
  const auto verdict = pacing.decide(t0 + 1ms, true);
  EXPECT_TRUE(verdict.pass);
  EXPECT_FALSE(verdict.due);
}

TEST(WritePacing, BusyInputWaitsForTheDelaySinceNothingWaited) {
  write_pacing pacing(50ms, t0);
  pacing.nothing_waiting(t0 + 10ms);
  EXPECT_FALSE(pacing.decide(t0 + 59ms, false).pass);
  EXPECT_FALSE(pacing.decide(t0 + 59ms, false).due) << "busy input's next batch decides, not a timer";
  EXPECT_TRUE(pacing.decide(t0 + 60ms, false).pass);
}

// A source that sends a little at a time, each read emptying the socket: passes no closer
// than ten times their length, the next one due when that has gone by.
TEST(WritePacing, IdleInputRightAfterAPassWaitsTenTimesItsLength) {
  write_pacing pacing(50ms, t0);
  pacing.passed(t0, t0 + 2ms);
  EXPECT_EQ(pacing.idle_hold(), 20ms);
  const auto held = pacing.decide(t0 + 3ms, true);
  EXPECT_FALSE(held.pass);
  ASSERT_TRUE(held.due);
  EXPECT_EQ(*held.due, t0 + 22ms);
  EXPECT_FALSE(pacing.decide(t0 + 21ms, true).pass);
  EXPECT_TRUE(pacing.decide(t0 + 22ms, true).pass);
}

// After a quiet spell the first notification goes out at once: the last pass ended long ago.
TEST(WritePacing, IdleInputAfterAQuietSpellIsWrittenAtOnce) {
  write_pacing pacing(50ms, t0);
  pacing.passed(t0, t0 + 2ms);
  pacing.nothing_waiting(t0 + 30ms);
  EXPECT_TRUE(pacing.decide(t0 + 30ms, true).pass);
}

// Idle input is never held past the delay, even after a pass that took longer (thousands of
// clients, or the process waiting for a core); busy input waits as long as the pass took.
TEST(WritePacing, IdleHoldIsAtMostTheDelay) {
  write_pacing pacing(50ms, t0);
  pacing.passed(t0, t0 + 10ms);  // ten times would be 100 ms
  EXPECT_EQ(pacing.idle_hold(), 50ms);
  EXPECT_EQ(pacing.busy_hold(), 50ms);
  pacing.passed(t0 + 1s, t0 + 1s + 200ms);
  EXPECT_EQ(pacing.idle_hold(), 50ms);
  EXPECT_EQ(pacing.busy_hold(), 200ms);
  EXPECT_FALSE(pacing.decide(t0 + 1s + 249ms, true).pass);
  EXPECT_TRUE(pacing.decide(t0 + 1s + 250ms, true).pass);
  pacing.nothing_waiting(t0 + 1s + 200ms);
  EXPECT_FALSE(pacing.decide(t0 + 1s + 399ms, false).pass);
  EXPECT_TRUE(pacing.decide(t0 + 1s + 400ms, false).pass);
  pacing.passed(t0 + 2s, t0 + 2s + 100us);  // cheap again: held as briefly
  EXPECT_EQ(pacing.idle_hold(), 1ms);
  EXPECT_EQ(pacing.busy_hold(), 50ms);
}

TEST(WritePacing, ADelayOfZeroHoldsNothing) {
  write_pacing pacing(0ms, t0);
  EXPECT_TRUE(pacing.decide(t0, false).pass);
  pacing.passed(t0, t0 + 5ms);
  EXPECT_TRUE(pacing.decide(t0 + 5ms, false).pass);
  EXPECT_TRUE(pacing.decide(t0 + 5ms, true).pass);
}

}  // namespace
}  // namespace eventserver
