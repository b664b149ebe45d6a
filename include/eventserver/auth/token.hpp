#pragma once
// The vocabulary of client authentication (protocol.md, "Authentication"): the algorithms a
// deployment may configure, why a token is refused, what an accepted token yields, and the
// settings a verifier is built from. Plain data: no OpenSSL, no JSON library in this header.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "eventserver/core/event.hpp"

namespace eventserver {

// Exactly one algorithm per deployment: a token is checked against the configured one and
// never against the one its header names (that is how HS256/RS256 key confusion and
// `alg: none` are shut out).
enum class token_algorithm : std::uint8_t {
  hs256,  // HMAC-SHA256 with a shared secret
  rs256,  // RSASSA-PKCS1-v1_5 with SHA-256, an RSA public key of at least 2048 bits
  es256,  // ECDSA on P-256 with SHA-256
};

// The JOSE names, "HS256", "RS256", "ES256": what a token's `alg` header must hold.
std::string_view to_string(token_algorithm algorithm) noexcept;
// The JOSE name, exactly (case-sensitive, as RFC 7518 spells it); nullopt for anything else.
std::optional<token_algorithm> parse_token_algorithm(std::string_view name) noexcept;

// Why a token was refused. verify() checks in this order and reports the first failure:
// structure (malformed), header `alg` (wrong_algorithm), signature (bad_signature), then the
// claims: exp present (missing_expiry), sub (missing_subject, bad_subject), time (expired,
// not_yet_valid), iss (wrong_issuer), aud (wrong_audience). Nothing in the payload is looked
// at before the signature has verified.
enum class token_refusal : std::uint8_t {
  malformed,        // not header.payload.signature in strict base64url, not JSON objects, too long,
                    // `alg` absent or not a string, a `crit` header, `exp`/`nbf` not numbers
  bad_signature,    // the signature does not verify with the configured key
  wrong_algorithm,  // `alg` is not the configured algorithm (`none` included)
  expired,          // now >= exp + leeway
  not_yet_valid,    // now < nbf - leeway
  wrong_audience,   // audience configured and not in `aud` (a string or an array of strings)
  wrong_issuer,     // issuer configured and `iss` is not exactly it
  missing_subject,  // no `sub`
  bad_subject,      // `sub` neither a decimal u64 string nor a non-negative JSON integer < 2^64
  missing_expiry,   // no `exp`
  user_mismatch,    // for the caller: `sub` is not the user the handshake named (never from verify)
};

// Stable lower-case names ("malformed", "bad_signature", ...), used as metric labels.
std::string_view to_string(token_refusal refusal) noexcept;

// What an accepted token tells the daemon.
struct token_claims {
  user_id user = 0;
  // exp plus the leeway: the first instant at which verify() refuses this token as expired,
  // so the moment a session that rests on it must end. Saturates at time_point::max() for
  // an exp beyond what system_clock can represent.
  std::chrono::system_clock::time_point expires;
};

struct token_settings {
  token_algorithm algorithm = token_algorithm::hs256;
  // HS256: the shared secret (the file's bytes, one trailing "\n" or "\r\n" removed, at least
  // 32 bytes as RFC 7518 3.2 requires). RS256 / ES256: a PEM public key
  // ("-----BEGIN PUBLIC KEY-----"). A regular file of at most 64 KiB.
  std::string key_file;
  std::string audience;  // empty: `aud` is not checked
  std::string issuer;    // empty: `iss` is not checked
  std::chrono::seconds leeway{0};  // clock skew tolerated on exp and nbf; not negative
};

// Start-up and reload failures: an unreadable or unsuitable key, a bad setting. The message
// names the file and says what is wrong with it.
class auth_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace eventserver
