#include "eventserver/net/bearer.hpp"

#include <cstddef>

namespace eventserver {

namespace {
bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}
}  // namespace

std::optional<std::string_view> bearer_credentials(std::string_view authorization) noexcept {
  constexpr std::string_view scheme = "bearer";
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos || !equals_ignoring_case(authorization.substr(0, space), scheme)) {
    return std::nullopt;
  }
  std::string_view credentials = authorization.substr(space);
  while (!credentials.empty() && (credentials.front() == ' ' || credentials.front() == '\t')) credentials.remove_prefix(1);
  while (!credentials.empty() && (credentials.back() == ' ' || credentials.back() == '\t')) credentials.remove_suffix(1);
  if (credentials.empty()) return std::nullopt;
  return credentials;
}

}  // namespace eventserver
