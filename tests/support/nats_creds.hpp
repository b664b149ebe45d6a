#pragma once
// NATS operator-mode credentials made in the test, with OpenSSL's Ed25519: an operator, an
// account signed by it (JetStream enabled), and a user signed by the account, written as the
// server's config lines and the user's .creds file (JWT and nkey seed), as `nsc` would make
// them. Enough for nats-server 2.9 with `resolver: MEMORY`; no nsc needed.
//
// The formats, from NATS's own documentation: an nkey is base32 (RFC 4648, no padding) of a
// prefix byte, the 32-byte Ed25519 key and a CRC-16/XMODEM of both (little-endian); a seed is
// two prefix bytes (seed, then the key's type) before the 32-byte private seed. A JWT is
// base64url(header).base64url(claims).base64url(signature) with the header
// {"typ":"JWT","alg":"ed25519-nkey"}, signed by the issuer's Ed25519 key.

#include <nats/nats.h>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "eventserver/auth/base64url.hpp"

namespace eventserver::test_support {

class nkey {
 public:
  // The key types' prefix bytes.
  static constexpr std::uint8_t operator_type = 14 << 3;  // 'O'
  static constexpr std::uint8_t account_type = 0;         // 'A'
  static constexpr std::uint8_t user_type = 20 << 3;      // 'U'

  explicit nkey(std::uint8_t type) : type_(type) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    EVP_PKEY* key = nullptr;
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &key) != 1) {
      EVP_PKEY_CTX_free(ctx);
      throw std::runtime_error("Ed25519 key generation failed");
    }
    EVP_PKEY_CTX_free(ctx);
    key_.reset(key);
    std::size_t size = raw_.size();
    if (EVP_PKEY_get_raw_private_key(key, raw_.data(), &size) != 1 || size != raw_.size()) {
      throw std::runtime_error("Ed25519 private key export failed");
    }
    size = public_.size();
    if (EVP_PKEY_get_raw_public_key(key, public_.data(), &size) != 1 || size != public_.size()) {
      throw std::runtime_error("Ed25519 public key export failed");
    }
  }

  // "O...", "A...", "U...": how JWTs and the server name the key.
  std::string public_key() const {
    std::string bytes(1, static_cast<char>(type_));
    bytes.append(reinterpret_cast<const char*>(public_.data()), public_.size());
    return base32(with_crc(bytes));
  }
  // "SO...", "SA...", "SU...".
  std::string seed() const {
    constexpr std::uint8_t seed_type = 18 << 3;  // 'S'
    std::string bytes;
    bytes += static_cast<char>(seed_type | (type_ >> 5));
    bytes += static_cast<char>((type_ & 31) << 3);
    bytes.append(reinterpret_cast<const char*>(raw_.data()), raw_.size());
    return base32(with_crc(bytes));
  }
  // Whether `signature` is this key's over `message`.
  bool verifies(std::string_view message, const unsigned char* signature, std::size_t size) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key_.get()) == 1 &&
                    EVP_DigestVerify(ctx, signature, size, reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  }
  std::string sign(std::string_view message) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::string signature(64, '\0');
    std::size_t size = signature.size();
    const bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_.get()) == 1 &&
                    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &size,
                                   reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw std::runtime_error("Ed25519 signing failed");
    signature.resize(size);
    return signature;
  }

 private:
  struct key_free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };

  static std::string with_crc(std::string bytes) {
    std::uint16_t crc = 0;  // CRC-16/XMODEM: polynomial 0x1021, initial 0
    for (const char ch : bytes) {
      crc = static_cast<std::uint16_t>(crc ^ (static_cast<std::uint8_t>(ch) << 8));
      for (int bit = 0; bit < 8; ++bit) {
        crc = static_cast<std::uint16_t>((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
      }
    }
    bytes += static_cast<char>(crc & 0xff);
    bytes += static_cast<char>(crc >> 8);
    return bytes;
  }
  static std::string base32(std::string_view bytes) {
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char ch : bytes) {
      buffer = (buffer << 8) | static_cast<std::uint8_t>(ch);
      bits += 8;
      while (bits >= 5) {
        out += alphabet[(buffer >> (bits - 5)) & 31];
        bits -= 5;
      }
    }
    if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
    return out;
  }

  std::uint8_t type_;
  std::unique_ptr<EVP_PKEY, key_free> key_;
  std::array<unsigned char, 32> raw_{};
  std::array<unsigned char, 32> public_{};
};

