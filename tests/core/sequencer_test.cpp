#include "eventserver/core/sequencer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "support/recording.hpp"

namespace eventserver {
namespace {

event broadcast(sequence_number seq) { return {seq, event_type::broadcast, 0, 0}; }

struct released {
  std::vector<sequence_number> seqs;
  std::vector<std::string> payloads;
};

released drain_all(sequencer& s) {
  released out;
  s.drain([&](const event& ev, std::string_view notification) {
    out.seqs.push_back(ev.seq);
    out.payloads.push_back(testing::payload_of(notification));
  });
  return out;
}

// A line in a source's buffer, with more bytes after it: the sequencer copies a fixed-size
// block and must keep exactly the line, with "\r\n" after it.
TEST(Sequencer, AShortLineWithSlackAfterItIsStoredExactly) {
  sequencer s(16);
  const std::string buffer = "1|S|23\n2|F|4|5\r\n" + std::string(64, '9');
  const std::string_view first = std::string_view(buffer).substr(0, 6);
  const std::string_view second = std::string_view(buffer).substr(7, 7);
  ASSERT_EQ(s.offer({2, event_type::follow, 4, 5}, line_ref(second.data(), second.size(), buffer.size() - 7)),
            sequencer::offer_result::accepted);
  ASSERT_EQ(s.offer({1, event_type::status_update, 23, 0}, line_ref(first.data(), first.size(), buffer.size())),
            sequencer::offer_result::accepted);
  std::vector<std::string> notifications;
  char last = 0;
  s.drain([&](const event&, line_ref notification) {
    notifications.emplace_back(notification.view());
    EXPECT_GE(notification.readable(), line_ref::readable_margin);
    last = notification.data()[notification.readable() - 1];  // drain's promise; ASan checks it
  });
  static_cast<void>(last);
  EXPECT_EQ(notifications, (std::vector<std::string>{"1|S|23\r\n", "2|F|4|5\r\n"}));
}

TEST(Sequencer, InOrderEventsAreReleasedImmediately) {
  sequencer s(16);
  for (sequence_number i = 1; i <= 5; ++i) {
    ASSERT_EQ(s.offer(broadcast(i), std::to_string(i) + "|B"), sequencer::offer_result::accepted);
    EXPECT_TRUE(s.ready());
    const auto out = drain_all(s);
    ASSERT_EQ(out.seqs, std::vector<sequence_number>{i});
    EXPECT_EQ(out.payloads[0], std::to_string(i) + "|B");
  }
  EXPECT_EQ(s.next_expected(), 6u);
  EXPECT_EQ(s.pending(), 0u);
}

TEST(Sequencer, OutOfOrderEventsWaitForTheGap) {
  sequencer s(16);
  s.offer(broadcast(3), "3|B");
  s.offer(broadcast(2), "2|B");
  EXPECT_FALSE(s.ready());
  EXPECT_TRUE(s.blocked());
  EXPECT_TRUE(drain_all(s).seqs.empty());
  s.offer(broadcast(1), "1|B");
  const auto out = drain_all(s);
  EXPECT_EQ(out.seqs, (std::vector<sequence_number>{1, 2, 3}));
  EXPECT_EQ(out.payloads, (std::vector<std::string>{"1|B", "2|B", "3|B"}));
  EXPECT_FALSE(s.blocked());
}

TEST(Sequencer, DuplicatePendingAndStaleAreRefused) {
  sequencer s(16);
  EXPECT_EQ(s.offer(broadcast(2), "2|B"), sequencer::offer_result::accepted);
  EXPECT_EQ(s.offer(broadcast(2), "2|B"), sequencer::offer_result::duplicate);
  s.offer(broadcast(1), "1|B");
  drain_all(s);
  EXPECT_EQ(s.offer(broadcast(1), "1|B"), sequencer::offer_result::stale);
  EXPECT_EQ(s.offer(broadcast(2), "2|B"), sequencer::offer_result::stale);
  EXPECT_EQ(s.offer(broadcast(0), "0|B"), sequencer::offer_result::stale);
  EXPECT_EQ(s.pending(), 0u);
}

TEST(Sequencer, FullWhenWindowHoldsMaxPendingEvents) {
  sequencer s(3);
  s.offer(broadcast(2), "");
  s.offer(broadcast(3), "");
  EXPECT_FALSE(s.full());
  s.offer(broadcast(4), "");
  EXPECT_TRUE(s.full());
  EXPECT_EQ(s.pending(), 3u);
  s.offer(broadcast(1), "");  // the awaited number may always enter
  EXPECT_EQ(drain_all(s).seqs.size(), 4u);
  EXPECT_FALSE(s.full());
}

TEST(Sequencer, ShuffledWithinOneHundredComesOutInOrder) {
  sequencer s(1000);
  std::vector<sequence_number> seqs(10000);
  std::iota(seqs.begin(), seqs.end(), 1);
  std::mt19937_64 rng(666);
  for (std::size_t i = 0; i < seqs.size(); i += 100) std::shuffle(seqs.begin() + i, seqs.begin() + i + 100, rng);
  std::vector<sequence_number> out;
  for (const auto seq : seqs) {
    ASSERT_EQ(s.offer(broadcast(seq), std::to_string(seq)), sequencer::offer_result::accepted);
    s.drain([&](const event& ev, std::string_view notification) {
      EXPECT_EQ(notification, std::to_string(ev.seq) + "\r\n");
      out.push_back(ev.seq);
    });
  }
  ASSERT_EQ(out.size(), seqs.size());
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
  EXPECT_EQ(out.back(), 10000u);
  EXPECT_EQ(s.ring_capacity(), 128u);  // a 100-wide shuffle never grows the ring
}

TEST(Sequencer, RingGrowsForAWideWindowAndStaysCorrect) {
  sequencer s(50000);
  std::vector<sequence_number> seqs(40000);
  std::iota(seqs.begin(), seqs.end(), 1);
  std::mt19937_64 rng(1);
  std::shuffle(seqs.begin(), seqs.end(), rng);
  std::vector<sequence_number> out;
  for (const auto seq : seqs) {
    s.offer(broadcast(seq), std::to_string(seq) + "|B");
    s.drain([&](const event& ev, std::string_view notification) {
      EXPECT_EQ(notification, std::to_string(ev.seq) + "|B\r\n");  // moved with its slot
      out.push_back(ev.seq);
    });
  }
  ASSERT_EQ(out.size(), 40000u);
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
  EXPECT_LE(s.ring_capacity(), 65536u);
}

TEST(Sequencer, LongLinesComeBackByteForByte) {
  sequencer s(16);
  const std::string longest_inline(43, '7');
  const std::string one_more(44, '8');
  const std::string huge(1000, '9');
  s.offer(broadcast(3), huge);
  s.offer(broadcast(2), one_more);
  s.offer(broadcast(1), longest_inline);
  const auto out = drain_all(s);
  EXPECT_EQ(out.payloads, (std::vector<std::string>{longest_inline, one_more, huge}));
  // Offered again at the same slots, they must not see the old long lines.
  s.offer(broadcast(4), "4|B");
  s.offer(broadcast(5), one_more);
  EXPECT_EQ(drain_all(s).payloads, (std::vector<std::string>{"4|B", one_more}));
}

TEST(Sequencer, ANoOpHoldsNoBytes) {
  sequencer s(16);
  s.offer(event{1, event_type::no_op, 0, 0}, std::string(1000, 'x'));
  std::vector<std::string> out;
  s.drain([&](const event& ev, std::string_view notification) {
    EXPECT_EQ(ev.type, event_type::no_op);
    out.emplace_back(notification);
  });
  EXPECT_EQ(out, std::vector<std::string>{""});
}

TEST(Sequencer, EventsBeyondTheRingWaitInOverflow) {
  sequencer s(4);  // the ring spans 4 numbers
  EXPECT_EQ(s.offer(broadcast(1000), "far"), sequencer::offer_result::accepted);
  EXPECT_EQ(s.offer(broadcast(1000), "far"), sequencer::offer_result::duplicate);
  EXPECT_EQ(s.offer(broadcast(2), "2"), sequencer::offer_result::accepted);
  EXPECT_EQ(s.pending(), 2u);
  s.offer(broadcast(1), "1");
  EXPECT_EQ(drain_all(s).seqs, (std::vector<sequence_number>{1, 2}));
  const auto gap = s.skip_gap();
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->first, 3u);
  EXPECT_EQ(gap->last, 999u);
  const auto out = drain_all(s);
  EXPECT_EQ(out.seqs, std::vector<sequence_number>{1000});
  EXPECT_EQ(out.payloads, std::vector<std::string>{"far"});
  EXPECT_EQ(s.next_expected(), 1001u);
}

TEST(Sequencer, SkipGapJumpsToTheLowestPendingOnly) {
  sequencer s(16);
  s.offer(broadcast(5), "");
  s.offer(broadcast(9), "");
  const auto gap = s.skip_gap();
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->first, 1u);
  EXPECT_EQ(gap->last, 4u);
  EXPECT_EQ(drain_all(s).seqs, std::vector<sequence_number>{5});
  EXPECT_EQ(s.next_expected(), 6u);
  EXPECT_TRUE(s.blocked());
  EXPECT_EQ(s.offer(broadcast(3), ""), sequencer::offer_result::stale);  // skipped means gone
}

