#pragma once
// Makes compact JWS tokens: what the application's backend does in production. The daemon
// never signs; the tests, the benchmarks and tools that need a valid token do.

#include <memory>
#include <string>
#include <string_view>

#include "eventserver/auth/token.hpp"

namespace eventserver {

class token_signer {
 public:
  // HS256: `key` is the secret itself (no newline stripping, no minimum length: a test may
  // want a short one). RS256 / ES256: a PEM private key of the matching type. Throws
  // auth_error for a key that does not fit the algorithm.
  static token_signer from_key(token_algorithm algorithm, std::string_view key);

  token_signer(token_signer&&) noexcept;
  token_signer& operator=(token_signer&&) noexcept;
  ~token_signer();

  // header {"alg":"<algorithm>","typ":"JWT"}, the given payload JSON (not checked).
  std::string sign(std::string_view payload_json) const;
  // Any header and payload bytes, signed as they are: for tests that need a hostile token
  // with a valid signature. Throws auth_error if OpenSSL fails.
  std::string sign(std::string_view header_json, std::string_view payload_json) const;
  // The signature part over `signing_input` ("<b64url header>.<b64url payload>").
  std::string signature(std::string_view signing_input) const;

  token_algorithm algorithm() const noexcept;

 private:
  struct impl;
  explicit token_signer(std::unique_ptr<const impl> state) noexcept;
  std::unique_ptr<const impl> impl_;
};

}  // namespace eventserver
