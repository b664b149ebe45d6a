#pragma once
// A segment's sparse index, `<epoch>-<first_seq>.idx` beside the `.log`: 16-byte entries
// (u64 first_seq of a batch, u64 its offset in the segment), little-endian, one for the first
// batch and then one for the first batch starting at least index_interval_bytes after the
// previous entry. Not checksummed and never trusted: readers verify the batch an entry points
// to and scan the segment when it disagrees; recovery rewrites it from a scan.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "eventserver/core/event.hpp"

namespace eventserver::storage {

struct index_entry {
  sequence_number first_seq = 0;
  std::uint64_t offset = 0;
  friend bool operator==(const index_entry&, const index_entry&) = default;
};

inline constexpr std::size_t index_entry_size = 16;
inline constexpr std::uint64_t index_interval_bytes = 4096;

// Whether the batch at `offset` gets an entry, given the previous entry (if any). The writer
// and every rebuild use this one rule, so a rebuilt index equals the written one.
constexpr bool index_entry_due(bool has_previous, std::uint64_t previous_offset, std::uint64_t offset) noexcept {
  return !has_previous || offset - previous_offset >= index_interval_bytes;
}

void encode_index_entry(char* out, const index_entry& entry) noexcept;
index_entry decode_index_entry(const char* in) noexcept;

// The index path of a segment path ("x.log" -> "x.idx").
std::string index_path_for(const std::string& segment_path);

// Replaces the index file with `entries`.
std::error_code write_index_file(const std::string& path, std::span<const index_entry> entries) noexcept;

// The entry with the greatest first_seq <= seq, by binary search with one pread per probe (the
// file is never read whole). nullopt when there is no index, it is unreadable, or no entry
// qualifies. Unverified: the caller checks the batch it points to.
std::optional<index_entry> search_index(const std::string& index_path, sequence_number seq) noexcept;

// The file's last entry, unverified.
std::optional<index_entry> last_index_entry(const std::string& index_path) noexcept;

}  // namespace eventserver::storage
