#include "eventserver/auth/token_signer.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <array>
#include <limits>
#include <vector>

#include "eventserver/auth/base64url.hpp"
#include "openssl.hpp"

namespace eventserver {

using auth_detail::throw_openssl_error;

struct token_signer::impl {
  token_algorithm algorithm = token_algorithm::hs256;
  auth_detail::mac_ctx_ptr hmac;  // HS256
  auth_detail::pkey_ptr key;      // RS256, ES256: the private key
  auth_detail::md_ptr sha256;
};

namespace {

int no_passphrase(char*, int, int, void*) { return 0; }  // never prompt on the terminal

std::string_view as_chars(const unsigned char* bytes, std::size_t size) {
  return {reinterpret_cast<const char*>(bytes), size};
}

}  // namespace

token_signer token_signer::from_key(token_algorithm algorithm, std::string_view key) {
  auto state = std::make_unique<impl>();
  state->algorithm = algorithm;
  state->sha256 = auth_detail::fetch_sha256();
  if (algorithm == token_algorithm::hs256) {
    state->hmac = auth_detail::make_hmac_sha256(key);
    return token_signer(std::move(state));
  }

  if (key.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) throw auth_error("signing key too large");
  const auth_detail::bio_ptr pem(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
  if (!pem) throw_openssl_error("signing key");
  state->key.reset(PEM_read_bio_PrivateKey(pem.get(), nullptr, no_passphrase, nullptr));
  if (!state->key) throw_openssl_error("signing key: no PEM private key");
  const int type = EVP_PKEY_get_base_id(state->key.get());
  if (algorithm == token_algorithm::rs256 && type != EVP_PKEY_RSA) throw auth_error("signing key: RS256 needs an RSA key");
  if (algorithm == token_algorithm::es256) {
    char group[64] = {};
    std::size_t group_size = 0;
    if (type != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(state->key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &group_size) != 1 ||
        std::string_view(group, group_size) != SN_X9_62_prime256v1) {
      ERR_clear_error();
      throw auth_error("signing key: ES256 needs a P-256 EC key");
    }
  }
  return token_signer(std::move(state));
}

std::string token_signer::signature(std::string_view signing_input) const {
  const auth_detail::error_queue_guard errors;
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (impl_->algorithm == token_algorithm::hs256) {
    const auth_detail::mac_ctx_ptr context(EVP_MAC_CTX_dup(impl_->hmac.get()));
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    std::size_t mac_size = 0;
    if (!context || EVP_MAC_update(context.get(), input, signing_input.size()) != 1 ||
        EVP_MAC_final(context.get(), mac.data(), &mac_size, mac.size()) != 1) {
      throw_openssl_error("HMAC-SHA256");
    }
    return base64url_encode(as_chars(mac.data(), mac_size));
  }

  const auth_detail::md_ctx_ptr context(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!context || EVP_DigestSignInit(context.get(), nullptr, impl_->sha256.get(), nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &size, input, signing_input.size()) != 1) {
    throw_openssl_error("signing");
  }
  std::vector<unsigned char> signature(size);
  if (EVP_DigestSign(context.get(), signature.data(), &size, input, signing_input.size()) != 1) {
    throw_openssl_error("signing");
  }
  signature.resize(size);
  if (impl_->algorithm == token_algorithm::rs256) return base64url_encode(as_chars(signature.data(), size));

  // OpenSSL gives ECDSA as DER; JWS wants r || s, each left-padded to 32 bytes (RFC 7518 3.4).
  const unsigned char* der = signature.data();
  const auth_detail::ecdsa_sig_ptr pair(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(size)));
  if (!pair) throw_openssl_error("ECDSA signature");
  std::array<unsigned char, 64> raw{};
  if (BN_bn2binpad(ECDSA_SIG_get0_r(pair.get()), raw.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(pair.get()), raw.data() + 32, 32) != 32) {
    throw_openssl_error("ECDSA signature");
  }
  return base64url_encode(as_chars(raw.data(), raw.size()));
}

std::string token_signer::sign(std::string_view header_json, std::string_view payload_json) const {
  std::string token = base64url_encode(header_json);
  token += '.';
  token += base64url_encode(payload_json);
  const std::string signed_part = signature(token);
  token += '.';
  token += signed_part;
  return token;
}

std::string token_signer::sign(std::string_view payload_json) const {
  const std::string header = R"({"alg":")" + std::string(to_string(impl_->algorithm)) + R"(","typ":"JWT"})";
  return sign(header, payload_json);
}

token_signer::token_signer(std::unique_ptr<const impl> state) noexcept : impl_(std::move(state)) {}
token_signer::token_signer(token_signer&&) noexcept = default;
token_signer& token_signer::operator=(token_signer&&) noexcept = default;
token_signer::~token_signer() = default;

token_algorithm token_signer::algorithm() const noexcept { return impl_->algorithm; }

}  // namespace eventserver
