#include "eventserver/admin/admin_auth.hpp"

#include <cstddef>

namespace eventserver {

bool secrets_equal(std::string_view expected, std::string_view given) noexcept {
  // Every byte of `expected` is looked at whatever `given` holds; differences are OR-ed
  // together instead of returning at the first one. volatile keeps the compiler from turning
  // the loop back into an early exit.
  volatile unsigned char difference = expected.size() == given.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto wanted = static_cast<unsigned char>(expected[i]);
    const auto got = static_cast<unsigned char>(i < given.size() ? given[i] : 0);
    difference = static_cast<unsigned char>(difference | (wanted ^ got));
  }
  return difference == 0;
}

namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (text.size() - i < 3) return std::nullopt;  // '%' and two hex digits
    const int high = hex_digit(text[i + 1]);
    const int low = hex_digit(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<std::string> query_parameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    if (eq == std::string_view::npos) return std::string{};
    return percent_decode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

bool accepts_query_token(std::string_view path) noexcept {
  return path == "/" || path == "/events" || path == "/static/chart.js";
}

bool admin_authorized(std::string_view token, std::string_view path, std::string_view query,
                      std::string_view authorization) {
  if (token.empty()) return true;
  if (const auto presented = bearer_credentials(authorization)) return secrets_equal(token, *presented);
  if (!accepts_query_token(path)) return false;
  const auto presented = query_parameter(query, "token");
  return presented && secrets_equal(token, *presented);
}

}  // namespace eventserver
