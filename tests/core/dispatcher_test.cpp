// The input policies of SPEC.md, driven line by line with an explicit clock.
#include "eventserver/core/dispatcher.hpp"

#include <gtest/gtest.h>

#include "support/recording.hpp"

namespace eventserver {
namespace {

using testing::recording_recipient;
using lines = std::vector<std::string>;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

class DispatcherTest : public ::testing::Test {
 protected:
  explicit DispatcherTest(stream_settings c = {}) : settings(c), dispatch(settings, stats) {}

  void feed(std::initializer_list<std::string_view> input) {
    // Taken: processed, or dropped by a policy (stale included); never left waiting.
    for (const auto line : input) ASSERT_NE(dispatch.offer_line(line), dispatcher::line_outcome::window_full) << line;
  }

  stream_settings settings;
  counters stats;
  dispatcher dispatch;
  recording_recipient alice;
};

TEST_F(DispatcherTest, ShuffledStreamIsAppliedInOrder) {
  dispatch.routes().connect(1, alice);
  feed({"3|B", "1|B", "4|B", "2|B"});
  EXPECT_EQ(alice.lines, (lines{"1|B", "2|B", "3|B", "4|B"}));
  EXPECT_EQ(stats.events_processed, 4u);
  EXPECT_EQ(stats.events_accepted, 4u);
}

// Without a log an event is applied as it is released: its arrival is the read's.
TEST_F(DispatcherTest, WithoutALogTheEventsAppliedArriveWithTheirRead) {
  const auto read_at = clock_type::time_point{} + 5s;
  dispatch.note_input(read_at);
  EXPECT_EQ(dispatch.applying_arrival(), read_at);
  feed({"1|B"});
  EXPECT_EQ(dispatch.applying_arrival(), read_at);
  EXPECT_EQ(stats.durable_latency.count(), 0u);  // nothing is made durable
}

TEST_F(DispatcherTest, LineWithoutSequenceNumberIsDroppedAndCounted) {
  dispatch.routes().connect(1, alice);
  feed({"", "abc", "-1|B", "18446744073709551616|B", "1|B"});
  EXPECT_EQ(alice.lines, lines{"1|B"});
  EXPECT_EQ(stats.rejected_no_sequence, 4u);
  EXPECT_EQ(stats.lines_received, 5u);
}

TEST_F(DispatcherTest, BadBodyConsumesItsSlotSoTheStreamGoesOn) {
  dispatch.routes().connect(1, alice);
  feed({"3|B", "2|X|1|2", "1|B"});
  EXPECT_EQ(alice.lines, (lines{"1|B", "3|B"}));
  EXPECT_EQ(stats.rejected_bad_body, 1u);
  EXPECT_EQ(stats.events_processed, 3u);
  EXPECT_EQ(dispatch.sequence().next_expected(), 4u);
}

TEST_F(DispatcherTest, DuplicateAndStaleNumbersAreDroppedAndCounted) {
  dispatch.routes().connect(1, alice);
  feed({"2|B", "2|P|9|1", "1|B", "1|B", "2|B"});
  EXPECT_EQ(alice.lines, (lines{"1|B", "2|B"}));
  EXPECT_EQ(stats.rejected_duplicate, 1u);
  EXPECT_EQ(stats.rejected_stale, 2u);
}

TEST_F(DispatcherTest, BadBodyOnAProcessedNumberCountsAsStaleNotBadBody) {
  feed({"1|B", "1|Q"});
  EXPECT_EQ(stats.rejected_stale, 1u);
  EXPECT_EQ(stats.rejected_bad_body, 0u);
}

class SmallWindowTest : public DispatcherTest {
 protected:
  static stream_settings small() {
    stream_settings c;
    c.max_pending_events = 4;
    c.gap_timeout = 500ms;
    return c;
  }
  SmallWindowTest() : DispatcherTest(small()) {}
};

TEST_F(SmallWindowTest, FullWindowRefusesLinesAheadButTakesTheAwaitedOne) {
  dispatch.routes().connect(1, alice);
  feed({"2|B", "3|B", "4|B", "5|B"});
  EXPECT_EQ(dispatch.offer_line("6|B"), dispatcher::line_outcome::window_full);
  EXPECT_EQ(stats.window_full_pauses, 1u);
  EXPECT_EQ(dispatch.offer_line("7|B"), dispatcher::line_outcome::window_full);
  EXPECT_EQ(stats.window_full_pauses, 1u);  // one pause, however many refusals
  EXPECT_EQ(dispatch.offer_line("garbage"), dispatcher::line_outcome::consumed);
  EXPECT_EQ(dispatch.offer_line("1|B"), dispatcher::line_outcome::consumed);
  EXPECT_EQ(alice.lines, (lines{"1|B", "2|B", "3|B", "4|B", "5|B"}));
  EXPECT_EQ(dispatch.offer_line("6|B"), dispatcher::line_outcome::consumed);
}

// The window is a range: a line further than maxPendingEvents past the awaited number waits
// in its source even while the window is nearly empty, so it cannot take a place that the
// numbers before it will need.
TEST_F(SmallWindowTest, LineBeyondTheWindowsRangeWaitsEvenWhenTheWindowIsEmpty) {
  dispatch.routes().connect(1, alice);
  EXPECT_EQ(dispatch.offer_line("6|B"), dispatcher::line_outcome::window_full);
  EXPECT_EQ(dispatch.sequence().pending(), 0u);
  EXPECT_EQ(dispatch.offer_line("5|B"), dispatcher::line_outcome::consumed);  // 4 past 1: inside
  EXPECT_EQ(dispatch.offer_line("1|B"), dispatcher::line_outcome::consumed);
  EXPECT_EQ(dispatch.offer_line("6|B"), dispatcher::line_outcome::consumed);  // the window moved to 2
  EXPECT_EQ(alice.lines, (lines{"1|B"}));
  EXPECT_EQ(stats.window_full_pauses, 1u);
}

TEST_F(SmallWindowTest, GapTimeoutSkipsTheMissingRangeAfterTheDeadlineOnly) {
  dispatch.routes().connect(1, alice);
  const auto t0 = clock_type::now();
  feed({"4|B", "5|B"});
  dispatch.end_batch(t0);
  ASSERT_TRUE(dispatch.gaps().deadline());
  EXPECT_EQ(*dispatch.gaps().deadline(), t0 + 500ms);
  EXPECT_FALSE(dispatch.skip_expired_gap(t0 + 499ms));
  EXPECT_TRUE(alice.lines.empty());
  const auto gap = dispatch.skip_expired_gap(t0 + 500ms);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->first, 1u);
  EXPECT_EQ(gap->last, 3u);
  EXPECT_EQ(alice.lines, (lines{"4|B", "5|B"}));
  EXPECT_EQ(stats.gaps_skipped, 1u);
  EXPECT_EQ(stats.sequence_numbers_skipped, 3u);
  EXPECT_FALSE(dispatch.gaps().gap_open());
  feed({"2|B"});
  EXPECT_EQ(stats.rejected_stale, 1u);  // a skipped number that turns up late is stale
}

TEST_F(SmallWindowTest, ProgressRestartsTheGapClock) {
  const auto t0 = clock_type::now();
  feed({"2|B", "4|B"});
  dispatch.end_batch(t0);
  feed({"1|B"});  // 1 and 2 go; now 3 is missing
  dispatch.end_batch(t0 + 400ms);
  EXPECT_EQ(*dispatch.gaps().deadline(), t0 + 900ms);
  EXPECT_FALSE(dispatch.skip_expired_gap(t0 + 600ms));
  EXPECT_TRUE(dispatch.skip_expired_gap(t0 + 900ms));
  EXPECT_EQ(dispatch.sequence().next_expected(), 5u);
}

// Issue 12, item 3: a producer resuming past the window (here, to a daemon that lost its
// state) used to leave the awaited number at 1 for ever with no gap reported at all.
TEST_F(SmallWindowTest, LinesWaitingBeyondTheWindowMakeTheStallVisibleAndTheTimeoutEndsIt) {
  dispatch.routes().connect(1, alice);
  const auto t0 = clock_type::now();
  EXPECT_EQ(dispatch.offer_line("500001|B"), dispatcher::line_outcome::window_full);
  EXPECT_EQ(dispatch.lowest_refused(), 500001u);
  dispatch.end_batch(t0);
  ASSERT_TRUE(dispatch.gaps().gap_open());
  EXPECT_EQ(dispatch.gaps().missing(), 1u);
  EXPECT_EQ(*dispatch.gaps().deadline(), t0 + 500ms);
  EXPECT_EQ(dispatch.offer_line("500002|B"), dispatcher::line_outcome::window_full);
  dispatch.end_batch(t0 + 100ms);  // still the same gap: its clock keeps running
  EXPECT_EQ(*dispatch.gaps().since(), t0);
  const auto gap = dispatch.skip_expired_gap(t0 + 500ms);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->first, 1u);
  EXPECT_EQ(gap->last, 500000u);
  EXPECT_EQ(stats.sequence_numbers_skipped, 500000u);
  EXPECT_EQ(dispatch.lowest_refused(), std::nullopt);
  // The source offers its lines again once the window moved; now they enter.
  feed({"500002|B", "500001|B"});
  EXPECT_EQ(alice.lines, (lines{"500001|B", "500002|B"}));
}

