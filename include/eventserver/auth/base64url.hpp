#pragma once
// RFC 4648 section 5 base64url without padding, as JWS (RFC 7515 section 2) uses it. The
// decoder is strict: each value has exactly one accepted encoding, so a token cannot be
// re-spelled (padding, other alphabets, whitespace, non-zero spare bits) and stay valid.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace eventserver {

std::string base64url_encode(std::string_view bytes);

// Decoded size of a well-formed encoding of `encoded_size` characters (an upper bound if not).
constexpr std::size_t base64url_decoded_size(std::size_t encoded_size) noexcept {
  return encoded_size / 4 * 3 + (encoded_size % 4 == 0 ? 0 : encoded_size % 4 - 1);
}

// Decodes `text` into `out`, which must hold base64url_decoded_size(text.size()) bytes.
// Returns the bytes written, or nullopt unless `text` is the canonical unpadded base64url of
// some bytes: alphabet A-Z a-z 0-9 - _ only, length not 1 mod 4, spare low bits zero.
std::optional<std::size_t> base64url_decode(std::string_view text, char* out) noexcept;

// The same into a string; nullopt as above.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace eventserver
