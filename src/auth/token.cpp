#include "eventserver/auth/token.hpp"

namespace eventserver {

std::string_view to_string(token_algorithm algorithm) noexcept {
  switch (algorithm) {
    case token_algorithm::hs256: return "HS256";
    case token_algorithm::rs256: return "RS256";
    case token_algorithm::es256: return "ES256";
  }
  return "unknown";
}

std::optional<token_algorithm> parse_token_algorithm(std::string_view name) noexcept {
  for (const auto algorithm : {token_algorithm::hs256, token_algorithm::rs256, token_algorithm::es256}) {
    if (name == to_string(algorithm)) return algorithm;
  }
  return std::nullopt;
}

std::string_view to_string(token_refusal refusal) noexcept {
  switch (refusal) {
    case token_refusal::malformed: return "malformed";
    case token_refusal::bad_signature: return "bad_signature";
    case token_refusal::wrong_algorithm: return "wrong_algorithm";
    case token_refusal::expired: return "expired";
    case token_refusal::not_yet_valid: return "not_yet_valid";
    case token_refusal::wrong_audience: return "wrong_audience";
    case token_refusal::wrong_issuer: return "wrong_issuer";
    case token_refusal::missing_subject: return "missing_subject";
    case token_refusal::bad_subject: return "bad_subject";
    case token_refusal::missing_expiry: return "missing_expiry";
    case token_refusal::user_mismatch: return "user_mismatch";
  }
  return "unknown";
}

}  // namespace eventserver