// The timeout skips to the lowest number held anywhere: a pending one below a refused one.
TEST_F(SmallWindowTest, GapTimeoutSkipsOnlyToTheLowestNumberHeldAnywhere) {
  dispatch.routes().connect(1, alice);
  const auto t0 = clock_type::now();
  feed({"3|B"});
  EXPECT_EQ(dispatch.offer_line("9|B"), dispatcher::line_outcome::window_full);
  dispatch.end_batch(t0);
  const auto gap = dispatch.skip_expired_gap(t0 + 500ms);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->first, 1u);
  EXPECT_EQ(gap->last, 2u);
  EXPECT_EQ(alice.lines, (lines{"3|B"}));
  EXPECT_EQ(dispatch.offer_line("9|B"), dispatcher::line_outcome::window_full);  // 4 is awaited now: 9 is still beyond
  feed({"5|B"});
  EXPECT_EQ(dispatch.lowest_refused(), 9u);
}

// Issue 12, item 4: a wild number more than maxSequenceJump ahead is rejected at once, so it
// never occupies its source's buffer and holds back the lines behind it.
TEST_F(DispatcherTest, LineFurtherAheadThanMaxSequenceJumpIsRejectedAndCounted) {
  dispatch.routes().connect(1, alice);
  feed({"1|B"});
  EXPECT_EQ(dispatch.offer_line("1700000000000|B"), dispatcher::line_outcome::consumed);
  EXPECT_EQ(dispatch.offer_line("10000003|B"), dispatcher::line_outcome::consumed);  // 2 + 10,000,001: over
  EXPECT_EQ(stats.rejected_too_far, 2u);
  EXPECT_EQ(stats.lines_received, 3u);
  EXPECT_EQ(dispatch.offer_line("10000002|B"), dispatcher::line_outcome::window_full);  // exactly the jump: waits
  EXPECT_EQ(stats.rejected_too_far, 2u);
  feed({"2|B"});
  EXPECT_EQ(alice.lines, (lines{"1|B", "2|B"}));
}

