#include "eventserver/core/event.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <random>
#include <string>

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

// Up to 19 digits the parser skips the overflow checks; the 20th digit and beyond take them.
TEST(ParseEvent, NumbersAroundTheNineteenDigitBoundary) {
  EXPECT_EQ(parse_event("9999999999999999999|B").ev.seq, 9999999999999999999ULL);
  EXPECT_EQ(parse_event("10000000000000000000|B").ev.seq, 10000000000000000000ULL);
  EXPECT_EQ(parse_event("18446744073709551609|B").ev.seq, 18446744073709551609ULL);
  EXPECT_EQ(parse_event("000000000000000000000000042|S|0000000000000000000007").ev.seq, 42u);
  EXPECT_EQ(parse_event("000000000000000000000000042|S|0000000000000000000007").ev.from, 7u);
  EXPECT_EQ(parse_event("18446744073709551620|B").status, parse_status::no_sequence);
  EXPECT_EQ(parse_event("7|S|18446744073709551616").status, parse_status::bad_body);
  EXPECT_EQ(parse_event("7|S|100000000000000000000").status, parse_status::bad_body);
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

// The parser reads up to eight digits with one word load; these cover its edges: every
// length from 1 to 21 digits, numbers at the end of lines shorter and longer than eight
// bytes, and the bytes just outside '0'..'9' right after the digits.
std::optional<std::uint64_t> reference_u64(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

TEST(ParseU64, EveryLengthAgreesWithFromChars) {
  std::mt19937_64 rng(42);
  for (std::size_t length = 1; length <= 21; ++length) {
    for (int round = 0; round < 200; ++round) {
      std::string digits;
      for (std::size_t i = 0; i < length; ++i) digits += static_cast<char>('0' + rng() % 10);
      EXPECT_EQ(parse_u64(digits), reference_u64(digits)) << digits;
    }
  }
  EXPECT_EQ(parse_u64("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_EQ(parse_u64("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_u64("00000000000000000000000000042"), 42u);
  EXPECT_EQ(parse_u64("99999999"), 99999999u);
  EXPECT_EQ(parse_u64("100000000"), 100000000u);
}

TEST(ParseU64, BytesBesideTheDigitRangeEndANumber) {
  // '/' and ':' border the digits; 0xB0..0xB9 and 0x00 share a digit's low nibble.
  for (const char stray : {'/', ':', ';', '?', '\xb0', '\xb9', '\0', ' ', 'a', '\x7f', '\xff'}) {
    for (std::size_t before = 0; before <= 9; ++before) {
      std::string text(before, '7');
      text += stray;
      text += "12";
      EXPECT_EQ(parse_u64(text), std::nullopt) << before << " digits then byte " << int(stray);
      std::string line = "5|S|";  // appended, not operator+: GCC 12 warns falsely (-Wrestrict) on the latter
      line.append(before, '7');
      line += stray;
      EXPECT_EQ(parse_event(line).status, parse_status::bad_body) << line;
    }
  }
}

TEST(ParseEvent, NumbersAtTheEndOfShortAndLongLines) {
  for (std::size_t seq_digits = 1; seq_digits <= 19; ++seq_digits) {  // 20 nines overflow
    for (std::size_t id_digits = 1; id_digits <= 20; ++id_digits) {
      const std::string seq(seq_digits, '9');
      std::string id(id_digits, '0');
      id.front() = '1';
      std::string line = seq;
      line.append("|P|3|").append(id);
      const auto r = parse_event(line);
      ASSERT_EQ(r.status, parse_status::ok) << seq << " " << id;
      EXPECT_EQ(r.ev.seq, *reference_u64(seq));
      EXPECT_EQ(r.ev.from, 3u);
      EXPECT_EQ(r.ev.to, *reference_u64(id));
      line = seq;
      line.append("|S|").append(id);
      const auto s = parse_event(line);
      EXPECT_EQ(s.ev.from, *reference_u64(id));
    }
  }
  EXPECT_EQ(parse_event("18446744073709551615|S|18446744073709551615").ev.from, 18446744073709551615ULL);
  EXPECT_EQ(parse_event("1|S|2").ev.from, 2u);  // under eight bytes: read digit by digit
  EXPECT_EQ(parse_event("1|B").ev.seq, 1u);
  EXPECT_EQ(parse_event("12345678").status, parse_status::bad_body);  // no type
  EXPECT_EQ(parse_event("12345678|S|").status, parse_status::bad_body);  // empty id at the end
}

// parse_event_line as the event-source session calls it: on a buffer where the line is followed
// by its terminator and, somewhere after, a '\0' and the word parse_event_line may read (a
// line_reader's slack). The result points into `buffered`.
const char* parse_buffered(const std::string& buffered, parse_result& parsed) {
  thread_local std::string padded;
  padded = buffered + std::string(parse_event_line_padding, '\0');
  const char* end = parse_event_line(padded.c_str(), parsed);
  return end == nullptr ? nullptr : buffered.c_str() + (end - padded.c_str());
}

TEST(ParseEventLine, TakesWellFormedLinesWithTheSameEventAsParseEvent) {
  const std::string lines[] = {"1|F|60|50", "542532|B", "43|P|32|56", "634|S|32", "11|U|12|9",
                               "9999999999999999999|P|1234567890123456789|0", "0|S|0", "007|F|01|002"};
  for (const auto& line : lines) {
    for (const char* terminator : {"\n", "\r\n"}) {
      const std::string buffered = line + terminator + "2|B\n";  // the next line follows
      parse_result fast;
      const char* newline = parse_buffered(buffered, fast);
      ASSERT_NE(newline, nullptr) << line;
      EXPECT_EQ(newline, buffered.c_str() + line.size() + std::strlen(terminator) - 1) << line;
      const auto slow = parse_event(line);
      ASSERT_EQ(fast.status, parse_status::ok);
      EXPECT_EQ(fast.ev.seq, slow.ev.seq) << line;
      EXPECT_EQ(fast.ev.type, slow.ev.type) << line;
      EXPECT_EQ(fast.ev.from, slow.ev.from) << line;
      EXPECT_EQ(fast.ev.to, slow.ev.to) << line;
    }
  }
}

// Numbers are read a word at a time: every length from 1 to 20 digits, in each field, ended
// by every kind of byte, gives what parse_event gives (or is declined).
TEST(ParseEventLine, EveryNumberLengthAndEveryByteAfterItAgreeWithParseEvent) {
  const std::string digits = "98765432109876543210";
  for (std::size_t length = 1; length <= digits.size(); ++length) {
    const std::string n = digits.substr(digits.size() - length);
    for (const std::string& line : {n + "|B", "1|S|" + n, "7|F|" + n + "|42", "7|P|42|" + n}) {
      for (const int after : {int{'\n'}, int{'\r'}, int{'|'}, 0, int{'/'}, int{':'}, int{' '}, int{'a'}, 0x80, 0xb9, 0xff}) {
        const std::string buffered = line + static_cast<char>(after) + "\n";
        parse_result fast;
        const char* newline = parse_buffered(buffered, fast);
        const bool well_formed = after == '\n' || after == '\r';
        if (!well_formed || length > 19) {
          EXPECT_EQ(newline, nullptr) << line << " then " << after;
          continue;
        }
        ASSERT_NE(newline, nullptr) << line << " then " << after;
        const auto slow = parse_event(line);
        ASSERT_EQ(slow.status, parse_status::ok) << line;
        EXPECT_EQ(fast.ev.seq, slow.ev.seq) << line;
        EXPECT_EQ(fast.ev.type, slow.ev.type) << line;
        EXPECT_EQ(fast.ev.from, slow.ev.from) << line;
        EXPECT_EQ(fast.ev.to, slow.ev.to) << line;
      }
    }
  }
}

TEST(ParseEventLine, LeavesEveryOtherLineToParseEvent) {
  const std::string declined[] = {
      "1|B",                                 // no terminator before the '\0': a partial line
      "1|S|3\r",                             // its '\n' has not arrived
      "\n", "\r\n",                          // empty line
      "x|B\n", "|B\n", "-1|B\n", "+1|B\n",   // no sequence number
      "1\n", "1|\n", "1|X|2\n", "1|f|2|3\n",  // no type, unknown type, lowercase type
      "1|BB\n", "1|B|\n", "1|B|3\n",          // broadcast with more than its type
      "1|S\n", "1|S|\n", "1|S|x\n", "1|S|3|4\n", "1|S| 3\n",
      "1|F|2\n", "1|F|2|\n", "1|F||3\n", "1|F|2|3|\n", "1|F|2|3|4\n", "1|P|2|3 \n",
      "1|B\r\r\n", "1|B \n",                  // more than one '\r', trailing space
      "12345678901234567890|B\n",           // 20 digits: parse_event decides (it may overflow)
      "1|S|00000000000000000001\n", "1|P|2|99999999999999999999\n",
  };
  for (const auto& line : declined) {
    parse_result fast;
    EXPECT_EQ(parse_buffered(line, fast), nullptr) << line;
    EXPECT_EQ(fast.status, parse_status::no_sequence) << line;  // untouched
  }
}

TEST(StripCr, RemovesOneTrailingCarriageReturn) {
  EXPECT_EQ(strip_cr("1|B\r"), "1|B");
  EXPECT_EQ(strip_cr("1|B"), "1|B");
  EXPECT_EQ(strip_cr("\r"), "");
}

}  // namespace
}  // namespace eventserver
