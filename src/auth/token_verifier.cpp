#include "eventserver/auth/token_verifier.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "eventserver/auth/base64url.hpp"
#include "key_file.hpp"
#include "openssl.hpp"

namespace eventserver {

using auth_detail::throw_openssl_error;
using json = nlohmann::json;

struct token_verifier::impl {
  token_algorithm algorithm = token_algorithm::hs256;
  std::string audience;
  std::string issuer;
  std::int64_t leeway = 0;  // seconds
  auth_detail::mac_ctx_ptr hmac;  // HS256: keyed once, duplicated per token
  auth_detail::pkey_ptr key;      // RS256, ES256: the public key
  auth_detail::md_ptr sha256;
  std::size_t signature_bytes = 0;  // what the signature part must decode to

  bool signature_verifies(std::string_view signing_input, const unsigned char* signature,
                          std::size_t size) const noexcept;
  token_result check_claims(const json& claims, std::chrono::system_clock::time_point now) const;
};

namespace {

constexpr std::int64_t max_seconds = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t min_seconds = std::numeric_limits<std::int64_t>::min();

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? max_seconds : min_seconds;
}

enum class rounding : std::uint8_t { down, up };

// A NumericDate (RFC 7519 2: seconds since the epoch, possibly fractional), rounded in the
// direction that can only shorten a token's life: exp down, nbf up. Saturates.
std::int64_t numeric_date(const json& value, rounding direction) noexcept {
  if (value.is_number_unsigned()) {
    const auto seconds = value.get<std::uint64_t>();
    return seconds > static_cast<std::uint64_t>(max_seconds) ? max_seconds : static_cast<std::int64_t>(seconds);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  double seconds = value.get<double>();
  seconds = direction == rounding::down ? std::floor(seconds) : std::ceil(seconds);
  if (!(seconds < 0x1p63)) return max_seconds;  // +inf from a literal like 1e999 included
  if (seconds < -0x1p63) return min_seconds;
  return static_cast<std::int64_t>(seconds);
}

std::chrono::system_clock::time_point to_time_point(std::int64_t seconds) noexcept {
  using clock = std::chrono::system_clock;
  constexpr auto latest = std::chrono::floor<std::chrono::seconds>(clock::duration::max()).count();
  constexpr auto earliest = std::chrono::ceil<std::chrono::seconds>(clock::duration::min()).count();
  if (seconds > latest) return clock::time_point::max();
  if (seconds < earliest) return clock::time_point::min();
  return clock::time_point(std::chrono::seconds(seconds));
}

// `sub`: a user id, as the handshake line spells it or as a JSON integer.
std::optional<user_id> subject(const json& value) noexcept {
  if (value.is_string()) return parse_u64(value.get_ref<const std::string&>());
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  return std::nullopt;  // negative, fractional, beyond 64 bits (parsed as a float), not a number
}

bool audience_matches(const json& aud, const std::string& audience) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == audience;
  if (!aud.is_array()) return false;
  for (const auto& element : aud) {
    if (element.is_string() && element.get_ref<const std::string&>() == audience) return true;
  }
  return false;
}

// Strict JSON, no exceptions: nullopt for anything but an object.
std::optional<json> parse_object(const char* begin, std::size_t size) {
  json value = json::parse(begin, begin + size, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return std::nullopt;  // a discarded value is not an object either
  return value;
}

[[noreturn]] void fail_key(const token_settings& settings, const std::string& why) {
  throw auth_error("key file '" + settings.key_file + "': " + why);
}

int no_passphrase(char*, int, int, void*) { return 0; }  // never prompt on the terminal

std::string_view trim_line_end(std::string_view secret) noexcept {
  if (!secret.empty() && secret.back() == '\n') secret.remove_suffix(1);
  if (!secret.empty() && secret.back() == '\r') secret.remove_suffix(1);
  return secret;
}

}  // namespace

bool token_verifier::impl::signature_verifies(std::string_view signing_input, const unsigned char* signature,
                                              std::size_t size) const noexcept {
  if (size != signature_bytes) return false;
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());

  if (algorithm == token_algorithm::hs256) {
    const auth_detail::mac_ctx_ptr context(EVP_MAC_CTX_dup(hmac.get()));
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    std::size_t mac_size = 0;
    if (!context || EVP_MAC_update(context.get(), input, signing_input.size()) != 1 ||
        EVP_MAC_final(context.get(), mac.data(), &mac_size, mac.size()) != 1 || mac_size != size) {
      return false;
    }
    return CRYPTO_memcmp(mac.data(), signature, size) == 0;  // constant time: no timing oracle
  }

