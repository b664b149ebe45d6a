// token_verifier on tokens good and hostile, for each of HS256, RS256 and ES256: every
// refusal asserted by its exact reason.

#include "eventserver/auth/token_verifier.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "auth/auth_support.hpp"

namespace eventserver {
namespace {

using namespace auth_test;
using nlohmann::json;

static_assert(noexcept(std::declval<const token_verifier&>().verify(std::declval<std::string_view>(),
                                                                 std::declval<clock_type::time_point>())));
static_assert(std::is_nothrow_move_assignable_v<token_verifier>);

// "user 42 until 1700000600" or the refusal's name: one string to compare exactly.
std::string outcome(const token_result& result) {
  if (!result) return std::string(to_string(result.error()));
  return "user " + std::to_string(result->user) + " until " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(result->expires.time_since_epoch()).count());
}

std::string accepted(user_id user, std::int64_t expires) {
  return "user " + std::to_string(user) + " until " + std::to_string(expires);
}

// The key each algorithm verifies with, and the one it signs with.
std::string verify_key(token_algorithm algorithm) {
  switch (algorithm) {
    case token_algorithm::hs256: return secret;
    case token_algorithm::rs256: return rsa_key().public_pem;
    case token_algorithm::es256: return ec_key().public_pem;
  }
  return {};
}
std::string sign_key(token_algorithm algorithm) {
  switch (algorithm) {
    case token_algorithm::hs256: return secret;
    case token_algorithm::rs256: return rsa_key().private_pem;
    case token_algorithm::es256: return ec_key().private_pem;
  }
  return {};
}

// Splits a token into its three parts.
std::vector<std::string> parts_of(const std::string& token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  return {token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
}

class TokenVerifier : public ::testing::TestWithParam<token_algorithm> {
 protected:
  token_algorithm algorithm() const { return GetParam(); }
  token_settings settings() const { return settings_for(algorithm()); }
  token_verifier verifier(const std::function<void(token_settings&)>& adjust = {}) const {
    auto s = settings();
    if (adjust) adjust(s);
    return token_verifier::from_key(s, verify_key(algorithm()));
  }
  token_signer signer() const { return token_signer::from_key(algorithm(), sign_key(algorithm())); }
  std::string sign(const json& claims) const { return signer().sign(claims.dump()); }
  std::string sign_raw(std::string_view header, std::string_view payload) const { return signer().sign(header, payload); }
  std::string header() const { return header_for(algorithm()); }

  // The outcome of a token signed with the right key over `claims`, under `adjust`ed settings.
  std::string verify_claims(const json& claims, const std::function<void(token_settings&)>& adjust = {}) const {
    return outcome(verifier(adjust).verify(sign(claims), now));
  }
  std::string verify(const std::string& token) const { return outcome(verifier().verify(token, now)); }
};

std::string algorithm_name(const ::testing::TestParamInfo<token_algorithm>& info) {
  return std::string(to_string(info.param));
}

INSTANTIATE_TEST_SUITE_P(Each, TokenVerifier,
                         ::testing::Values(token_algorithm::hs256, token_algorithm::rs256, token_algorithm::es256),
                         algorithm_name);

// --- accepted -------------------------------------------------------------------------------

TEST_P(TokenVerifier, AcceptsAGoodToken) {
  const auto result = verifier().verify(sign(good_claims(2932)), now);
  ASSERT_TRUE(result.has_value()) << to_string(result.error());
  EXPECT_EQ(result->user, 2932u);
  EXPECT_EQ(result->expires, now + 600s);
}

TEST_P(TokenVerifier, AcceptsTheSubjectAsAJsonInteger) {
  auto claims = good_claims();
  claims["sub"] = 2932;
  EXPECT_EQ(verify_claims(claims), accepted(2932, now_seconds + 600));
}

TEST_P(TokenVerifier, AcceptsTheLargestUserIdEitherWay) {
  auto claims = good_claims();
  claims["sub"] = "18446744073709551615";
  EXPECT_EQ(verify_claims(claims), accepted(std::numeric_limits<user_id>::max(), now_seconds + 600));
  claims["sub"] = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(verify_claims(claims), accepted(std::numeric_limits<user_id>::max(), now_seconds + 600));
}

// The handshake's parser takes leading zeros too ("007" is user 7).
TEST_P(TokenVerifier, ReadsTheSubjectAsTheHandshakeDoes) {
  auto claims = good_claims();
  claims["sub"] = "007";
  EXPECT_EQ(verify_claims(claims), accepted(7, now_seconds + 600));
}

TEST_P(TokenVerifier, IgnoresHeadersAndClaimsItDoesNotUse) {
  const auto header_json = json{{"alg", std::string(to_string(algorithm()))}, {"typ", "at+jwt"}, {"kid", "k1"},
                                {"jku", "https://attacker.invalid/keys"}};
  auto claims = good_claims();
  claims["jti"] = "abc";
  claims["scope"] = json::array({"read"});
  EXPECT_EQ(outcome(verifier().verify(sign_raw(header_json.dump(), claims.dump()), now)),
            accepted(42, now_seconds + 600));
}

// RFC 7519 4: a parser may keep the lexically last of duplicate names; nlohmann json does.
TEST_P(TokenVerifier, TakesTheLastOfDuplicateClaims) {
  const std::string payload = R"({"sub":"1","exp":1700000600,"sub":"2"})";
  EXPECT_EQ(verify(sign_raw(header(), payload)), accepted(2, now_seconds + 600));
}

TEST_P(TokenVerifier, AcceptsWhitespaceInsideTheJson) {
  const std::string payload = " {\n \"sub\" : \"5\" ,\t\"exp\" : 1700000600 } ";
  EXPECT_EQ(verify(sign_raw(" { \"alg\" : \"" + std::string(to_string(algorithm())) + "\" } ", payload)),
            accepted(5, now_seconds + 600));
}

// --- signature ------------------------------------------------------------------------------

TEST_P(TokenVerifier, RefusesATamperedPayload) {
  auto parts = parts_of(sign(good_claims(42)));
  parts[1] = base64url_encode(good_claims(43).dump());
  EXPECT_EQ(verify(parts[0] + "." + parts[1] + "." + parts[2]), "bad_signature");
}

TEST_P(TokenVerifier, RefusesAFlippedSignatureBit) {
  auto parts = parts_of(sign(good_claims()));
  auto signature = *base64url_decode(parts[2]);
  for (const std::size_t at : {std::size_t{0}, signature.size() / 2, signature.size() - 1}) {
    auto flipped = signature;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x01);
    EXPECT_EQ(verify(parts[0] + "." + parts[1] + "." + base64url_encode(flipped)), "bad_signature") << at;
  }
}

TEST_P(TokenVerifier, RefusesASignatureOfTheWrongLength) {
  auto parts = parts_of(sign(good_claims()));
  const auto signature = *base64url_decode(parts[2]);
  const auto prefix = parts[0] + "." + parts[1] + ".";
  EXPECT_EQ(verify(prefix), "bad_signature");
  EXPECT_EQ(verify(prefix + base64url_encode(signature.substr(1))), "bad_signature");
  EXPECT_EQ(verify(prefix + base64url_encode(signature + '\0')), "bad_signature");
  EXPECT_EQ(verify(prefix + base64url_encode(std::string(1, '\0') + signature)), "bad_signature");
}

TEST_P(TokenVerifier, RefusesATokenSignedWithAnotherKey) {
  std::string other;
  switch (algorithm()) {
    case token_algorithm::hs256: other = "another secret of thirty-two bytes!"; break;
    case token_algorithm::rs256: other = other_rsa_key().private_pem; break;
    case token_algorithm::es256: other = other_ec_key().private_pem; break;
  }
  const auto token = token_signer::from_key(algorithm(), other).sign(good_claims().dump());
  EXPECT_EQ(verify(token), "bad_signature");
}

// A refused signature leaves nothing in OpenSSL's per-thread error queue, which the TLS code
// on the same thread reads after its own calls.
TEST_P(TokenVerifier, LeavesOpenSslsErrorQueueEmpty) {
  ERR_clear_error();
  auto parts = parts_of(sign(good_claims()));
  auto signature = *base64url_decode(parts[2]);
  signature[0] = static_cast<char>(signature[0] ^ 0x80);
  EXPECT_EQ(verify(parts[0] + "." + parts[1] + "." + base64url_encode(signature)), "bad_signature");
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// --- algorithm ------------------------------------------------------------------------------

TEST_P(TokenVerifier, RefusesAlgNone) {
  const auto payload = good_claims().dump();
  for (const std::string none : {"none", "None", "NONE", "nOnE"}) {
    const auto header_json = json{{"alg", none}, {"typ", "JWT"}}.dump();
    EXPECT_EQ(verify(raw_token(header_json, payload, "")), "wrong_algorithm") << none;
    // With a real signature over other bytes, and with this verifier's own valid signature.
    const auto signed_token = sign(good_claims());
    EXPECT_EQ(verify(raw_token(header_json, payload, "") + parts_of(signed_token)[2]), "wrong_algorithm") << none;
    EXPECT_EQ(verify(sign_raw(header_json, payload)), "wrong_algorithm") << none;
  }
}

TEST_P(TokenVerifier, RefusesEveryOtherAlgorithm) {
  const auto mine = std::string(to_string(algorithm()));
  for (const std::string other : {"HS256", "RS256", "ES256", "HS384", "HS512", "RS384", "RS512", "PS256", "ES384",
                                  "ES512", "EdDSA", "hs256", "rs256", "es256", "HS256 ", " HS256", ""}) {
    if (other == mine) continue;
    const auto header_json = json{{"alg", other}}.dump();
    EXPECT_EQ(verify(sign_raw(header_json, good_claims().dump())), "wrong_algorithm") << other;
  }
}

// The classic key confusion: the verifier holds a public key; the attacker, who has it too,
// signs an HS256 token with the PEM bytes as the HMAC secret.
TEST(TokenVerifierKeyConfusion, RefusesHs256SignedWithThePublicKey) {
  for (const auto algorithm : {token_algorithm::rs256, token_algorithm::es256}) {
    const auto& public_pem = algorithm == token_algorithm::rs256 ? rsa_key().public_pem : ec_key().public_pem;
    const auto verifier = token_verifier::from_key(settings_for(algorithm), public_pem);
    const auto forged = token_signer::from_key(token_algorithm::hs256, public_pem).sign(good_claims().dump());
    EXPECT_EQ(outcome(verifier.verify(forged, now)), "wrong_algorithm") << to_string(algorithm);

    // The same HMAC under a header that claims the verifier's algorithm: the signature fails.
    const auto header_json = header_for(algorithm);
    const auto input = base64url_encode(header_json) + "." + base64url_encode(good_claims().dump());
    const auto hmac = token_signer::from_key(token_algorithm::hs256, public_pem).signature(input);
    EXPECT_EQ(outcome(verifier.verify(input + "." + hmac, now)), "bad_signature") << to_string(algorithm);
  }
}

TEST(TokenVerifierEs256, RefusesADerSignature) {
  // What a signer that forgets RFC 7518 3.4 sends: OpenSSL's DER instead of r || s.
  const auto verifier = token_verifier::from_key(settings_for(token_algorithm::es256), ec_key().public_pem);
  const auto token = token_signer::from_key(token_algorithm::es256, ec_key().private_pem).sign(good_claims().dump());
  auto parts = parts_of(token);
  const auto raw = *base64url_decode(parts[2]);
  ASSERT_EQ(raw.size(), 64u);
  // DER SEQUENCE { INTEGER r, INTEGER s }, each with a leading zero byte: 72 bytes.
  std::string der = "\x30\x46\x02\x21";
  der += '\0';
  der += raw.substr(0, 32);
  der += "\x02\x21";
  der += '\0';
  der += raw.substr(32);
  EXPECT_EQ(outcome(verifier.verify(parts[0] + "." + parts[1] + "." + base64url_encode(der), now)), "bad_signature");
}

TEST(TokenVerifierEs256, RefusesZeroAndOutOfRangeSignatureValues) {
  const auto verifier = token_verifier::from_key(settings_for(token_algorithm::es256), ec_key().public_pem);
  const auto input = base64url_encode(header_for(token_algorithm::es256)) + "." + base64url_encode(good_claims().dump());
  for (const char fill : {'\x00', '\xff'}) {
    EXPECT_EQ(outcome(verifier.verify(input + "." + base64url_encode(std::string(64, fill)), now)), "bad_signature");
  }
}

// --- expiry and not-before -----------------------------------------------------------------

TEST_P(TokenVerifier, RefusesAnExpiredToken) {
  auto claims = good_claims();
  claims["exp"] = now_seconds;  // "on or after" exp: refused at its very second
  EXPECT_EQ(verify_claims(claims), "expired");
  claims["exp"] = now_seconds - 1;
  EXPECT_EQ(verify_claims(claims), "expired");
  claims["exp"] = -1;
  EXPECT_EQ(verify_claims(claims), "expired");
  claims["exp"] = now_seconds + 1;
  EXPECT_EQ(verify_claims(claims), accepted(42, now_seconds + 1));
}

TEST_P(TokenVerifier, ExpiresWithinTheSecondOfExp) {
  auto claims = good_claims();
  claims["exp"] = now_seconds + 1;
  const auto verifier_for = verifier();
  const auto token = sign(claims);
  EXPECT_TRUE(verifier_for.verify(token, now + 999ms).has_value());
  EXPECT_EQ(outcome(verifier_for.verify(token, now + 1s)), "expired");
}

TEST_P(TokenVerifier, AllowsTheLeewayPastExp) {
  const auto with_leeway = [](token_settings& s) { s.leeway = 30s; };
  auto claims = good_claims();
  claims["exp"] = now_seconds - 29;
  EXPECT_EQ(verify_claims(claims, with_leeway), accepted(42, now_seconds + 1));  // expires counts the leeway
  claims["exp"] = now_seconds - 30;
  EXPECT_EQ(verify_claims(claims, with_leeway), "expired");
}

// A fractional exp is rounded down: the token may end up to a second early, never late.
TEST_P(TokenVerifier, RoundsAFractionalExpDown) {
  auto claims = good_claims();
  claims["exp"] = static_cast<double>(now_seconds) + 0.9;
  EXPECT_EQ(verify_claims(claims), "expired");
  claims["exp"] = static_cast<double>(now_seconds) + 1.5;
  EXPECT_EQ(verify_claims(claims), accepted(42, now_seconds + 1));
}

TEST_P(TokenVerifier, SaturatesAnExpBeyondTheClock) {
  for (const json& exp : {json(1e300), json(std::numeric_limits<std::uint64_t>::max()),
                         json(std::numeric_limits<std::int64_t>::max())}) {
    auto claims = good_claims();
    claims["exp"] = exp;
    const auto result = verifier([](token_settings& s) { s.leeway = 60s; }).verify(sign(claims), now);
    ASSERT_TRUE(result.has_value()) << exp;
    EXPECT_EQ(result->expires, clock_type::time_point::max()) << exp;
  }
}

TEST_P(TokenVerifier, RefusesATokenWithoutExp) {
  auto claims = good_claims();
  claims.erase("exp");
  EXPECT_EQ(verify_claims(claims), "missing_expiry");
}

TEST_P(TokenVerifier, RefusesAnExpThatIsNotANumber) {
  for (const json& exp : {json("1700000600"), json(nullptr), json(true), json::array({1700000600}), json::object()}) {
    auto claims = good_claims();
    claims["exp"] = exp;
    EXPECT_EQ(verify_claims(claims), "malformed") << exp;
  }
}

TEST_P(TokenVerifier, HonoursNbf) {
  auto claims = good_claims();
  claims["nbf"] = now_seconds + 1;
  EXPECT_EQ(verify_claims(claims), "not_yet_valid");
  claims["nbf"] = static_cast<double>(now_seconds) + 0.5;  // rounded up: not before the next second
  EXPECT_EQ(verify_claims(claims), "not_yet_valid");
  claims["nbf"] = now_seconds;
  EXPECT_EQ(verify_claims(claims), accepted(42, now_seconds + 600));
  claims["nbf"] = now_seconds - 100;
  EXPECT_EQ(verify_claims(claims), accepted(42, now_seconds + 600));
}

TEST_P(TokenVerifier, AllowsTheLeewayBeforeNbf) {
  const auto with_leeway = [](token_settings& s) { s.leeway = 30s; };
  auto claims = good_claims();
  claims["nbf"] = now_seconds + 30;
  EXPECT_EQ(verify_claims(claims, with_leeway), accepted(42, now_seconds + 630));
  claims["nbf"] = now_seconds + 31;
  EXPECT_EQ(verify_claims(claims, with_leeway), "not_yet_valid");
}

TEST_P(TokenVerifier, RefusesAnNbfThatIsNotANumber) {
  auto claims = good_claims();
  claims["nbf"] = "1700000000";
  EXPECT_EQ(verify_claims(claims), "malformed");
}

// --- audience and issuer -------------------------------------------------------------------

TEST_P(TokenVerifier, ChecksTheAudienceWhenConfigured) {
  const auto configured = [](token_settings& s) { s.audience = "eventserver"; };
  auto claims = good_claims();
  for (const json& aud : {json("eventserver"), json::array({"eventserver"}), json::array({"api", "eventserver"}),
                         json::array({1, "eventserver"})}) {
    claims["aud"] = aud;
    EXPECT_EQ(verify_claims(claims, configured), accepted(42, now_seconds + 600)) << aud;
  }
  for (const json& aud : {json("api"), json("EventServer"), json("eventserver "), json::array(), json::array({"api"}),
                         json(5), json(nullptr), json::object({{"eventserver", true}}),
                         json::array({json::array({"eventserver"})})}) {
    claims["aud"] = aud;
    EXPECT_EQ(verify_claims(claims, configured), "wrong_audience") << aud;
  }
  claims.erase("aud");
  EXPECT_EQ(verify_claims(claims, configured), "wrong_audience");
}

TEST_P(TokenVerifier, IgnoresTheAudienceWhenNotConfigured) {
  auto claims = good_claims();
  claims["aud"] = "some-other-service";
  EXPECT_EQ(verify_claims(claims), accepted(42, now_seconds + 600));
}

TEST_P(TokenVerifier, ChecksTheIssuerWhenConfigured) {
  const auto configured = [](token_settings& s) { s.issuer = "https://backend.example"; };
  auto claims = good_claims();
  claims["iss"] = "https://backend.example";
  EXPECT_EQ(verify_claims(claims, configured), accepted(42, now_seconds + 600));
  for (const json& iss : {json("https://backend.example/"), json("https://evil.example"), json(""), json(5),
                         json::array({"https://backend.example"})}) {
    claims["iss"] = iss;
    EXPECT_EQ(verify_claims(claims, configured), "wrong_issuer") << iss;
  }
  claims.erase("iss");
  EXPECT_EQ(verify_claims(claims, configured), "wrong_issuer");
  claims["iss"] = "anyone";
  EXPECT_EQ(verify_claims(claims), accepted(42, now_seconds + 600));  // not configured: not checked
}

// --- subject --------------------------------------------------------------------------------

TEST_P(TokenVerifier, RefusesATokenWithoutSub) {
  auto claims = good_claims();
  claims.erase("sub");
  EXPECT_EQ(verify_claims(claims), "missing_subject");
}

TEST_P(TokenVerifier, RefusesASubThatIsNotAUserId) {
  for (const json& sub : {json("alice"), json("-1"), json("+1"), json(" 42"), json("42 "), json("4 2"), json(""),
                         json("18446744073709551616"), json("99999999999999999999999"), json("0x10"), json("1e3"),
                         json("4.2"), json("42\n"), json(-1), json(1.5), json(42.0), json(true), json(nullptr),
                         json::array({42}), json::object({{"id", 42}})}) {
    auto claims = good_claims();
    claims["sub"] = sub;
    EXPECT_EQ(verify_claims(claims), "bad_subject") << sub;
  }
}

TEST_P(TokenVerifier, RefusesASubBeyond64BitsWrittenAsANumber) {
  // nlohmann json reads 2^64 as a float: still not a user id.
  const std::string payload = R"({"sub":18446744073709551616,"exp":1700000600})";
  EXPECT_EQ(verify(sign_raw(header(), payload)), "bad_subject");
  EXPECT_EQ(verify(sign_raw(header(), R"({"sub":-0,"exp":1700000600})")), "bad_subject");
}

// --- the order of the checks ----------------------------------------------------------------

TEST_P(TokenVerifier, ReportsTheFirstFailureInTheDocumentedOrder) {
  // Structure before algorithm: a bad spelling anywhere is malformed.
  EXPECT_EQ(verify(base64url_encode(R"({"alg":"none"})") + ".e30.+"), "malformed");
  // Algorithm before signature.
  EXPECT_EQ(verify(base64url_encode(R"({"alg":"none"})") + ".e30.AAAA"), "wrong_algorithm");
  // Signature before any claim: an unsigned payload is not even parsed.
  EXPECT_EQ(verify(base64url_encode(header()) + "." + base64url_encode("not json") + ".AAAA"), "bad_signature");
  // Then exp, sub, time, iss, aud.
  EXPECT_EQ(verify_claims(json{{"iat", 1}}), "missing_expiry");
  EXPECT_EQ(verify_claims(json{{"exp", 1}}), "missing_subject");
  EXPECT_EQ(verify_claims(json{{"exp", 1}, {"sub", "x"}}), "bad_subject");
  const auto both = [](token_settings& s) {
    s.issuer = "the-issuer";
    s.audience = "the-audience";
  };
  EXPECT_EQ(verify_claims(json{{"exp", 1}, {"sub", "1"}, {"nbf", now_seconds + 9}}, both), "expired");
  EXPECT_EQ(verify_claims(json{{"exp", now_seconds + 9}, {"sub", "1"}, {"nbf", now_seconds + 9}}, both),
            "not_yet_valid");
  EXPECT_EQ(verify_claims(json{{"exp", now_seconds + 9}, {"sub", "1"}}, both), "wrong_issuer");
  EXPECT_EQ(verify_claims(json{{"exp", now_seconds + 9}, {"sub", "1"}, {"iss", "the-issuer"}}, both), "wrong_audience");
  EXPECT_EQ(verify_claims(json{{"exp", now_seconds + 9}, {"sub", "1"}, {"iss", "the-issuer"}, {"aud", "the-audience"}}, both),
            accepted(1, now_seconds + 9));
}

// --- malformed ------------------------------------------------------------------------------

TEST_P(TokenVerifier, RefusesSomethingThatIsNotThreeParts) {
  const auto token = sign(good_claims());
  const auto parts = parts_of(token);
  for (const auto& bad : {std::string(), std::string("."), std::string(".."), std::string("..."),
                                std::string("abc"), parts[0], parts[0] + "." + parts[1], token + ".",
                                token + "." + parts[2], "." + token, parts[0] + ".." + parts[1] + "." + parts[2]}) {
    EXPECT_EQ(verify(bad), "malformed") << bad;
  }
}

TEST_P(TokenVerifier, RefusesBadBase64url) {
  const auto token = sign(good_claims());
  const auto parts = parts_of(token);
  const auto join = [](const std::string& a, const std::string& b, const std::string& c) { return a + "." + b + "." + c; };
  const std::vector<std::string> bad = {
      " " + token,                                       // whitespace around or inside
      token + " ",
      token + "\r\n",
      join(parts[0], parts[1].substr(0, 5) + " " + parts[1].substr(5), parts[2]),
      join(parts[0] + "=", parts[1], parts[2]),          // padding
      join(parts[0], parts[1], parts[2] + "=="),
      join(parts[0], parts[1] + "+", parts[2]),          // the standard alphabet
      join(parts[0], parts[1], parts[2] + "/"),
      join(parts[0] + "A", parts[1], parts[2]),          // a length of 1 mod 4 (or spare bits)
      join(parts[0], parts[1], parts[2] + "\x80"),       // bytes outside ASCII
      join(parts[0], std::string(parts[1]).append(1, '\0'), parts[2]),
  };
  for (const auto& text : bad) EXPECT_EQ(verify(text), "malformed") << text;
}

// The signature part of a 32-byte HMAC is 43 characters: the last carries 2 spare bits. A
// second spelling of the same signature must not verify.
TEST_P(TokenVerifier, RefusesANonCanonicalSpellingOfAValidSignature) {
  const auto parts = parts_of(sign(good_claims()));
  const auto tail = (parts[2].size() % 4);
  ASSERT_NE(tail, 0u);  // 32, 256 and 64 bytes all leave spare bits
  auto respelled = parts[2];
  char& last = respelled.back();
  last = last == 'A' ? 'B' : last == 'Q' ? 'R' : last == 'g' ? 'h' : last == 'w' ? 'x' : static_cast<char>(last + 1);
  EXPECT_EQ(verify(parts[0] + "." + parts[1] + "." + respelled), "malformed");
}

TEST_P(TokenVerifier, RefusesAHeaderThatIsNotAJsonObject) {
  const auto payload = good_claims().dump();
  for (const std::string header_json : {"", "not json", "{", "[]", R"(["alg","HS256"])", R"("HS256")", "null", "42",
                                        R"({"alg":"HS256"} x)", R"({"alg":"HS256",})", "{\"alg\":\"HS\xff\"}",
                                        R"({"alg":"HS256"}/*c*/)"}) {
    EXPECT_EQ(verify(sign_raw(header_json, payload)), "malformed") << header_json;
  }
}

TEST_P(TokenVerifier, RefusesAHeaderWithoutAStringAlg) {
  const auto payload = good_claims().dump();
  for (const std::string header_json : {R"({})", R"({"typ":"JWT"})", R"({"alg":null})", R"({"alg":256})",
                                        R"({"alg":["HS256"]})", R"({"ALG":"HS256"})"}) {
    EXPECT_EQ(verify(sign_raw(header_json, payload)), "malformed") << header_json;
  }
}

TEST_P(TokenVerifier, RefusesCriticalHeaderExtensions) {
  const auto header_json =
      json{{"alg", std::string(to_string(algorithm()))}, {"crit", json::array({"b64"})}, {"b64", false}}.dump();
  EXPECT_EQ(verify(sign_raw(header_json, good_claims().dump())), "malformed");
}

TEST_P(TokenVerifier, RefusesASignedPayloadThatIsNotAJsonObject) {
  for (const std::string payload : {"", "not json", "[]", R"(["sub","42"])", R"("42")", "null",
                                    R"({"sub":"42","exp":1700000600} trailing)", "{\"sub\":\"\xc3\x28\"}"}) {
    EXPECT_EQ(verify(sign_raw(header(), payload)), "malformed") << payload;
  }
}

TEST_P(TokenVerifier, RefusesATokenOverTheSizeLimit) {
  // Grow a padding claim until the token passes the limit: the last one under it is accepted.
  std::string last_under;
  std::string first_over;
  for (std::size_t pad = 0; first_over.empty(); pad += 1) {
    auto claims = good_claims();
    claims["pad"] = std::string(pad, 'x');
    auto token = sign(claims);
    (token.size() <= token_verifier::max_token_bytes ? last_under : first_over) = std::move(token);
    if (pad == 0) pad = token_verifier::max_token_bytes * 3 / 4 - 600;  // skip ahead
  }
  EXPECT_GT(last_under.size(), token_verifier::max_token_bytes - 4);
  EXPECT_EQ(verify(last_under), accepted(42, now_seconds + 600));
  EXPECT_EQ(verify(first_over), "malformed");
}

TEST_P(TokenVerifier, RefusesAHugeHeaderWithoutLookingAtIt) {
  const auto parts = parts_of(sign(good_claims()));
  const std::string huge = base64url_encode(R"({"alg":")" + std::string(100'000, 'A') + R"("})");
  EXPECT_EQ(verify(huge + "." + parts[1] + "." + parts[2]), "malformed");
  EXPECT_EQ(verify(std::string(1'000'000, 'A')), "malformed");
}

TEST_P(TokenVerifier, SurvivesDeeplyNestedJson) {
  const std::string nested = R"({"sub":"1","exp":1700000600,"x":)" + std::string(2000, '[') + std::string(2000, ']') + "}";
  EXPECT_EQ(verify(sign_raw(header(), nested)), accepted(1, now_seconds + 600));
  const std::string unbalanced = std::string(3000, '[');
  EXPECT_EQ(verify(sign_raw(unbalanced, good_claims().dump())), "malformed");
}

// --- the refusal names ----------------------------------------------------------------------

TEST(TokenRefusal, HasStableNames) {
  EXPECT_EQ(to_string(token_refusal::malformed), "malformed");
  EXPECT_EQ(to_string(token_refusal::bad_signature), "bad_signature");
  EXPECT_EQ(to_string(token_refusal::wrong_algorithm), "wrong_algorithm");
  EXPECT_EQ(to_string(token_refusal::expired), "expired");
  EXPECT_EQ(to_string(token_refusal::not_yet_valid), "not_yet_valid");
  EXPECT_EQ(to_string(token_refusal::wrong_audience), "wrong_audience");
  EXPECT_EQ(to_string(token_refusal::wrong_issuer), "wrong_issuer");
  EXPECT_EQ(to_string(token_refusal::missing_subject), "missing_subject");
  EXPECT_EQ(to_string(token_refusal::bad_subject), "bad_subject");
  EXPECT_EQ(to_string(token_refusal::missing_expiry), "missing_expiry");
  EXPECT_EQ(to_string(token_refusal::user_mismatch), "user_mismatch");
}

TEST(TokenAlgorithm, ParsesTheJoseNamesOnly) {
  EXPECT_EQ(parse_token_algorithm("HS256"), token_algorithm::hs256);
  EXPECT_EQ(parse_token_algorithm("RS256"), token_algorithm::rs256);
  EXPECT_EQ(parse_token_algorithm("ES256"), token_algorithm::es256);
  EXPECT_EQ(parse_token_algorithm("hs256"), std::nullopt);
  EXPECT_EQ(parse_token_algorithm("none"), std::nullopt);
  EXPECT_EQ(parse_token_algorithm("HS384"), std::nullopt);
  EXPECT_EQ(parse_token_algorithm(""), std::nullopt);
  for (const auto algorithm : {token_algorithm::hs256, token_algorithm::rs256, token_algorithm::es256}) {
    EXPECT_EQ(parse_token_algorithm(to_string(algorithm)), algorithm);
  }
}

// --- the signer's output, as other implementations expect it ------------------------------

TEST_P(TokenVerifier, SignsWithTheSignatureSizeOfTheAlgorithm) {
  const auto parts = parts_of(sign(good_claims()));
  const std::size_t expected = algorithm() == token_algorithm::hs256 ? 32 : algorithm() == token_algorithm::rs256 ? 256 : 64;
  EXPECT_EQ(base64url_decode(parts[2])->size(), expected);
  EXPECT_EQ(*base64url_decode(parts[0]), R"({"alg":")" + std::string(to_string(algorithm())) + R"(","typ":"JWT"})");
}

// RFC 7515 appendix A.1's HS256 example: a token another implementation made, with a CRLF
// inside its header JSON. Its exp (1300819380) lies in 2011.
TEST(TokenVerifierInterop, AcceptsTheRfc7515Hs256Example) {
  const std::string key = *base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
      ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const auto verifier = token_verifier::from_key(settings_for(token_algorithm::hs256), key);
  const clock_type::time_point before{std::chrono::seconds(1300819000)};
  // Signature and structure are fine; it names no user (checked before the time).
  EXPECT_EQ(outcome(verifier.verify(token, before)), "missing_subject");
  auto tampered = token;
  tampered[tampered.size() - 2] = 'Y';  // was 'X'
  EXPECT_EQ(outcome(verifier.verify(tampered, before)), "bad_signature");
  // Our signer reproduces the signature over the same bytes.
  const auto signer = token_signer::from_key(token_algorithm::hs256, key);
  EXPECT_EQ(signer.signature(token.substr(0, token.rfind('.'))), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

// RS256 and ES256 tokens made outside the project: the keys and the signatures come from the
// `openssl` command (genpkey, dgst -sign), not from token_signer, so a verifier that agreed only
// with our own signer (a wrong padding, a DER signature where JWS wants r||s) fails here.
class openssl_command : public auth_test::temp_dir {
 public:
  openssl_command() : temp_dir("eventserver-jws") {}
  // Runs `openssl <arguments>` in the directory; false when it fails.
  bool run(const std::string& arguments) const {
    const std::string command = "cd '" + path().string() + "' && openssl " + arguments + " >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;
  }
};

// An ECDSA signature as DER (SEQUENCE of INTEGER r, INTEGER s) to JWS's fixed 64 bytes (RFC 7518
// 3.4): each number big-endian, left-padded to 32 bytes. Empty if it is not such a DER value.
std::string der_to_jws_ecdsa(const std::string& der) {
  std::size_t at = 0;
  const auto byte = [&]() -> int { return at < der.size() ? static_cast<unsigned char>(der[at++]) : -1; };
  if (byte() != 0x30) return {};
  if (byte() < 0) return {};  // the sequence's length: under 128 for P-256
  std::string out;
  for (int i = 0; i < 2; ++i) {
    if (byte() != 0x02) return {};
    const int length = byte();
    if (length <= 0 || at + static_cast<std::size_t>(length) > der.size()) return {};
    std::string number = der.substr(at, static_cast<std::size_t>(length));
    at += static_cast<std::size_t>(length);
    while (number.size() > 32 && number.front() == '\0') number.erase(0, 1);
    if (number.size() > 32) return {};
    out += std::string(32 - number.size(), '\0') + number;
  }
  return out;
}

// header.payload signed by `openssl dgst -sha256 -sign key.pem`; for ES256 the DER signature
// is converted to r||s. Empty when openssl fails.
std::string openssl_signed(const openssl_command& openssl, token_algorithm algorithm, const std::string& claims) {
  const std::string input = base64url_encode(header_for(algorithm)) + "." + base64url_encode(claims);
  openssl.write("input", input);
  if (!openssl.run("dgst -sha256 -sign key.pem -out signature input")) return {};
  std::string signature = openssl.read("signature");
  if (algorithm == token_algorithm::es256) signature = der_to_jws_ecdsa(signature);
  if (signature.empty()) return {};
  return input + "." + base64url_encode(signature);
}

class TokenVerifierOpenSsl : public ::testing::TestWithParam<token_algorithm> {};

TEST_P(TokenVerifierOpenSsl, AcceptsATokenTheOpensslCommandSigned) {
  const token_algorithm algorithm = GetParam();
  const openssl_command openssl;
  const std::string generate = algorithm == token_algorithm::rs256
                                   ? "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem"
                                   : "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem";
  ASSERT_TRUE(openssl.run(generate));
  ASSERT_TRUE(openssl.run("pkey -in key.pem -pubout -out public.pem"));
  const auto verifier = token_verifier::from_key(settings_for(algorithm), openssl.read("public.pem"));

  const std::string token = openssl_signed(openssl, algorithm, good_claims(7).dump());
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(outcome(verifier.verify(token, now)), accepted(7, now_seconds + 600));

  // The same claims under another user: the signature over the first payload does not fit.
  const auto parts = parts_of(token);
  const std::string swapped = parts[0] + "." + base64url_encode(good_claims(8).dump()) + "." + parts[2];
  EXPECT_EQ(outcome(verifier.verify(swapped, now)), "bad_signature");

  // A key openssl made for someone else: its tokens are refused.
  ASSERT_TRUE(openssl.run(generate));
  EXPECT_EQ(outcome(verifier.verify(openssl_signed(openssl, algorithm, good_claims(7).dump()), now)), "bad_signature");
}

INSTANTIATE_TEST_SUITE_P(Asymmetric, TokenVerifierOpenSsl,
                         ::testing::Values(token_algorithm::rs256, token_algorithm::es256),
                         algorithm_name);

}  // namespace
}  // namespace eventserver