TEST_F(DispatcherTest, MaxSequenceJumpZeroRejectsNothing) {
  stream_settings unlimited;
  unlimited.max_sequence_jump = 0;
  counters other_stats;
  dispatcher other(unlimited, other_stats);
  EXPECT_EQ(other.offer_line("18446744073709551615|B"), dispatcher::line_outcome::window_full);
  EXPECT_EQ(other_stats.rejected_too_far, 0u);
}

TEST_F(DispatcherTest, GapsNeverExpireByDefault) {
  const auto t0 = clock_type::now();
  feed({"2|B"});
  dispatch.end_batch(t0);
  EXPECT_TRUE(dispatch.gaps().gap_open());
  EXPECT_FALSE(dispatch.gaps().deadline());
  EXPECT_FALSE(dispatch.skip_expired_gap(t0 + 24h));
  EXPECT_EQ(dispatch.sequence().pending(), 1u);
}

// Starting over (newStreamPolicy restart): a source's stale lines, then its 1, begin a new
// stream that takes them; the counters read as if they came in the new stream only.
TEST_F(DispatcherTest, ASourceStartingOverAloneBeginsANewStreamWithItsFirstBatch) {
  dispatch.routes().connect(1, alice);
  feed({"1|B", "2|B", "3|B"});
  dispatcher::start_over_watch watch;
  int asked = 0;
  const auto lone = [&asked] { return ++asked, true; };
  const auto offer = [&](std::string_view line) { return dispatch.offer_watched(watch, parse_event(line), line, lone); };
  EXPECT_EQ(offer("3|S|9"), dispatcher::line_outcome::stale);
  EXPECT_EQ(offer("2|F|1|9"), dispatcher::line_outcome::stale);
  EXPECT_EQ(asked, 0);  // only a 1 asks whether the source is alone
  EXPECT_EQ(offer("1|B"), dispatcher::line_outcome::began_stream);
  EXPECT_EQ(asked, 1);
  EXPECT_FALSE(watch.watching());
  EXPECT_EQ(dispatch.epoch(), 2u);
  EXPECT_EQ(alice.epochs, (std::vector<stream_epoch>{2}));
  EXPECT_EQ(alice.lines, (lines{"1|B", "2|B", "3|B", "1|B", "3|S|9"}));  // 1 follows 9 in the new stream
  EXPECT_EQ(dispatch.sequence().next_expected(), 4u);
  EXPECT_EQ(stats.streams_started, 1u);
  EXPECT_EQ(stats.rejected_stale, 0u);
  EXPECT_EQ(stats.lines_received, 6u);
}