  // ES256 carries r || s (RFC 7518 3.4); OpenSSL verifies the DER SEQUENCE of the two.
  std::array<unsigned char, 80> der{};  // at most 72 bytes for two 32-byte integers
  const unsigned char* verified = signature;
  std::size_t verified_size = size;
  if (algorithm == token_algorithm::es256) {
    const auth_detail::ecdsa_sig_ptr pair(ECDSA_SIG_new());
    auth_detail::bignum_ptr r(BN_bin2bn(signature, 32, nullptr));
    auth_detail::bignum_ptr s(BN_bin2bn(signature + 32, 32, nullptr));
    if (!pair || !r || !s || ECDSA_SIG_set0(pair.get(), r.get(), s.get()) != 1) return false;
    r.release();  // owned by `pair` from here
    s.release();
    const int der_size = i2d_ECDSA_SIG(pair.get(), nullptr);
    if (der_size <= 0 || static_cast<std::size_t>(der_size) > der.size()) return false;
    unsigned char* out = der.data();
    i2d_ECDSA_SIG(pair.get(), &out);
    verified = der.data();
    verified_size = static_cast<std::size_t>(der_size);
  }
  const auth_detail::md_ctx_ptr context(EVP_MD_CTX_new());
  return context && EVP_DigestVerifyInit(context.get(), nullptr, sha256.get(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(context.get(), verified, verified_size, input, signing_input.size()) == 1;
}

token_result token_verifier::impl::check_claims(const json& claims, std::chrono::system_clock::time_point now) const {
  const auto exp = claims.find("exp");
  if (exp == claims.end()) return token_refusal::missing_expiry;
  if (!exp->is_number()) return token_refusal::malformed;

  const auto sub = claims.find("sub");
  if (sub == claims.end()) return token_refusal::missing_subject;
  const auto user = subject(*sub);
  if (!user) return token_refusal::bad_subject;

  // Compared in whole seconds, `now` rounded down: a token is refused from the second of its
  // exp on (RFC 7519 4.1.4 "on or after"), and accepted from the second of its nbf.
  const std::int64_t now_seconds = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t expires = saturating_add(numeric_date(*exp, rounding::down), leeway);
  if (now_seconds >= expires) return token_refusal::expired;
  if (const auto nbf = claims.find("nbf"); nbf != claims.end()) {
    if (!nbf->is_number()) return token_refusal::malformed;
    if (now_seconds < saturating_add(numeric_date(*nbf, rounding::up), -leeway)) return token_refusal::not_yet_valid;
  }

  if (!issuer.empty()) {
    const auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() || iss->get_ref<const std::string&>() != issuer) {
      return token_refusal::wrong_issuer;
    }
  }
  if (!audience.empty()) {
    const auto aud = claims.find("aud");
    if (aud == claims.end() || !audience_matches(*aud, audience)) return token_refusal::wrong_audience;
  }
  return token_claims{*user, to_time_point(expires)};
}

token_result token_verifier::verify(std::string_view token, std::chrono::system_clock::time_point now) const noexcept {
  try {
    if (token.empty() || token.size() > max_token_bytes) return token_refusal::malformed;
    const auto first_dot = token.find('.');
    if (first_dot == std::string_view::npos) return token_refusal::malformed;
    const auto second_dot = token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
      return token_refusal::malformed;
    }
    const std::string_view parts[3] = {token.substr(0, first_dot), token.substr(first_dot + 1, second_dot - first_dot - 1),
                                       token.substr(second_dot + 1)};

    // All three decoded up front, side by side on the stack (together at most 3/4 of
    // max_token_bytes): a spelling error anywhere is `malformed` whatever the header says.
    std::array<char, base64url_decoded_size(max_token_bytes)> decoded;
    std::string_view bytes[3];
    std::size_t used = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto size = base64url_decode(parts[i], decoded.data() + used);
      if (!size) return token_refusal::malformed;
      bytes[i] = std::string_view(decoded.data() + used, *size);
      used += *size;
    }

