#include "followermaze/wire.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace followermaze {
namespace {

std::string line_of(const event& e) {
  std::array<char, max_event_line_bytes> buffer{};
  return std::string(buffer.data(), write_line(buffer.data(), e));
}

std::string payload_of(const event& e) {
  std::array<char, max_event_line_bytes> buffer{};
  return std::string(buffer.data(), write_payload(buffer.data(), e));
}

std::string u64(std::uint64_t v) {
  std::array<char, 24> buffer{};
  return std::string(buffer.data(), write_u64(buffer.data(), v));
}

TEST(Wire, WritesDecimalNumbers) {
  EXPECT_EQ(u64(0), "0");
  EXPECT_EQ(u64(7), "7");
  EXPECT_EQ(u64(10), "10");
  EXPECT_EQ(u64(99), "99");
  EXPECT_EQ(u64(100), "100");
  EXPECT_EQ(u64(9999), "9999");
  EXPECT_EQ(u64(10000), "10000");
  EXPECT_EQ(u64(1234567890), "1234567890");
  EXPECT_EQ(u64(18446744073709551615ULL), "18446744073709551615");
  for (std::uint64_t v = 1; v < 10'000'000'000'000'000'000ULL; v *= 10) {
    EXPECT_EQ(u64(v), std::to_string(v));
    EXPECT_EQ(u64(v - 1), std::to_string(v - 1));
  }
}

TEST(Wire, FormatsEveryEventTypeAsTheSpecShows) {
  EXPECT_EQ(line_of({666, 60, 50, event_kind::follow, 0}), "666|F|60|50\r\n");
  EXPECT_EQ(line_of({1, 12, 9, event_kind::unfollow, 0}), "1|U|12|9\r\n");
  EXPECT_EQ(line_of({542532, 0, 0, event_kind::broadcast, 0}), "542532|B\r\n");
  EXPECT_EQ(line_of({43, 32, 56, event_kind::private_message, 0}), "43|P|32|56\r\n");
  EXPECT_EQ(line_of({634, 32, 0, event_kind::status_update, 0}), "634|S|32\r\n");
  // from/to of a broadcast and `to` of a status update are not on the wire.
  EXPECT_EQ(line_of({5, 1, 2, event_kind::broadcast, 0}), "5|B\r\n");
  EXPECT_EQ(line_of({6, 3, 4, event_kind::status_update, 0}), "6|S|3\r\n");
}

TEST(Wire, BadBodiesKeepTheirSequenceNumberAndBreakTheBody) {
  const auto bad = [](std::uint8_t variant) { return payload_of({123, 1, 2, event_kind::bad_body, variant}); };
  EXPECT_EQ(bad(0), "123|X|1|2");
  EXPECT_EQ(bad(1), "123|F|1");
  EXPECT_EQ(bad(2), "123|P|1|a2");
  EXPECT_EQ(bad(3), "123|S|1|2");
  EXPECT_EQ(bad(4), "123|");
  EXPECT_EQ(bad(5), "123|FF|1|2");
  EXPECT_EQ(bad(6), "123|U|1|2|2");
  EXPECT_EQ(bad(7), "123|B|");
  EXPECT_EQ(bad(8), bad(0));
}

TEST(Wire, LongestLinesFitTheBound) {
  const event widest{18446744073709551615ULL, 4294967295U, 4294967295U, event_kind::follow, 0};
  EXPECT_LE(line_of(widest).size(), max_event_line_bytes);
  for (std::uint8_t v = 0; v < bad_body_variants; ++v) {
    EXPECT_LE(line_of({widest.seq, widest.from, widest.to, event_kind::bad_body, v}).size(), max_event_line_bytes);
  }
}

TEST(Wire, GarbageLines) {
  const auto garbage = [](garbage_kind kind) {
    std::string buffer(max_garbage_line_bytes, '\0');
    buffer.resize(static_cast<std::size_t>(write_garbage(buffer.data(), kind) - buffer.data()));
    return buffer;
  };
  EXPECT_EQ(garbage(garbage_kind::empty), "\r\n");
  EXPECT_EQ(garbage(garbage_kind::not_a_number), "abc|B\r\n");
  EXPECT_EQ(garbage(garbage_kind::negative), "-5|B\r\n");
  EXPECT_EQ(garbage(garbage_kind::overflow), "18446744073709551616|B\r\n");
  EXPECT_EQ(garbage(garbage_kind::huge), "99999999999999999999999|P|1|2\r\n");
  EXPECT_EQ(garbage(garbage_kind::empty_sequence), "|B\r\n");
  EXPECT_EQ(garbage(garbage_kind::leading_space), " 5|B\r\n");
  EXPECT_EQ(garbage(garbage_kind::zero), "0|B\r\n");
  const auto overlong = garbage(garbage_kind::overlong);
  EXPECT_EQ(overlong.size(), overlong_garbage_bytes + 2);
  EXPECT_EQ(overlong.find_first_not_of('x'), overlong_garbage_bytes);
  // None of them starts with a sequence number the server could accept as fresh.
  for (std::uint8_t k = 0; k < garbage_kind_count; ++k) {
    const auto seq = leading_sequence(garbage(static_cast<garbage_kind>(k)));
    EXPECT_TRUE(!seq || *seq == 0) << static_cast<int>(k);
  }
}

TEST(Wire, ParsesStrictUnsignedNumbers) {
  EXPECT_EQ(parse_u64("0"), 0U);
  EXPECT_EQ(parse_u64("42"), 42U);
  EXPECT_EQ(parse_u64("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_EQ(parse_u64("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_u64(""), std::nullopt);
  EXPECT_EQ(parse_u64("-1"), std::nullopt);
  EXPECT_EQ(parse_u64("+1"), std::nullopt);
  EXPECT_EQ(parse_u64(" 1"), std::nullopt);
  EXPECT_EQ(parse_u64("1x"), std::nullopt);
}

TEST(Wire, LeadingSequenceOfAReceivedLine) {
  EXPECT_EQ(leading_sequence("634|S|32\r\n"), 634U);
  EXPECT_EQ(leading_sequence("542532|B\r\n"), 542532U);
  EXPECT_EQ(leading_sequence("abc|B\r\n"), std::nullopt);
}

TEST(Wire, PrintableEscapesControlBytesAndCuts) {
  EXPECT_EQ(printable("1|B\r\n"), "1|B\\r\\n");
  EXPECT_EQ(printable(std::string_view("a\0b\x7f", 4)), "a\\x00b\\x7f");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
}

TEST(Wire, KindNames) {
  EXPECT_EQ(event_type_letter(event_kind::follow), 'F');
  EXPECT_EQ(event_type_letter(event_kind::status_update), 'S');
  EXPECT_EQ(to_string(event_kind::private_message), "private");
}

}  // namespace
}  // namespace followermaze

