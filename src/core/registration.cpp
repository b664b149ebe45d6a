#include "eventserver/core/registration.hpp"

namespace eventserver {

std::optional<registration> parse_registration(std::string_view line) noexcept {
  registration out;
  const auto space = line.find(' ');
  if (space != std::string_view::npos) {
    out.token = line.substr(space + 1);
    // A token is one word; a '|' in it would mean a misplaced space in the numbers.
    if (out.token.empty() || out.token.find_first_of(" |") != std::string_view::npos) return std::nullopt;
    line = line.substr(0, space);
  }
  // user[|last[|epoch]]
  std::string_view fields[3];
  std::size_t count = 0;
  while (true) {
    if (count == 3) return std::nullopt;
    const auto bar = line.find('|');
    fields[count++] = line.substr(0, bar);
    if (bar == std::string_view::npos) break;
    line.remove_prefix(bar + 1);
  }
  const auto user = parse_user_id(fields[0]);
  if (!user) return std::nullopt;
  out.user = *user;
  if (count >= 2) {
    out.last = parse_u64(fields[1]);
    if (!out.last) return std::nullopt;
  }
  if (count == 3) {
    out.epoch = parse_u64(fields[2]);
    if (!out.epoch || *out.epoch == 0) return std::nullopt;
  }
  return out;
}

}  // namespace eventserver
