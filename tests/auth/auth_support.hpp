#pragma once
// What the auth tests share: keys generated with OpenSSL at run time (never checked in), a
// temporary directory for key files, and hand-built tokens for the cases a signer would not
// produce.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "support/temp_directory.hpp"
#include "eventserver/auth/base64url.hpp"
#include "eventserver/auth/token_signer.hpp"
#include "eventserver/auth/token_verifier.hpp"

namespace auth_test {

using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

// Every test runs at this instant, so exp and nbf are exact.
constexpr std::int64_t now_seconds = 1'700'000'000;
inline const clock_type::time_point now{std::chrono::seconds(now_seconds)};

// 32 bytes: the least RFC 7518 allows for HS256.
inline const std::string secret = "0123456789abcdef0123456789abcdef";

struct key_pair {
  std::string private_pem;
  std::string public_pem;
};

inline std::string pem_of(EVP_PKEY* key, bool private_part) {
  const std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new(BIO_s_mem()), BIO_free_all);
  const int written = private_part ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                                   : PEM_write_bio_PUBKEY(bio.get(), key);
  if (written != 1) throw std::runtime_error("PEM_write failed");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

inline key_pair pair_of(EVP_PKEY* generated) {
  if (generated == nullptr) throw std::runtime_error("key generation failed");
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(generated, EVP_PKEY_free);
  return {pem_of(key.get(), true), pem_of(key.get(), false)};
}

inline key_pair make_rsa_key(unsigned bits) { return pair_of(EVP_RSA_gen(bits)); }
inline key_pair make_ec_key(const char* curve) { return pair_of(EVP_EC_gen(curve)); }

// Generated once per test process, on first use: RSA key generation takes a while.
inline const key_pair& rsa_key() {
  static const key_pair key = make_rsa_key(2048);
  return key;
}
inline const key_pair& other_rsa_key() {
  static const key_pair key = make_rsa_key(2048);
  return key;
}
inline const key_pair& ec_key() {
  static const key_pair key = make_ec_key("P-256");
  return key;
}
inline const key_pair& other_ec_key() {
  static const key_pair key = make_ec_key("P-256");
  return key;
}

// The shared one (tests/support/temp_directory.hpp), under the name these tests know.
using temp_dir = eventserver::test_support::temp_directory;

// A payload that passes every check unless a test changes it.
inline nlohmann::json good_claims(eventserver::user_id user = 42) {
  return {{"sub", std::to_string(user)}, {"exp", now_seconds + 600}, {"iat", now_seconds}};
}

inline std::string header_for(eventserver::token_algorithm algorithm) {
  return nlohmann::json{{"alg", std::string(to_string(algorithm))}, {"typ", "JWT"}}.dump();
}

// header.payload.signature from raw parts, each base64url-encoded as it is.
inline std::string raw_token(std::string_view header, std::string_view payload, std::string_view signature_bytes) {
  return eventserver::base64url_encode(header) + "." + eventserver::base64url_encode(payload) + "." +
         eventserver::base64url_encode(signature_bytes);
}

inline eventserver::token_settings settings_for(eventserver::token_algorithm algorithm) {
  eventserver::token_settings settings;
  settings.algorithm = algorithm;
  settings.key_file = "test-key";
  return settings;
}

}  // namespace auth_test