TEST_F(DispatcherTest, NoNewStreamWithAnotherSourceOrUnderContinueOrAfterAFreshLine) {
  feed({"1|B", "2|B"});
  {
    dispatcher::start_over_watch watch;
    EXPECT_EQ(dispatch.offer_watched(watch, parse_event("1|B"), "1|B", [] { return false; }),
              dispatcher::line_outcome::stale);  // another source is connected
    EXPECT_TRUE(watch.watching());
  }
  {
    dispatcher::start_over_watch watch;
    EXPECT_EQ(dispatch.offer_watched(watch, parse_event("3|B"), "3|B", [] { return true; }),
              dispatcher::line_outcome::consumed);
    EXPECT_FALSE(watch.watching());  // a fresh line: this source is not starting over
  }
  stream_settings continuing;
  continuing.new_stream = new_stream_mode::continue_numbering;
  counters other;
  dispatcher d(continuing, other);
  d.offer_line("1|B");
  d.offer_line("2|B");
  dispatcher::start_over_watch watch;
  EXPECT_EQ(d.offer_watched(watch, parse_event("1|B"), "1|B", [] { return true; }), dispatcher::line_outcome::stale);
  EXPECT_EQ(d.epoch(), 1u);
  EXPECT_EQ(other.streams_started, 0u);
  EXPECT_EQ(dispatch.epoch(), 1u);
}

TEST(WarningLimiter, AllowsABurstThenReportsWhatItSuppressed) {
  warning_limiter limiter(2, 1000ms);
  const auto t0 = clock_type::now();
  EXPECT_EQ(limiter.allow(t0), 0u);
  EXPECT_EQ(limiter.allow(t0 + 1ms), 0u);
  EXPECT_FALSE(limiter.allow(t0 + 2ms));
  EXPECT_FALSE(limiter.allow(t0 + 999ms));
  EXPECT_EQ(limiter.allow(t0 + 1000ms), 2u);
  EXPECT_EQ(limiter.allow(t0 + 1001ms), 0u);
}

TEST(QuoteForLog, EscapesAndTruncatesPeerBytes) {
  EXPECT_EQ(quote_peer_bytes("1|B"), "\"1|B\"");
  EXPECT_EQ(quote_peer_bytes(std::string_view("a\0\x1b\"\xff", 5)), "\"a\\x00\\x1b\\\"\\xff\"");
  EXPECT_EQ(quote_peer_bytes("abcdef", 3), "\"abc\"...(6 bytes)");
}

}  // namespace
}  // namespace eventserver

namespace eventserver {
namespace {

TEST(SuppressedNote, SaysNothingWhenNothingWasSuppressed) {
  EXPECT_EQ(suppressed_note(0), "");
  EXPECT_EQ(suppressed_note(12), " (12 similar warnings suppressed)");
}

}  // namespace
}  // namespace eventserver
