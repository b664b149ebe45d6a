#include "eventserver/auth/base64url.hpp"

#include <array>
#include <cstdint>

namespace eventserver {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t invalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_values() {
  std::array<std::uint8_t, 256> values{};
  values.fill(invalid);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    values[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return values;
}
constexpr std::array<std::uint8_t, 256> values = make_values();

std::uint32_t value_of(char c) noexcept { return values[static_cast<unsigned char>(c)]; }

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto byte = [&](std::size_t at) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    text += alphabet[group >> 18];
    text += alphabet[group >> 12 & 63];
    text += alphabet[group >> 6 & 63];
    text += alphabet[group & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t group = byte(i) << 16;
    text += alphabet[group >> 18];
    text += alphabet[group >> 12 & 63];
  } else if (rest == 2) {
    const std::uint32_t group = byte(i) << 16 | byte(i + 1) << 8;
    text += alphabet[group >> 18];
    text += alphabet[group >> 12 & 63];
    text += alphabet[group >> 6 & 63];
  }
  return text;
}

std::optional<std::size_t> base64url_decode(std::string_view text, char* out) noexcept {
  const std::size_t tail = text.size() % 4;
  if (tail == 1) return std::nullopt;  // 6 bits cannot end a byte
  const std::size_t whole = text.size() - tail;
  char* p = out;
  for (std::size_t i = 0; i < whole; i += 4) {
    const std::uint32_t a = value_of(text[i]), b = value_of(text[i + 1]), c = value_of(text[i + 2]),
                        d = value_of(text[i + 3]);
    if ((a | b | c | d) > 63) return std::nullopt;  // a byte outside the alphabet
    const std::uint32_t group = a << 18 | b << 12 | c << 6 | d;
    *p++ = static_cast<char>(group >> 16);
    *p++ = static_cast<char>(group >> 8 & 0xff);
    *p++ = static_cast<char>(group & 0xff);
  }
  if (tail == 2) {
    const std::uint32_t a = value_of(text[whole]), b = value_of(text[whole + 1]);
    // The last character carries 2 bits of the byte and 4 spare bits that must be zero.
    if ((a | b) > 63 || (b & 0x0f) != 0) return std::nullopt;
    *p++ = static_cast<char>(a << 2 | b >> 4);
  } else if (tail == 3) {
    const std::uint32_t a = value_of(text[whole]), b = value_of(text[whole + 1]), c = value_of(text[whole + 2]);
    if ((a | b | c) > 63 || (c & 0x03) != 0) return std::nullopt;  // 2 spare bits
    const std::uint32_t group = a << 18 | b << 12 | c << 6;
    *p++ = static_cast<char>(group >> 16);
    *p++ = static_cast<char>(group >> 8 & 0xff);
  }
  return static_cast<std::size_t>(p - out);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string bytes(base64url_decoded_size(text.size()), '\0');
  const auto size = base64url_decode(text, bytes.data());
  if (!size) return std::nullopt;
  bytes.resize(*size);
  return bytes;
}

}  // namespace eventserver
