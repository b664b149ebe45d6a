// libFuzzer target: token_verifier, the one parser that faces the network before the client
// is known. Every verify() is compared with a slow reference written from token.hpp's
// contract (split, decode with OpenSSL's base64, parse with exceptions, check the signature
// through a different OpenSSL API, compare times in long double): the verifier must give the
// same answer, so it never accepts a token whose signature does not verify, and never refuses
// one for a reason other than the first the contract names.
//
// The first input byte picks a mode:
//   0  the rest is a token, verified as HS256 (audience, issuer and leeway configured)
//   1  the rest is "<header JSON>\xff<payload JSON>" (or just a payload), signed HS256 here
//      and verified: this reaches the claim checks, which a forged signature never does
//   2  the rest is a token, verified as RS256
//   3  as 1, signed and verified as ES256 (nothing configured)
// and in every mode the whole input also goes through base64url_decode against the reference.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/auth/base64url.hpp"
#include "eventserver/auth/token_signer.hpp"
#include "eventserver/auth/token_verifier.hpp"
#include "reference.hpp"

namespace {

using eventserver::token_algorithm;
using eventserver::token_result;
using eventserver::token_settings;
using eventserver::token_signer;
using eventserver::token_verifier;
using json = nlohmann::json;

constexpr std::int64_t now_seconds = 1'700'000'000;
// Half a second into now_seconds: whole-second rounding is part of the contract under test.
const std::chrono::system_clock::time_point now =
    std::chrono::system_clock::time_point(std::chrono::seconds(now_seconds)) + std::chrono::milliseconds(500);
const std::string secret = "a fixed fuzzing secret of 32+ bytes";

std::string pem_of(EVP_PKEY* key, bool private_part) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_part) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, key);
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

// What the reference verifies with: the same settings, a key of its own.
struct reference_settings {
  token_algorithm algorithm;
  std::string audience;
  std::string issuer;
  std::int64_t leeway;
  EVP_PKEY* public_key;  // RS256, ES256
};

// RS256 tokens are only verified here, never signed: a fixed public key (whose private half
// was thrown away) spares every run, regression replays included, a slow RSA key generation.
constexpr std::string_view rsa_public_pem = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApEW288addP3N6gIaoMXU
hrSl4CgRJr+kNrLKiv+SpyyUlafQJO/yiiUqBBokKlDDAD62d1nTrLkOVeviyW2P
SRw303kNALCmCAMfOzdeu15GQ5hhTqYvW5tXICStoufsiTYJae0eMwzbKAutJq0m
E/srDoOO5wCBFzfopRwvh6noKXaXwqudaGej6jdcqzcco+Mo9IgGNJXSa/TbZkgD
Eo+na2Q/ah2pLSZo7vWkiEt3+gUW9ccOmcXV9eDymT1WjSYSf7Xwbj8NCkmos74b
RE/ZkR3UbLet5UZxPvhnMcjyTqCXgldI2F6ivoOQ15dsgT5PPa1yk3aTktjhA+0g
AQIDAQAB
-----END PUBLIC KEY-----
)";

EVP_PKEY* read_public_key(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  FUZZ_CHECK(key != nullptr);
  return key;
}

struct fixture {
  EVP_PKEY* rsa = read_public_key(rsa_public_pem);
  EVP_PKEY* ec = EVP_EC_gen("P-256");  // fast enough to make afresh
  reference_settings hs_reference{token_algorithm::hs256, "fuzz-audience", "fuzz-issuer", 5, nullptr};
  reference_settings rs_reference{token_algorithm::rs256, "", "", 0, rsa};
  reference_settings es_reference{token_algorithm::es256, "", "", 0, ec};
  token_verifier hs = token_verifier::from_key(settings(hs_reference), secret);
  token_verifier rs = token_verifier::from_key(settings(rs_reference), rsa_public_pem);
  token_verifier es = token_verifier::from_key(settings(es_reference), pem_of(ec, false));
  token_signer hs_signer = token_signer::from_key(token_algorithm::hs256, secret);
  token_signer es_signer = token_signer::from_key(token_algorithm::es256, pem_of(ec, true));

