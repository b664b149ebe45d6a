#include "eventserver/core/warning_limiter.hpp"

#include <algorithm>

namespace eventserver {

std::optional<std::uint64_t> warning_limiter::allow(clock::time_point now) noexcept {
  if (used_ == 0 || now - window_start_ >= interval_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ >= burst_) {
    ++suppressed_;
    return std::nullopt;
  }
  ++used_;
  const std::uint64_t reported = suppressed_;
  suppressed_ = 0;
  return reported;
}

}  // namespace eventserver

namespace eventserver {

std::string suppressed_note(std::uint64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " similar warnings suppressed)";
}

std::string quote_peer_bytes(std::string_view bytes, std::size_t limit) {
  constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(bytes.size(), limit) + 8);
  out.push_back('"');
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  if (bytes.size() > limit) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace eventserver
