#pragma once
// Verifies the compact JWS a client presents (protocol.md, "Authentication") against the one
// algorithm and key the deployment configured. Built once at start-up or reload, where it may
// throw; verify() then runs on the event thread: no I/O, no exceptions, memory bounded by
// max_token_bytes.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "eventserver/auth/token.hpp"

namespace eventserver {

// Claims or the reason for refusal. Spelled like std::expected (C++23) so that it can become
// one when the toolchain has it.
class token_result {
 public:
  token_result(token_claims claims) noexcept : claims_(claims) {}  // NOLINT: implicit, as expected's
  token_result(token_refusal refusal) noexcept : refusal_(refusal), ok_(false) {}  // NOLINT

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  // Meaningful only when has_value().
  const token_claims& value() const noexcept { return claims_; }
  const token_claims& operator*() const noexcept { return claims_; }
  const token_claims* operator->() const noexcept { return &claims_; }
  // Meaningful only when !has_value().
  token_refusal error() const noexcept { return refusal_; }

 private:
  token_claims claims_{};
  token_refusal refusal_ = token_refusal::malformed;
  bool ok_ = true;
};

class token_verifier {
 public:
  // Longer tokens are refused as malformed before anything is decoded: real ones are a few
  // hundred bytes (an RS256 signature with a 4096-bit key is 683 characters).
  static constexpr std::size_t max_token_bytes = 8192;
  // A key file is read whole; anything larger is not a key.
  static constexpr std::size_t max_key_file_bytes = 64 * 1024;
  // RFC 7518 3.2: an HS256 key at least as long as the hash.
  static constexpr std::size_t min_secret_bytes = 32;
  static constexpr int min_rsa_bits = 2048;

  // Reads settings.key_file (a regular file of at most max_key_file_bytes) and builds the
  // verifier. Throws auth_error naming the file when it cannot be read or holds no usable key.
  static token_verifier load(const token_settings& settings);
  // The same from key bytes already in memory (the file's content): for tests and tools.
  // settings.key_file is used only in error messages.
  static token_verifier from_key(const token_settings& settings, std::string_view key);

  // Move-only (it owns OpenSSL objects); a moved-from verifier may only be assigned or destroyed.
  token_verifier(token_verifier&&) noexcept;
  token_verifier& operator=(token_verifier&&) noexcept;
  ~token_verifier();

  // `token` is untrusted network input. Never throws: any failure, allocation included,
  // is a refusal. Keeps nothing between calls (the key objects are only read), and leaves
  // OpenSSL's per-thread error queue as it found it.
  token_result verify(std::string_view token, std::chrono::system_clock::time_point now) const noexcept;

  token_algorithm algorithm() const noexcept;

 private:
  struct impl;
  explicit token_verifier(std::unique_ptr<const impl> state) noexcept;
  std::unique_ptr<const impl> impl_;
};

}  // namespace eventserver
