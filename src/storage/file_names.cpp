#include "eventserver/storage/file_names.hpp"

#include <array>
#include <optional>

namespace eventserver::storage {

namespace {

constexpr std::size_t number_digits = 20;  // u64 max has 20 digits
constexpr std::string_view segment_suffix = ".log";
constexpr std::string_view index_suffix = ".idx";
constexpr std::string_view snapshot_prefix = "snapshot-";
constexpr std::string_view snapshot_suffix = ".snap";

void append_number(std::string& out, std::uint64_t value) {
  std::array<char, number_digits> digits;
  for (std::size_t i = number_digits; i-- > 0;) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits.data(), digits.size());
}

std::string pair_name(std::string_view prefix, std::uint64_t a, std::uint64_t b, std::string_view suffix) {
  std::string name;
  name.reserve(prefix.size() + 2 * number_digits + 1 + suffix.size());
  name.append(prefix);
  append_number(name, a);
  name.push_back('-');
  append_number(name, b);
  name.append(suffix);
  return name;
}

// Exactly 20 decimal digits that fit in u64.
std::optional<std::uint64_t> parse_number(std::string_view digits) noexcept {
  if (digits.size() != number_digits) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// "<20 digits>-<20 digits>" exactly.
bool parse_pair(std::string_view text, std::uint64_t& a, std::uint64_t& b) noexcept {
  if (text.size() != 2 * number_digits + 1 || text[number_digits] != '-') return false;
  const auto first = parse_number(text.substr(0, number_digits));
  const auto second = parse_number(text.substr(number_digits + 1));
  if (!first || !second) return false;
  a = *first;
  b = *second;
  return true;
}

}  // namespace

std::string segment_file_name(stream_epoch epoch, sequence_number first_seq) {
  return pair_name({}, epoch, first_seq, segment_suffix);
}

std::string index_file_name(stream_epoch epoch, sequence_number first_seq) {
  return pair_name({}, epoch, first_seq, index_suffix);
}

std::string snapshot_file_name(stream_epoch epoch, sequence_number seq) {
  return pair_name(snapshot_prefix, epoch, seq, snapshot_suffix);
}

std::string temporary_file_name(std::string_view final_name) {
  std::string name(final_name);
  name.append(temporary_suffix);
  return name;
}

std::string damaged_file_name(std::string_view name) {
  std::string aside(name);
  aside.append(damaged_suffix);
  return aside;
}

file_name_info parse_file_name(std::string_view name) noexcept {
  file_name_info info;
  if (name == lock_file_name) {
    info.kind = file_kind::lock;
  } else if (name.ends_with(temporary_suffix) && name.size() > temporary_suffix.size()) {
    info.kind = file_kind::temporary;
  } else if (name.ends_with(damaged_suffix) && name.size() > damaged_suffix.size()) {
    info.kind = file_kind::damaged;
  } else if (name.ends_with(segment_suffix)) {
    name.remove_suffix(segment_suffix.size());
    if (parse_pair(name, info.epoch, info.seq)) info.kind = file_kind::segment;
  } else if (name.ends_with(index_suffix)) {
    name.remove_suffix(index_suffix.size());
    if (parse_pair(name, info.epoch, info.seq)) info.kind = file_kind::segment_index;
  } else if (name.starts_with(snapshot_prefix) && name.ends_with(snapshot_suffix)) {
    name.remove_prefix(snapshot_prefix.size());
    name.remove_suffix(snapshot_suffix.size());
    if (parse_pair(name, info.epoch, info.seq)) info.kind = file_kind::snapshot;
  }
  if (info.kind == file_kind::unknown) info = {};
  return info;
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  path.append(name);
  return path;
}

}  // namespace eventserver::storage
