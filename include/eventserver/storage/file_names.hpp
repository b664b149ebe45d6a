#pragma once
// Every name in a data directory, formatted and parsed in one place (LevelDB's filename.cc):
//
//   <epoch:020>-<first_seq:020>.log            a segment of the event log
//   <epoch:020>-<first_seq:020>.idx            its sparse index (rebuildable, never trusted)
//   snapshot-<epoch:020>-<seq:020>.snap        the follower graph after applying `seq`
//   <any of those>.tmp                         being written; deleted at start-up
//   <any of those>.damaged                     set aside by repair; kept for the operator
//   LOCK                                       flock'd by the daemon that owns the directory
//
// Numbers are zero-padded to 20 digits (all of u64), so names sort as their numbers do.

#include <string>
#include <string_view>

#include "eventserver/core/event.hpp"

namespace eventserver::storage {

enum class file_kind : unsigned char {
  unknown,    // not ours: left alone
  segment,
  segment_index,
  snapshot,
  temporary,
  damaged,
  lock,
};

struct file_name_info {
  file_kind kind = file_kind::unknown;
  stream_epoch epoch = 0;    // segment, segment_index, snapshot
  sequence_number seq = 0;   // a segment's first sequence number, a snapshot's last applied one
};

inline constexpr std::string_view lock_file_name = "LOCK";
inline constexpr std::string_view temporary_suffix = ".tmp";
inline constexpr std::string_view damaged_suffix = ".damaged";

std::string segment_file_name(stream_epoch epoch, sequence_number first_seq);
std::string index_file_name(stream_epoch epoch, sequence_number first_seq);
std::string snapshot_file_name(stream_epoch epoch, sequence_number seq);
std::string temporary_file_name(std::string_view final_name);
std::string damaged_file_name(std::string_view name);

file_name_info parse_file_name(std::string_view name) noexcept;

// dir + "/" + name (no doubled slash).
std::string join_path(std::string_view dir, std::string_view name);

}  // namespace eventserver::storage
