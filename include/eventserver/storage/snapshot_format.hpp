#pragma once
// A follower-graph snapshot file, `snapshot-<epoch:020>-<seq:020>.snap` (docs/log_format.md):
//
//   header   40 bytes: "EVSNAPSH", u32 version = 2, u32 reserved = 0, u64 epoch, u64 seq
//            (the graph after applying seq: replay starts at seq + 1), u32 masked crc32c of
//            bytes [0, 32), u32 reserved = 0
//   chunks   u32 length (1..max_snapshot_chunk_bytes), u32 masked crc32c of the records, then
//            records: u64 user, u32 count (>= 1), count x u64 followed user
//   trailer  u32 0 (a zero length marks it), u32 masked crc32c of the 24 bytes that follow,
//            u64 users, u64 edges, u64 chunks; then the end of the file
//
// Little-endian. A user's list may be split over several adjacent records (so chunks stay
// small however long one list is); users counts runs of records of one user. A file without
// a valid trailer is invalid: it is what a crash during the write leaves.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace eventserver::storage {

inline constexpr std::string_view snapshot_magic = "EVSNAPSH";
// Version 2: the graph at exactly `seq`. Version 1 (still read) was "fuzzy": each record
// showed the graph at some number from `seq` up to the next snapshot's.
inline constexpr std::uint32_t snapshot_format_version = 2;
inline constexpr std::uint32_t fuzzy_snapshot_format_version = 1;
inline constexpr std::size_t snapshot_header_size = 40;
inline constexpr std::size_t snapshot_chunk_header_size = 8;
inline constexpr std::size_t snapshot_record_header_size = 12;
inline constexpr std::size_t snapshot_trailer_body_size = 24;
// The longest chunk a loader accepts: the bound on its buffer.
inline constexpr std::size_t max_snapshot_chunk_bytes = std::size_t{16} << 20;

}  // namespace eventserver::storage
