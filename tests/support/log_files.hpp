#pragma once
// A data directory as the tests see it, read from the documented format (docs/log_format.md)
// rather than through src/storage: segments with their batches (offset, numbers), snapshots,
// files set aside; and the damage the tests do to them (a cut, a flipped byte).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace eventserver::test_support {

namespace log_files {

namespace fs = std::filesystem;

struct batch {
  std::uint64_t offset = 0;  // in its segment
  std::uint64_t bytes = 0;   // header and body
  std::uint64_t first_seq = 0;
  std::uint64_t count = 0;
  std::uint64_t last_seq() const noexcept { return first_seq + count - 1; }
};

struct segment {
  fs::path path;
  std::uint64_t epoch = 0;
  std::uint64_t first_seq = 0;  // from the name
  std::uint64_t bytes = 0;
  std::vector<batch> batches;
  // The last number the segment holds (first_seq - 1 when it holds none).
  std::uint64_t last_seq() const noexcept { return batches.empty() ? first_seq - 1 : batches.back().last_seq(); }
};

struct snapshot {
  fs::path path;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
};

struct listing {
  std::vector<segment> segments;    // ascending
  std::vector<snapshot> snapshots;  // ascending
  std::vector<std::string> set_aside;  // names ending in ".damaged"
  std::vector<std::string> temporary;  // names ending in ".tmp"

  // The segments and snapshots of one epoch.
  std::vector<const segment*> segments_of(std::uint64_t epoch) const {
    std::vector<const segment*> out;
    for (const auto& s : segments) {
      if (s.epoch == epoch) out.push_back(&s);
    }
    return out;
  }
  std::vector<std::uint64_t> snapshot_seqs(std::uint64_t epoch) const {
    std::vector<std::uint64_t> out;
    for (const auto& s : snapshots) {
      if (s.epoch == epoch) out.push_back(s.seq);
    }
    return out;
  }
  std::uint64_t bytes() const {
    std::uint64_t total = 0;
    for (const auto& s : segments) total += s.bytes;
    return total;
  }
  bool is_set_aside(const fs::path& file) const {
    const std::string name = file.filename().string() + ".damaged";
    return std::find(set_aside.begin(), set_aside.end(), name) != set_aside.end();
  }
};

inline std::uint64_t load_u32(const unsigned char* p) {
  return std::uint64_t{p[0]} | std::uint64_t{p[1]} << 8 | std::uint64_t{p[2]} << 16 | std::uint64_t{p[3]} << 24;
}
inline std::uint64_t load_u64(const unsigned char* p) { return load_u32(p) | load_u32(p + 4) << 32; }

inline std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The batches of an undamaged segment, by their headers (24 bytes: body length, CRC, kind,
// version, reserved, count, first_seq). Stops at anything that does not parse.
inline std::vector<batch> read_batches(const fs::path& path) {
  const std::string bytes = read_all(path);
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::vector<batch> out;
  std::uint64_t at = 0;
  while (at + 24 <= bytes.size()) {
    batch b;
    b.offset = at;
    const std::uint64_t body = load_u32(data + at);
    const bool events = data[at + 8] == 1;
    b.count = load_u32(data + at + 12);
    b.first_seq = load_u64(data + at + 16);
    b.bytes = 24 + body;
    if (b.count == 0 || at + b.bytes > bytes.size() || (events && body == 0)) break;
    out.push_back(b);
    at += b.bytes;
  }
  return out;
}

inline listing list(const fs::path& dir) {
  static const std::regex segment_name(R"((\d{20})-(\d{20})\.log)");
  static const std::regex snapshot_name(R"(snapshot-(\d{20})-(\d{20})\.snap)");
  listing out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (name.ends_with(".damaged")) {
      out.set_aside.push_back(name);
    } else if (name.ends_with(".tmp")) {
      out.temporary.push_back(name);
    } else if (std::regex_match(name, m, segment_name)) {
      segment s;
      s.path = entry.path();
      s.epoch = std::stoull(m[1]);
      s.first_seq = std::stoull(m[2]);
      s.bytes = fs::file_size(entry.path());
      s.batches = read_batches(entry.path());
      out.segments.push_back(std::move(s));
    } else if (std::regex_match(name, m, snapshot_name)) {
      out.snapshots.push_back({entry.path(), std::stoull(m[1]), std::stoull(m[2])});
    }
  }
  std::sort(out.segments.begin(), out.segments.end(),
            [](const auto& a, const auto& b) { return std::tie(a.epoch, a.first_seq) < std::tie(b.epoch, b.first_seq); });
  std::sort(out.snapshots.begin(), out.snapshots.end(),
            [](const auto& a, const auto& b) { return std::tie(a.epoch, a.seq) < std::tie(b.epoch, b.seq); });
  std::sort(out.set_aside.begin(), out.set_aside.end());
  return out;
}

// The byte of `path` at `offset` XORed with `mask` (non-zero): a flipped byte.
inline void flip_byte(const fs::path& path, std::uint64_t offset, unsigned char mask = 0x5a) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path.string());
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  file.get(c);
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(static_cast<unsigned char>(c) ^ mask));
  if (!file) throw std::runtime_error("cannot flip byte " + std::to_string(offset) + " of " + path.string());
}

// The file cut to `size` bytes: what a machine crash leaves of an unsynced tail.
inline void cut(const fs::path& path, std::uint64_t size) { fs::resize_file(path, size); }

}  // namespace log_files

}  // namespace eventserver::test_support
