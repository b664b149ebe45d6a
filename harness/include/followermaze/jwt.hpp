#pragma once
// The tokens the harness's clients present when the daemon's clientAuth is "jwt"
// (docs/protocol.md, "Authentication"): compact JWS, HS256, claims `sub` (the user id as a
// decimal string), `exp`, `iat`, and `aud` / `iss` when the run names them. Signed here with
// OpenSSL's HMAC, independently of the daemon's verifier, like everything the harness checks.
//
// --chaos-bad-tokens draws from the tokens a verifier must refuse (bad_token_kind).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "followermaze/wire.hpp"

namespace followermaze {

// base64url without padding (RFC 7515 section 2).
std::string base64url(std::span<const unsigned char> bytes);
inline std::string base64url(std::string_view text) {
  return base64url(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

// The HS256 signature of `signing_input` (base64url(header) "." base64url(payload)), base64url.
std::string hs256_signature(std::string_view secret, std::string_view signing_input);

// The secret the daemon's jwtKeyFile holds (jwtAlgorithm HS256), as the daemon reads it: the file's bytes with one
// trailing "\n" or "\r\n" removed, at least 32 bytes. Returns the error (empty) in `error`.
std::string read_jwt_secret(const std::string& path, std::string& error);
inline constexpr std::size_t min_jwt_secret_bytes = 32;

struct jwt_settings {
  std::string secret;
  std::uint32_t ttl_s = 3600;
  std::string audience;  // empty: no `aud` claim
  std::string issuer;    // empty: no `iss` claim
};

// A token for `user` issued at `now_s` (seconds since the Unix epoch), expiring ttl_s later.
std::string sign_token(const jwt_settings& settings, user_id user, std::int64_t now_s);

// What the daemon must refuse. Each closes the connection before a byte is written.
enum class bad_token_kind : std::uint8_t {
  wrong_signature,  // signed with another secret
  expired,          // exp a day ago: past any sane leeway
  other_user,       // a valid token whose sub is not the user the handshake names
  garbage,          // not a JWS at all
  missing,          // the bare classic handshake, no token
  alg_none,         // {"alg":"none"} and no signature: the classic downgrade
  wrong_audience,   // only when the run names an audience
  wrong_issuer,     // only when the run names an issuer
};
inline constexpr std::uint8_t bad_token_kind_count = 8;

std::string_view to_string(bad_token_kind kind) noexcept;
// The kinds that apply to a run: the audience and issuer ones only when those claims are checked.
bool bad_token_applies(bad_token_kind kind, const jwt_settings& settings) noexcept;
// The token of a bad kind for a handshake that names `user` (empty for `missing`).
std::string bad_token(bad_token_kind kind, const jwt_settings& settings, user_id user, std::int64_t now_s);

// Seconds since the Unix epoch: what exp and iat count in.
std::int64_t unix_now_s() noexcept;

}  // namespace followermaze