// The gap timeout may end a stall whose next line waits outside the sequencer (beyond the
// window, in its source): skip_to moves the awaited number there, never past a pending event.
TEST(Sequencer, SkipToMovesTheAwaitedNumberButNotPastAPendingEvent) {
  sequencer s(16);
  const auto empty = s.skip_to(500001);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->first, 1u);
  EXPECT_EQ(empty->last, 500000u);
  EXPECT_EQ(s.next_expected(), 500001u);
  EXPECT_EQ(s.offer(broadcast(500001), "a"), sequencer::offer_result::accepted);
  EXPECT_EQ(s.offer(broadcast(500004), "b"), sequencer::offer_result::accepted);
  EXPECT_EQ(drain_all(s).seqs, std::vector<sequence_number>{500001});
  const auto clipped = s.skip_to(500010);  // 500004 is pending: only 500002..500003 go
  ASSERT_TRUE(clipped);
  EXPECT_EQ(clipped->first, 500002u);
  EXPECT_EQ(clipped->last, 500003u);
  EXPECT_EQ(drain_all(s).seqs, std::vector<sequence_number>{500004});
  EXPECT_FALSE(s.skip_to(500005));  // not past the awaited number: nothing to skip
  EXPECT_FALSE(s.skip_to(3));
  EXPECT_EQ(s.lowest_pending(), std::nullopt);
}