  static token_settings settings(const reference_settings& reference) {
    token_settings s;
    s.algorithm = reference.algorithm;
    s.key_file = "fuzz";
    s.audience = reference.audience;
    s.issuer = reference.issuer;
    s.leeway = std::chrono::seconds(reference.leeway);
    return s;
  }
};

const fixture& keys() {
  static const fixture instance;
  return instance;
}

// --- the reference ---------------------------------------------------------------------------

// Unpadded base64url through OpenSSL's standard base64 decoder: the alphabet checked here,
// canonical spelling checked by encoding the result back.
std::optional<std::string> reference_base64url(std::string_view text) {
  for (const char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard(text);
  for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  const std::size_t padding = (4 - standard.size() % 4) % 4;
  standard.append(padding, '=');
  std::vector<unsigned char> bytes(standard.size() / 4 * 3 + 1);
  const int decoded = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(standard.data()),
                                      static_cast<int>(standard.size()));
  if (decoded < 0) return std::nullopt;
  std::string result(reinterpret_cast<const char*>(bytes.data()), static_cast<std::size_t>(decoded) - padding);
  std::vector<unsigned char> again(standard.size() + 1);
  EVP_EncodeBlock(again.data(), reinterpret_cast<const unsigned char*>(result.data()), static_cast<int>(result.size()));
  if (std::string_view(reinterpret_cast<const char*>(again.data()), standard.size()) != standard) return std::nullopt;
  return result;
}

std::optional<json> reference_object(const std::string& text) {
  try {
    json value = json::parse(text);
    if (value.is_object()) return value;
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

// ES256 through EVP_PKEY_verify over a separately computed digest, RS256 likewise.
bool reference_signature(const reference_settings& settings, std::string_view input, const std::string& signature) {
  unsigned char digest[32];
  if (settings.algorithm == token_algorithm::hs256) {
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
         input.size(), digest, &size);
    return signature.size() == 32 && std::memcmp(digest, signature.data(), 32) == 0;
  }
  unsigned int digest_size = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha256(), nullptr);
  std::string der = signature;
  if (settings.algorithm == token_algorithm::es256) {
    if (signature.size() != 64) return false;
    ECDSA_SIG* pair = ECDSA_SIG_new();
    ECDSA_SIG_set0(pair, BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr),
                   BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr));
    unsigned char* out = nullptr;
    const int size = i2d_ECDSA_SIG(pair, &out);
    der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(size));
    OPENSSL_free(out);
    ECDSA_SIG_free(pair);
  } else if (signature.size() != 256) {
    return false;
  }
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new(settings.public_key, nullptr);
  bool ok = EVP_PKEY_verify_init(context) == 1;
  if (ok && settings.algorithm == token_algorithm::rs256) {
    ok = EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1;
  }
  ok = ok && EVP_PKEY_CTX_set_signature_md(context, EVP_sha256()) == 1 &&
       EVP_PKEY_verify(context, reinterpret_cast<const unsigned char*>(der.data()), der.size(), digest, digest_size) == 1;
  EVP_PKEY_CTX_free(context);
  ERR_clear_error();
  return ok;
}

// NumericDates compared exactly in long double (64-bit mantissa: every 64-bit integer fits),
// without the saturation the verifier needs.
long double reference_date(const json& value, bool round_up) {
  if (value.is_number_unsigned()) return static_cast<long double>(value.get<std::uint64_t>());
  if (value.is_number_integer()) return static_cast<long double>(value.get<std::int64_t>());
  const long double seconds = value.get<double>();
  return round_up ? std::ceil(seconds) : std::floor(seconds);
}

std::string accepted(std::uint64_t user, long double expires) {
  using clock = std::chrono::system_clock;
  const long double latest = static_cast<long double>(
      std::chrono::floor<std::chrono::seconds>(clock::duration::max()).count());
  const std::int64_t seconds =
      expires > latest ? std::chrono::duration_cast<std::chrono::seconds>(clock::time_point::max().time_since_epoch()).count()
                       : static_cast<std::int64_t>(expires);
  return "user " + std::to_string(user) + " until " + std::to_string(seconds);
}

