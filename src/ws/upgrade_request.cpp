#include "eventserver/ws/upgrade_request.hpp"

#include "eventserver/core/event.hpp"

namespace eventserver {

namespace {

constexpr std::string_view users_prefix = "/users/";

// A compact JWS is base64url and dots: nothing in it needs percent-encoding.
bool token_character(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

users_target refused(users_target::outcome result, std::string_view problem) noexcept {
  users_target out;
  out.result = result;
  out.problem = problem;
  return out;
}

}  // namespace

users_target parse_users_target(std::string_view target) noexcept {
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  if (!path.starts_with(users_prefix)) return refused(users_target::outcome::not_found, "no such path");
  const std::string_view id = path.substr(users_prefix.size());
  if (id.find('/') != std::string_view::npos) return refused(users_target::outcome::not_found, "no such path");
  const auto user = parse_user_id(id);
  if (!user) return refused(users_target::outcome::bad, "the user id is not an unsigned 64-bit decimal");

  users_target out;
  out.result = users_target::outcome::ok;
  out.who.user = *user;
  bool has_token = false;
  std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) return refused(users_target::outcome::bad, "a query parameter without a value");
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = pair.substr(eq + 1);
    if (key == "last") {
      if (out.who.last) return refused(users_target::outcome::bad, "last given twice");
      out.who.last = parse_u64(value);
      if (!out.who.last) return refused(users_target::outcome::bad, "last is not an unsigned 64-bit decimal");
    } else if (key == "epoch") {
      if (out.who.epoch) return refused(users_target::outcome::bad, "epoch given twice");
      out.who.epoch = parse_u64(value);
      if (!out.who.epoch || *out.who.epoch == 0) {
        return refused(users_target::outcome::bad, "epoch is not a positive unsigned 64-bit decimal");
      }
    } else if (key == "token") {
      if (has_token) return refused(users_target::outcome::bad, "token given twice");
      has_token = true;
      if (value.empty()) return refused(users_target::outcome::bad, "an empty token");
      for (const char c : value) {
        if (!token_character(c)) return refused(users_target::outcome::bad, "the token is not a compact JWS");
      }
      out.who.token = value;
    } else {
      return refused(users_target::outcome::bad, "an unknown query parameter (last, epoch and token are known)");
    }
  }
  // As in the TCP handshake line, an epoch belongs to a position: <user>|<last>|<epoch>.
  if (out.who.epoch && !out.who.last) return refused(users_target::outcome::bad, "epoch without last");
  return out;
}

bool origin_allowed(std::string_view origin, std::span<const std::string> allowed) noexcept {
  if (allowed.empty() || origin.empty()) return true;
  for (const auto& entry : allowed) {
    if (iequal(origin, entry)) return true;
  }
  return false;
}

bool valid_origin(std::string_view origin) noexcept {
  std::string_view host;
  if (origin.starts_with("https://")) {
    host = origin.substr(8);
  } else if (origin.starts_with("http://")) {
    host = origin.substr(7);
  } else {
    return false;
  }
  if (host.empty() || host.front() == ':') return false;
  for (const char c : host) {
    // No path, query, fragment or user info; no spaces or control characters.
    if (c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@' || c == '\\') return false;
  }
  return true;
}

bool valid_websocket_key(std::string_view key) noexcept {
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (std::size_t i = 0; i < 22; ++i) {
    const auto value = alphabet.find(key[i]);
    if (value == std::string_view::npos) return false;
    // 16 bytes are 128 bits: the 22nd character carries 2 of them and 4 bits of padding.
    if (i == 21 && (value & 0x0f) != 0) return false;
  }
  return true;
}

}  // namespace eventserver
