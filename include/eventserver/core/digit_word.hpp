#pragma once
// Decimal numbers read 8 bytes at a time (the usual SWAR way), for the two parsers of event
// lines: parse_event_line (core/event.cpp, the live path) and user_filter::scan (catch-up).
// A number of up to 7 digits, every user id and sequence number of a typical stream, is found
// and converted with no loop and no branch on its length.

#include <bit>
#include <cstdint>
#include <cstring>

namespace eventserver::detail {

// The 8 bytes at p as one word, p[0] its low byte.
[[gnu::always_inline]] inline std::uint64_t load_word(const char* p) noexcept {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

// The top bit of each byte of `word` that is not an ASCII digit: a byte above 9 (after '0' is
// taken away) reaches 0x80 when 0x76 is added, and one of 0x80 or more has it already. Exact
// up to the lowest such byte: a carry out of a byte comes only from a non-digit and reaches
// only the bytes above it.
[[gnu::always_inline]] inline std::uint64_t non_digits(std::uint64_t word) noexcept {
  const std::uint64_t digits = word ^ 0x3030303030303030U;  // '0'..'9' become 0..9
  return ((digits + 0x7676767676767676U) | digits) & 0x8080808080808080U;
}

// The number of `word`'s low `count` bytes, all digits, most significant first (1 <= count <= 7).
[[gnu::always_inline]] inline std::uint64_t digits_value(std::uint64_t word, unsigned count) noexcept {
  // The digits at the top of the word, zeros (leading zeros) below.
  std::uint64_t v = (word ^ 0x3030303030303030U) << (8 * (8 - count));
  v = v * 10 + (v >> 8);  // each byte pair: a two-digit number in the low byte
  return (((v & 0x000000FF000000FFU) * (100 + (1000000ULL << 32))) +
          (((v >> 16) & 0x000000FF000000FFU) * (1 + (10000ULL << 32)))) >>
         32;
}

// Reads the number at p when a byte that is not a digit stops it within the word: true and p
// past its digits, or false for no digit at all. `decided` false: 8 digits or more, for the
// caller's byte loop. 8 bytes from p must be readable.
[[gnu::always_inline]] inline bool scan_number_word(const char*& p, std::uint64_t& value, bool& decided) noexcept {
  const std::uint64_t word = load_word(p);
  const std::uint64_t stops = non_digits(word);
  decided = stops != 0;
  if (!decided) return false;
  const auto count = static_cast<unsigned>(std::countr_zero(stops)) / 8;  // digits before the stop
  if (count == 0) return false;
  value = digits_value(word, count);
  p += count;
  return true;
}

}  // namespace eventserver::detail