// A JWT of `claims` (iss, iat and jti added) for `subject`, signed by `issuer`.
inline std::string nats_jwt(const nkey& issuer, const nkey& subject, std::string_view name, nlohmann::json nats) {
  static int serial = 0;
  const nlohmann::json claims = {
      {"jti", "EVENTSERVERTEST" + std::to_string(++serial)},
      {"iat", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()},
      {"iss", issuer.public_key()},
      {"name", name},
      {"sub", subject.public_key()},
      {"nats", std::move(nats)}};
  const std::string signed_part = base64url_encode(R"({"typ":"JWT","alg":"ed25519-nkey"})") + "." + base64url_encode(claims.dump());
  return signed_part + "." + base64url_encode(issuer.sign(signed_part));
}

// A user key whose seed libnats signs with as OpenSSL would. libnats 3.4's nats_Sign refuses a
// few valid seeds (2 of 3,000 random ones here; the connection is then refused as
// unauthorised): the key is drawn again, a bounded number of times, so that a libnats that
// signs with none fails the test rather than hanging it.
inline nkey user_key_libnats_takes() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    nkey key(nkey::user_type);
    unsigned char* signature = nullptr;
    int size = 0;
    const bool signs = nats_Sign(key.seed().c_str(), "probe", &signature, &size) == NATS_OK &&
                       key.verifies("probe", signature, static_cast<std::size_t>(size));
    std::free(signature);
    if (signs) return key;
  }
  throw std::runtime_error("libnats signed with none of 100 user keys (nats_Sign)");
}

// One operator, one account with JetStream, one user of it, and the system account JetStream
// needs the server to have.
struct nats_operator_setup {
  nkey op{nkey::operator_type};
  nkey system{nkey::account_type};
  nkey account{nkey::account_type};
  nkey user = user_key_libnats_takes();

  // The nats-server config lines that trust the operator and know the account.
  std::string server_config() const {
    const std::string operator_jwt = nats_jwt(op, op, "eventserver-test-operator", {{"type", "operator"}, {"version", 2}});
    const nlohmann::json limits = {{"subs", -1},       {"data", -1},         {"payload", -1},     {"imports", -1},
                                   {"exports", -1},    {"wildcards", true},  {"conn", -1},        {"leaf", -1},
                                   {"mem_storage", -1}, {"disk_storage", -1}, {"streams", -1},     {"consumer", -1}};
    const std::string account_jwt =
        nats_jwt(op, account, "eventserver-test-account", {{"limits", limits}, {"type", "account"}, {"version", 2}});
    const std::string system_jwt = nats_jwt(op, system, "SYS", {{"type", "account"}, {"version", 2}});
    return "operator: \"" + operator_jwt + "\"\nsystem_account: " + system.public_key() +
           "\nresolver: MEMORY\nresolver_preload: { " + account.public_key() + ": \"" + account_jwt + "\", " +
           system.public_key() + ": \"" + system_jwt + "\" }\n";
  }
  // The user's .creds file: its JWT, signed by `signer` (the account, or another key the
  // server does not trust), and its seed.
  std::string creds(const nkey& signer) const {
    const std::string jwt = nats_jwt(signer, user, "eventserver",
                                     {{"pub", nlohmann::json::object()}, {"sub", nlohmann::json::object()},
                                      {"subs", -1}, {"data", -1}, {"payload", -1}, {"type", "user"}, {"version", 2}});
    return "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n" +
           "-----BEGIN USER NKEY SEED-----\n" + user.seed() + "\n------END USER NKEY SEED------\n";
  }
  std::string creds() const { return creds(account); }
};

// Waits (bounded) until the server at `url` lets the user of `creds_file` in. A nats-server 2.9
// in operator mode that has just started listening refuses valid credentials for a moment now
// and then (about 1 start in 70 here): a test connects only once it takes them.
inline bool creds_accepted(const std::string& url, const std::string& creds_file,
                           std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    natsOptions* options = nullptr;
    natsConnection* connection = nullptr;
    natsStatus s = natsOptions_Create(&options);
    if (s == NATS_OK) s = natsOptions_SetURL(options, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetUserCredentialsFromFiles(options, creds_file.c_str(), nullptr);
    if (s == NATS_OK) s = natsConnection_Connect(&connection, options);
    natsConnection_Destroy(connection);
    natsOptions_Destroy(options);
    if (s == NATS_OK) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace eventserver::test_support