// token.hpp's contract, step by step, in its order.
std::string reference_verify(const reference_settings& settings, std::string_view token) {
  if (token.empty() || token.size() > token_verifier::max_token_bytes) return "malformed";
  const auto parts = fuzz::split(token, '.');
  if (parts.size() != 3) return "malformed";
  std::string decoded[3];
  for (std::size_t i = 0; i < 3; ++i) {
    const auto bytes = reference_base64url(parts[i]);
    if (!bytes) return "malformed";
    decoded[i] = *bytes;
  }
  const auto header = reference_object(decoded[0]);
  if (!header || !header->contains("alg") || !(*header)["alg"].is_string()) return "malformed";
  if ((*header)["alg"].get<std::string>() != eventserver::to_string(settings.algorithm)) return "wrong_algorithm";
  if (header->contains("crit")) return "malformed";
  const std::string_view input = token.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!reference_signature(settings, input, decoded[2])) return "bad_signature";
  const auto claims = reference_object(decoded[1]);
  if (!claims) return "malformed";

  if (!claims->contains("exp")) return "missing_expiry";
  const json& exp = (*claims)["exp"];
  if (!exp.is_number()) return "malformed";
  if (!claims->contains("sub")) return "missing_subject";
  const json& sub = (*claims)["sub"];
  std::optional<std::uint64_t> user;
  if (sub.is_string()) user = fuzz::reference_u64(sub.get<std::string>());
  if (sub.is_number_unsigned()) user = sub.get<std::uint64_t>();
  if (!user) return "bad_subject";

  const long double now_floor = static_cast<long double>(now_seconds);
  const long double leeway = static_cast<long double>(settings.leeway);
  const long double expires = reference_date(exp, false) + leeway;
  if (now_floor >= expires) return "expired";
  if (claims->contains("nbf")) {
    const json& nbf = (*claims)["nbf"];
    if (!nbf.is_number()) return "malformed";
    if (now_floor < reference_date(nbf, true) - leeway) return "not_yet_valid";
  }
  if (!settings.issuer.empty()) {
    if (!claims->contains("iss") || (*claims)["iss"] != json(settings.issuer)) return "wrong_issuer";
  }
  if (!settings.audience.empty()) {
    bool found = false;
    if (claims->contains("aud")) {
      const json& aud = (*claims)["aud"];
      if (aud == json(settings.audience)) found = true;
      if (aud.is_array()) {
        for (const auto& element : aud) found = found || element == json(settings.audience);
      }
    }
    if (!found) return "wrong_audience";
  }
  return accepted(*user, expires);
}

std::string outcome(const token_result& result) {
  if (!result) return std::string(to_string(result.error()));
  return "user " + std::to_string(result->user) + " until " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(result->expires.time_since_epoch()).count());
}

void check(const token_verifier& verifier, const reference_settings& settings, std::string_view token) {
  const std::string got = outcome(verifier.verify(token, now));
  FUZZ_CHECK(ERR_peek_error() == 0);  // nothing left behind for the TLS code on this thread
  const std::string want = reference_verify(settings, token);
  if (got != want) {
    std::fprintf(stderr, "%s token \"%.*s\": verifier says %s, reference says %s\n",
                 std::string(to_string(settings.algorithm)).c_str(), static_cast<int>(token.size()), token.data(),
                 got.c_str(), want.c_str());
    std::abort();
  }
}

// "<header>\xff<payload>" or "<payload>" (with the algorithm's usual header), signed.
std::string signed_token(const token_signer& signer, std::string_view data) {
  const auto split = data.find('\xff');
  if (split == std::string_view::npos) return signer.sign(data);
  return signer.sign(data.substr(0, split), data.substr(split + 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto decoded = eventserver::base64url_decode(input);
  FUZZ_CHECK(decoded == reference_base64url(input));
  if (decoded) FUZZ_CHECK(eventserver::base64url_encode(*decoded) == input);
  if (size == 0) return 0;

  const fixture& k = keys();
  const std::string_view rest = input.substr(1);
  switch (data[0] % 4) {
    case 0: check(k.hs, k.hs_reference, rest); break;
    case 1: check(k.hs, k.hs_reference, signed_token(k.hs_signer, rest)); break;
    case 2: check(k.rs, k.rs_reference, rest); break;
    case 3: check(k.es, k.es_reference, signed_token(k.es_signer, rest)); break;
  }
  return 0;
}
