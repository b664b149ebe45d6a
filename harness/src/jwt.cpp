#include "followermaze/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

namespace followermaze {

namespace {

constexpr std::string_view hs256_header = R"({"alg":"HS256","typ":"JWT"})";

std::string payload_json(const jwt_settings& settings, std::string_view subject, std::int64_t issued,
                         std::int64_t expires) {
  // nlohmann for the strings a run passes in (audience, issuer): it escapes them.
  nlohmann::json claims;
  claims["sub"] = subject;
  claims["iat"] = issued;
  claims["exp"] = expires;
  if (!settings.audience.empty()) claims["aud"] = settings.audience;
  if (!settings.issuer.empty()) claims["iss"] = settings.issuer;
  return claims.dump();
}

std::string signed_token(std::string_view secret, std::string_view header, std::string_view payload) {
  std::string input = base64url(header);
  input += '.';
  input += base64url(payload);
  const std::string signature = hs256_signature(secret, input);
  input += '.';
  input += signature;
  return input;
}

}  // namespace

std::string base64url(std::span<const unsigned char> bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    if (rest == 2) n |= std::uint32_t{bytes[i + 1]} << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (rest == 2) out += alphabet[(n >> 6) & 63];
  }
  return out;
}

std::string hs256_signature(std::string_view secret, std::string_view signing_input) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac.data(), &length);
  return base64url(std::span<const unsigned char>(mac.data(), length));
}

std::string read_jwt_secret(const std::string& path, std::string& error) {
  error.clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path;
    return {};
  }
  std::string secret{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  // One line end, as an editor leaves it; anything else is part of the secret.
  if (secret.ends_with("\r\n")) {
    secret.resize(secret.size() - 2);
  } else if (secret.ends_with('\n')) {
    secret.pop_back();
  }
  if (secret.size() < min_jwt_secret_bytes) {
    error = path + " holds " + std::to_string(secret.size()) + " bytes (after one trailing line end); an HS256 secret needs at least " +
            std::to_string(min_jwt_secret_bytes);
    return {};
  }
  return secret;
}

std::string sign_token(const jwt_settings& settings, user_id user, std::int64_t now_s) {
  return signed_token(settings.secret, hs256_header,
                      payload_json(settings, std::to_string(user), now_s, now_s + settings.ttl_s));
}

std::string_view to_string(bad_token_kind kind) noexcept {
  switch (kind) {
    case bad_token_kind::wrong_signature: return "wrong signature";
    case bad_token_kind::expired: return "expired";
    case bad_token_kind::other_user: return "another user's token";
    case bad_token_kind::garbage: return "not a token";
    case bad_token_kind::missing: return "no token";
    case bad_token_kind::alg_none: return "alg none, unsigned";
    case bad_token_kind::wrong_audience: return "wrong audience";
    case bad_token_kind::wrong_issuer: return "wrong issuer";
  }
  return "unknown";
}

bool bad_token_applies(bad_token_kind kind, const jwt_settings& settings) noexcept {
  if (kind == bad_token_kind::wrong_audience) return !settings.audience.empty();
  if (kind == bad_token_kind::wrong_issuer) return !settings.issuer.empty();
  return true;
}

std::string bad_token(bad_token_kind kind, const jwt_settings& settings, user_id user, std::int64_t now_s) {
  const std::string subject = std::to_string(user);
  switch (kind) {
    case bad_token_kind::wrong_signature: {
      std::string other = settings.secret;
      other.back() = static_cast<char>(other.back() ^ 1);  // one bit off: as close as a forgery gets
      return signed_token(other, hs256_header, payload_json(settings, subject, now_s, now_s + settings.ttl_s));
    }
    case bad_token_kind::expired:
      return signed_token(settings.secret, hs256_header, payload_json(settings, subject, now_s - 2 * 86400, now_s - 86400));
    case bad_token_kind::other_user:
      return sign_token(settings, user + 1, now_s);
    case bad_token_kind::garbage: return "not-a-token";
    case bad_token_kind::missing: return {};
    case bad_token_kind::alg_none:
      return base64url(std::string_view(R"({"alg":"none","typ":"JWT"})")) + "." +
             base64url(payload_json(settings, subject, now_s, now_s + settings.ttl_s)) + ".";
    case bad_token_kind::wrong_audience: {
      jwt_settings other = settings;
      other.audience += "-not";
      return sign_token(other, user, now_s);
    }
    case bad_token_kind::wrong_issuer: {
      jwt_settings other = settings;
      other.issuer += "-not";
      return sign_token(other, user, now_s);
    }
  }
  return {};
}

std::int64_t unix_now_s() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace followermaze
