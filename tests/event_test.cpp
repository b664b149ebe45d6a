#include "eventserver/event.hpp"

#include <gtest/gtest.h>

namespace eventserver {
namespace {

TEST(ParseEvent, Follow) {
  const auto r = parse_event("666|F|60|50");
  ASSERT_EQ(r.status, parse_status::ok);
  EXPECT_EQ(r.ev.seq, 666u);
  EXPECT_EQ(r.ev.type, event_type::follow);
  EXPECT_EQ(r.ev.from, 60u);
  EXPECT_EQ(r.ev.to, 50u);
}

TEST(ParseEvent, EveryTypeOfTheProtocolTable) {
  EXPECT_EQ(parse_event("1|U|12|9").ev.type, event_type::unfollow);
  EXPECT_EQ(parse_event("542532|B").ev.type, event_type::broadcast);
  const auto p = parse_event("43|P|32|56");
  EXPECT_EQ(p.ev.type, event_type::private_message);
  EXPECT_EQ(p.ev.from, 32u);
  EXPECT_EQ(p.ev.to, 56u);
  const auto s = parse_event("634|S|32");
  ASSERT_EQ(s.status, parse_status::ok);
  EXPECT_EQ(s.ev.type, event_type::status_update);
  EXPECT_EQ(s.ev.from, 32u);
  EXPECT_EQ(s.ev.seq, 634u);
}

TEST(ParseEvent, FullUnsigned64BitRange) {
  const auto r = parse_event("18446744073709551615|P|18446744073709551615|18446744073709551614");
  ASSERT_EQ(r.status, parse_status::ok);
  EXPECT_EQ(r.ev.seq, 18446744073709551615ULL);
  EXPECT_EQ(r.ev.from, 18446744073709551615ULL);
  EXPECT_EQ(r.ev.to, 18446744073709551614ULL);
}

TEST(ParseEvent, UnreadableSequenceNumbersAreNoSequence) {
  for (const char* line : {"", "|B", "abc", "x|B", "-5|B", "+5|B", " 5|B", "5 |B", "18446744073709551616|B",
                           "99999999999999999999999|B", "1.5|B", "0x10|B"}) {
    EXPECT_EQ(parse_event(line).status, parse_status::no_sequence) << line;
  }
}

TEST(ParseEvent, ReadableSequenceWithBadBodyKeepsTheSequenceNumber) {
  for (const char* line : {"7", "7|", "7|X|1|2", "7|FF|1|2", "7|F|1", "7|F|1|2|3", "7|F|a|2", "7|F|1|", "7|B|1",
                           "7|S", "7|S|1|2", "7|P|1|-2", "7|U||2", "7|P|1|18446744073709551616", "7|f|1|2", "7||1|2", "7|F|1|2|", "7|B|", "7|S|1|"}) {
    const auto r = parse_event(line);
    EXPECT_EQ(r.status, parse_status::bad_body) << line;
    EXPECT_EQ(r.ev.seq, 7u) << line;
    EXPECT_EQ(r.ev.type, event_type::no_op) << line;
  }
}

TEST(ParseU64, DigitsOnly) {
  EXPECT_EQ(parse_u64("0"), 0u);
  EXPECT_EQ(parse_u64("00042"), 42u);
  EXPECT_EQ(parse_u64("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_FALSE(parse_u64("18446744073709551616"));
  EXPECT_EQ(parse_u64("000000000000000000000000001"), 1u);  // leading zeros never overflow
  EXPECT_FALSE(parse_u64("99999999999999999999"));
  EXPECT_FALSE(parse_u64(""));
  EXPECT_FALSE(parse_u64("12a"));
}

TEST(ParseUserId, AcceptsDecimalIdsOnly) {
  EXPECT_EQ(parse_user_id("2932"), 2932u);
  EXPECT_FALSE(parse_user_id(""));
  EXPECT_FALSE(parse_user_id("-1"));
  EXPECT_FALSE(parse_user_id("12 "));
  EXPECT_FALSE(parse_user_id("abc"));
}

TEST(StripCr, RemovesOneTrailingCarriageReturn) {
  EXPECT_EQ(strip_cr("1|B\r"), "1|B");
  EXPECT_EQ(strip_cr("1|B"), "1|B");
  EXPECT_EQ(strip_cr("\r"), "");
}

}  // namespace
}  // namespace eventserver