TEST(Sequencer, SkipGapWithoutAGapDoesNothing) {
  sequencer s(16);
  EXPECT_FALSE(s.skip_gap());
  s.offer(broadcast(1), "");
  EXPECT_FALSE(s.skip_gap());  // ready, not blocked
  EXPECT_EQ(s.next_expected(), 1u);
}

TEST(Sequencer, EndlessStreamKeepsMemoryFlat) {
  sequencer s(128);
  for (sequence_number base = 1; base < 1'000'000; base += 64) {
    for (sequence_number i = 63; i != static_cast<sequence_number>(-1); --i) {
      s.offer(broadcast(base + i), "123456789|P|123456|654321");
    }
    drain_all(s);
  }
  EXPECT_EQ(s.pending(), 0u);
  EXPECT_EQ(s.ring_capacity(), 128u);
  EXPECT_EQ(s.head(), s.next_expected() - 1);
}

// A slot reused by a payload of another length, short after long and long after short, must
// hand back exactly its own.
TEST(Sequencer, PayloadsOfEveryLengthComeBackByteForByte) {
  sequencer s(8);
  std::vector<std::string> sent;
  std::mt19937_64 rng(5);
  for (std::size_t round = 0; round < 2; ++round) {
    for (std::size_t length = 0; length < 100; ++length) {
      std::string payload(length, '\0');
      for (auto& c : payload) c = static_cast<char>('!' + rng() % 90);
      sent.push_back(payload);
    }
  }
  std::shuffle(sent.begin(), sent.end(), rng);
  std::vector<std::string> got;
  // Offered two at a time in reverse, so each one waits in a slot before it is released.
  for (std::size_t i = 0; i + 1 < sent.size(); i += 2) {
    const sequence_number seq = i + 1;
    ASSERT_EQ(s.offer(broadcast(seq + 1), sent[i + 1]), sequencer::offer_result::accepted);
    ASSERT_EQ(s.offer(broadcast(seq), sent[i]), sequencer::offer_result::accepted);
    for (auto& payload : drain_all(s).payloads) got.push_back(std::move(payload));
  }
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(got[i], sent[i]) << "event " << i + 1;
}

TEST(Sequencer, HeadIsTheHighestAcceptedNumber) {
  sequencer s(16);
  s.offer(broadcast(7), "");
  s.offer(broadcast(3), "");
  EXPECT_EQ(s.head(), 7u);
  EXPECT_EQ(s.next_expected(), 1u);
}

}  // namespace
}  // namespace eventserver
