#pragma once
// What a data directory holds, by name (file_names.hpp): one readdir, no file opened.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "eventserver/core/event.hpp"

namespace eventserver::storage {

struct segment_file {
  std::string name;
  stream_epoch epoch = 0;
  sequence_number first_seq = 0;
  std::uint64_t bytes = 0;
  std::chrono::system_clock::time_point mtime;
};

// A segment whose extent has been checked (recovery, the log tool).
struct segment_info : segment_file {
  sequence_number last_seq = 0;  // first_seq - 1 when it holds nothing
};

// Numbers of an epoch that the log holds no valid batch for, between valid ones: damage that
// start-up read past (a bad batch in a segment, or a sealed segment whose end is invalid). It
// stays reported for as long as the segment holding it exists.
struct damaged_range {
  stream_epoch epoch = 0;
  sequence_number first_lost = 0;
  sequence_number last_lost = 0;
  std::string file;          // the segment
  std::uint64_t offset = 0;  // the first invalid byte in it
  std::uint64_t bytes = 0;   // invalid bytes from there
  std::string reason;
};

struct snapshot_file {
  std::string name;
  stream_epoch epoch = 0;
  sequence_number seq = 0;  // the graph after applying seq: replay starts at seq + 1
  std::uint64_t bytes = 0;
  std::chrono::system_clock::time_point mtime;
};

struct directory_listing {
  std::vector<segment_file> segments;    // by (epoch, first_seq), oldest first
  std::vector<std::string> indexes;      // `.idx` names
  std::vector<snapshot_file> snapshots;  // by (epoch, seq), newest first
  std::vector<std::string> temporaries;  // `.tmp`: a write a crash interrupted
  std::vector<std::string> damaged;      // set aside by repair
  std::vector<std::string> unknown;      // not ours: left alone
  bool has_lock_file = false;
};

// Throws storage_error when `dir` cannot be read (missing, not a directory, no permission).
directory_listing list_directory(const std::string& dir);

}  // namespace eventserver::storage