namespace followermaze {
namespace {

TEST(Wire, DigitCountAtEveryPowerOfTwoAndTen) {
  for (int bit = 0; bit < 64; ++bit) {
    const std::uint64_t v = 1ULL << bit;
    EXPECT_EQ(u64(v), std::to_string(v));
    EXPECT_EQ(u64(v - 1), std::to_string(v - 1));
    EXPECT_EQ(u64(v + 1), std::to_string(v + 1));
  }
  for (std::uint64_t v = 0; v < 100'000; ++v) ASSERT_EQ(u64(v), std::to_string(v));
}

}  // namespace
}  // namespace followermaze

namespace followermaze {
namespace {

TEST(Wire, DecimalCounterCountsLikeToString) {
  decimal_counter counter(0);
  EXPECT_EQ(counter.text(), "0");
  for (std::uint64_t v = 1; v <= 100'500; ++v) {
    counter.increment();
    ASSERT_EQ(counter.value(), v);
    ASSERT_EQ(counter.text(), std::to_string(v));
  }
  decimal_counter big(9'999'999'999'999'999'999ULL);
  big.increment();
  EXPECT_EQ(big.text(), "10000000000000000000");
  decimal_counter top(18446744073709551614ULL);
  top.increment();
  EXPECT_EQ(top.text(), "18446744073709551615");
}

TEST(Wire, BodyIsThePayloadAfterTheSequenceNumber) {
  std::array<char, max_event_line_bytes> buffer{};
  const event e{77, 5, 6, event_kind::private_message, 0};
  EXPECT_EQ(std::string(buffer.data(), write_body(buffer.data(), e)), "|P|5|6");
}

}  // namespace
}  // namespace followermaze

namespace followermaze {
namespace {

TEST(Wire, IdsOfEveryWidthFormatLikeToString) {
  for (std::uint32_t id : {0U, 1U, 9U, 10U, 99U, 100U, 999U, 1000U, 9999U, 10000U, 65535U, 99999U, 100000U, 4294967295U}) {
    EXPECT_EQ(line_of({5, id, id, event_kind::follow, 0}), "5|F|" + std::to_string(id) + "|" + std::to_string(id) + "\r\n");
  }
  for (std::uint32_t id = 0; id < 20'000; ++id) {
    ASSERT_EQ(line_of({1, id, 0, event_kind::status_update, 0}), "1|S|" + std::to_string(id) + "\r\n");
  }
}

TEST(Wire, DecimalCounterWritesItsDigits) {
  decimal_counter counter(41);
  counter.increment();
  std::array<char, 40> buffer{};
  const char* end = counter.write(buffer.data());
  EXPECT_EQ(std::string(static_cast<const char*>(buffer.data()), end), "42");
}

}  // namespace
}  // namespace followermaze