    const auto header = parse_object(bytes[0].data(), bytes[0].size());
    if (!header) return token_refusal::malformed;
    const auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string()) return token_refusal::malformed;
    // The configured algorithm, never the one the token asks for.
    if (alg->get_ref<const std::string&>() != to_string(impl_->algorithm)) return token_refusal::wrong_algorithm;
    // RFC 7515 4.1.11: extensions the recipient does not understand must be refused; none are.
    if (header->contains("crit")) return token_refusal::malformed;

    const auth_detail::error_queue_guard errors;
    if (!impl_->signature_verifies(token.substr(0, second_dot), reinterpret_cast<const unsigned char*>(bytes[2].data()),
                                   bytes[2].size())) {
      return token_refusal::bad_signature;
    }

    // The payload is read only once the signature vouches for it.
    const auto claims = parse_object(bytes[1].data(), bytes[1].size());
    if (!claims) return token_refusal::malformed;
    return impl_->check_claims(*claims, now);
  } catch (...) {
    // Only allocation can fail here: refusing is the safe answer.
    return token_refusal::malformed;
  }
}

token_verifier token_verifier::load(const token_settings& settings) {
  return from_key(settings, auth_detail::read_key_file(settings.key_file, max_key_file_bytes));
}

token_verifier token_verifier::from_key(const token_settings& settings, std::string_view key) {
  const auto fail = [&settings](const std::string& why) { fail_key(settings, why); };
  if (settings.leeway.count() < 0) throw auth_error("token leeway is negative");

  auto state = std::make_unique<impl>();
  state->algorithm = settings.algorithm;
  state->audience = settings.audience;
  state->issuer = settings.issuer;
  state->leeway = static_cast<std::int64_t>(settings.leeway.count());
  state->sha256 = auth_detail::fetch_sha256();

  if (settings.algorithm == token_algorithm::hs256) {
    // `echo secret > file` leaves a newline the backend does not sign with.
    const std::string_view secret = trim_line_end(key);
    // A public key as the HMAC secret is the key-confusion set-up: anyone holds it.
    if (secret.find("-----BEGIN") != std::string_view::npos) fail("holds a PEM block: HS256 needs a shared secret");
    if (secret.size() < min_secret_bytes) {
      fail("an HS256 secret of " + std::to_string(secret.size()) + " bytes; at least " +
           std::to_string(min_secret_bytes) + " are required");
    }
    state->hmac = auth_detail::make_hmac_sha256(secret);
    state->signature_bytes = 32;
    return token_verifier(std::move(state));
  }

  if (key.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) fail("too large");
  const auth_detail::bio_ptr pem(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
  if (!pem) throw_openssl_error("key file '" + settings.key_file + "'");
  state->key.reset(PEM_read_bio_PUBKEY(pem.get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();  // a missing PEM block is reported below, in words
  if (!state->key) {
    if (key.find("PRIVATE KEY-----") != std::string_view::npos) {
      fail("holds a private key; the daemon needs only the public key (openssl pkey -pubout)");
    }
    fail("no PEM public key (-----BEGIN PUBLIC KEY-----) for " + std::string(to_string(settings.algorithm)));
  }

  const int type = EVP_PKEY_get_base_id(state->key.get());
  if (settings.algorithm == token_algorithm::rs256) {
    if (type != EVP_PKEY_RSA) fail("not an RSA public key, which RS256 needs");
    const int bits = EVP_PKEY_get_bits(state->key.get());
    if (bits < min_rsa_bits) {
      fail("an RSA key of " + std::to_string(bits) + " bits; RS256 needs at least " + std::to_string(min_rsa_bits));
    }
    state->signature_bytes = static_cast<std::size_t>(EVP_PKEY_get_size(state->key.get()));
  } else {
    char group[64] = {};
    std::size_t group_size = 0;
    if (type != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(state->key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &group_size) != 1 ||
        std::string_view(group, group_size) != SN_X9_62_prime256v1) {
      ERR_clear_error();
      fail("not a P-256 (prime256v1) EC public key, which ES256 needs");
    }
    state->signature_bytes = 64;
  }
  return token_verifier(std::move(state));
}

token_verifier::token_verifier(std::unique_ptr<const impl> state) noexcept : impl_(std::move(state)) {}
token_verifier::token_verifier(token_verifier&&) noexcept = default;
token_verifier& token_verifier::operator=(token_verifier&&) noexcept = default;
token_verifier::~token_verifier() = default;

token_algorithm token_verifier::algorithm() const noexcept { return impl_->algorithm; }

}  // namespace eventserver
