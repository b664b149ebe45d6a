#include "followermaze/jwt.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace followermaze {
namespace {

std::string decode_base64url(std::string_view text) {
  std::string out;
  std::uint32_t bits = 0;
  int have = 0;
  for (const char c : text) {
    std::uint32_t v = 0;
    if (c >= 'A' && c <= 'Z') v = static_cast<std::uint32_t>(c - 'A');
    else if (c >= 'a' && c <= 'z') v = static_cast<std::uint32_t>(c - 'a' + 26);
    else if (c >= '0' && c <= '9') v = static_cast<std::uint32_t>(c - '0' + 52);
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else ADD_FAILURE() << "not base64url: " << c;
    bits = (bits << 6) | v;
    have += 6;
    if (have >= 8) {
      have -= 8;
      out += static_cast<char>((bits >> have) & 0xff);
    }
  }
  return out;
}

struct parts {
  std::string header, payload, signature, signing_input;
};

parts split(const std::string& token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  EXPECT_NE(first, std::string::npos);
  EXPECT_NE(second, std::string::npos);
  return {decode_base64url(token.substr(0, first)), decode_base64url(token.substr(first + 1, second - first - 1)),
          token.substr(second + 1), token.substr(0, second)};
}

TEST(Jwt, Base64UrlHasNoPaddingAndTheUrlAlphabet) {
  EXPECT_EQ(base64url(std::string_view("")), "");
  EXPECT_EQ(base64url(std::string_view("f")), "Zg");
  EXPECT_EQ(base64url(std::string_view("fo")), "Zm8");
  EXPECT_EQ(base64url(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(base64url(std::string_view("\xfb\xff\xbf")), "-_-_");
}

TEST(Jwt, Hs256MatchesRfc7515AppendixA1) {
  // RFC 7515 A.1: the JWK's "k" decoded is the key; the signing input is given byte for byte.
  const std::string key = decode_base64url(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  const std::string input =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  EXPECT_EQ(hs256_signature(key, input), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

jwt_settings settings() {
  jwt_settings s;
  s.secret = std::string(32, 'k');
  s.ttl_s = 600;
  return s;
}

TEST(Jwt, ATokenNamesTheUserAndExpiresAfterItsTtl) {
  const std::string token = sign_token(settings(), 2932, 1'700'000'000);
  const auto p = split(token);
  const auto header = nlohmann::json::parse(p.header);
  EXPECT_EQ(header["alg"], "HS256");
  const auto claims = nlohmann::json::parse(p.payload);
  EXPECT_EQ(claims["sub"], "2932");  // a decimal string, as docs/protocol.md asks
  EXPECT_EQ(claims["exp"], 1'700'000'600);
  EXPECT_EQ(claims["iat"], 1'700'000'000);
  EXPECT_FALSE(claims.contains("aud"));
  EXPECT_FALSE(claims.contains("iss"));
  EXPECT_EQ(p.signature, hs256_signature(settings().secret, p.signing_input));
}

TEST(Jwt, AudienceAndIssuerWhenTheRunNamesThem) {
  auto s = settings();
  s.audience = "followers \"maze\"";
  s.issuer = "backend";
  const auto claims = nlohmann::json::parse(split(sign_token(s, 7, 100)).payload);
  EXPECT_EQ(claims["aud"], "followers \"maze\"");
  EXPECT_EQ(claims["iss"], "backend");
}

TEST(Jwt, BadTokensAreBadInExactlyOneWay) {
  auto s = settings();
  s.audience = "a";
  s.issuer = "i";
  const std::int64_t now = 1'700'000'000;
  const auto check_signature = [&](const std::string& token) {
    const auto p = split(token);
    return p.signature == hs256_signature(s.secret, p.signing_input);
  };
  {
    const auto token = bad_token(bad_token_kind::wrong_signature, s, 5, now);
    EXPECT_FALSE(check_signature(token));
    EXPECT_EQ(nlohmann::json::parse(split(token).payload)["sub"], "5");
  }
  {
    const auto token = bad_token(bad_token_kind::expired, s, 5, now);
    EXPECT_TRUE(check_signature(token));
    EXPECT_LE(nlohmann::json::parse(split(token).payload)["exp"].get<std::int64_t>(), now - 3600);
  }
  {
    const auto token = bad_token(bad_token_kind::other_user, s, 5, now);
    EXPECT_TRUE(check_signature(token));
    EXPECT_EQ(nlohmann::json::parse(split(token).payload)["sub"], "6");
  }
  EXPECT_EQ(bad_token(bad_token_kind::garbage, s, 5, now).find('.'), std::string::npos);
  EXPECT_TRUE(bad_token(bad_token_kind::missing, s, 5, now).empty());
  {
    const auto token = bad_token(bad_token_kind::alg_none, s, 5, now);
    EXPECT_TRUE(token.ends_with('.'));
    EXPECT_EQ(nlohmann::json::parse(split(token).header)["alg"], "none");
  }
  {
    const auto token = bad_token(bad_token_kind::wrong_audience, s, 5, now);
    EXPECT_TRUE(check_signature(token));
    EXPECT_EQ(nlohmann::json::parse(split(token).payload)["aud"], "a-not");
  }
  {
    const auto token = bad_token(bad_token_kind::wrong_issuer, s, 5, now);
    EXPECT_TRUE(check_signature(token));
    EXPECT_EQ(nlohmann::json::parse(split(token).payload)["iss"], "i-not");
  }
  EXPECT_FALSE(bad_token_applies(bad_token_kind::wrong_audience, settings()));
  EXPECT_FALSE(bad_token_applies(bad_token_kind::wrong_issuer, settings()));
  EXPECT_TRUE(bad_token_applies(bad_token_kind::wrong_audience, s));
}

std::string write_temp(const std::string& contents) {
  char path[] = "/tmp/followermaze_jwt_XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  std::FILE* f = fdopen(fd, "wb");
  std::fwrite(contents.data(), 1, contents.size(), f);
  std::fclose(f);
  return path;
}

TEST(Jwt, TheSecretFileLosesOneLineEndAndMustHold32Bytes) {
  const std::string secret(32, 's');
  std::string error;
  for (const auto& [contents, expected] : std::initializer_list<std::pair<std::string, std::string>>{
           {secret, secret},
           {secret + "\n", secret},
           {secret + "\r\n", secret},
           {secret + "\n\n", secret + "\n"},   // only one
           {secret + " \n", secret + " "}}) {
    const auto path = write_temp(contents);
    EXPECT_EQ(read_jwt_secret(path, error), expected);
    EXPECT_EQ(error, "");
    std::remove(path.c_str());
  }
  const auto path = write_temp(std::string(31, 's') + "\n");
  EXPECT_EQ(read_jwt_secret(path, error), "");
  EXPECT_NE(error.find("at least 32"), std::string::npos) << error;
  std::remove(path.c_str());
  read_jwt_secret("/nonexistent/secret", error);
  EXPECT_NE(error.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace followermaze
