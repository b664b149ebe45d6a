#include "eventserver/storage/log_directory.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/endian.hpp"
#include "eventserver/storage/file_io.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/reporter.hpp"
#include "eventserver/storage/segment_index.hpp"
#include "eventserver/storage/segment_scan.hpp"
#include "eventserver/storage/storage_error.hpp"

namespace eventserver::storage {

namespace {

// Keeps what a scan reports about a torn tail (the numbers it cut, as far as known).
class tail_reporter final : public reporter {
 public:
  void corruption(std::uint64_t, std::uint64_t, std::string_view) override {}
  void torn_tail(const tail_loss& loss) override {
    loss_ = loss;
    reason_ = loss.reason;
    loss_.reason = {};
  }
  const tail_loss& loss() const noexcept { return loss_; }

 private:
  tail_loss loss_;
  std::string reason_;
};

std::string numbers(sequence_number first, sequence_number last) {
  if (first == 0) return "no sequence numbers";
  if (last == 0) return "sequence numbers from " + std::to_string(first) + " on (how far is unknown)";
  if (last == first) return "sequence number " + std::to_string(first);
  return "sequence numbers " + std::to_string(first) + ".." + std::to_string(last);
}

void prepare_directory(const log_options& options) {
  struct stat st {};
  if (::stat(options.dir.c_str(), &st) != 0) {
    const std::error_code ec(errno, std::system_category());
    if (ec != std::errc::no_such_file_or_directory) {
      throw storage_error("cannot use data directory " + options.dir + ": " + ec.message());
    }
    if (!options.create_if_missing) throw storage_error("data directory " + options.dir + " does not exist");
    std::error_code created;
    std::filesystem::create_directories(options.dir, created);
    if (created) throw storage_error("cannot create data directory " + options.dir + ": " + created.message());
    return;
  }
  if (!S_ISDIR(st.st_mode)) throw storage_error("data directory " + options.dir + " is not a directory");
}

void remove_or_throw(const std::string& path) {
  if (auto ec = remove_file(path)) throw storage_error("cannot remove " + path + ": " + ec.message());
}

// Cuts a file to `length` bytes and makes the cut durable.
void cut_file(const std::string& path, std::uint64_t length) {
  unique_fd fd;
  std::error_code ec = open_file(path, O_WRONLY, fd);
  if (!ec) ec = truncate_file(fd.get(), length);
  if (!ec) ec = sync_file(fd.get());
  if (ec) throw storage_error("cannot cut " + path + " to " + std::to_string(length) + " bytes: " + ec.message());
}

// Whether the index file holds exactly `entries` (a full scan's): an index is never trusted.
bool index_matches(const std::string& path, const std::vector<index_entry>& entries) {
  unique_fd fd;
  if (open_file(path, O_RDONLY, fd)) return false;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != entries.size() * index_entry_size) {
    return false;
  }
  std::vector<char> bytes(entries.size() * index_entry_size);
  if (!bytes.empty() && ::pread(fd.get(), bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return false;
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!(decode_index_entry(bytes.data() + i * index_entry_size) == entries[i])) return false;
  }
  return true;
}

// `<name>.damaged`, or `<name>.<n>.damaged` when an earlier repair already used that name.
std::string aside_name(const std::string& dir, const std::string& name) {
  std::string candidate = damaged_file_name(name);
  for (int n = 2; ::access(join_path(dir, candidate).c_str(), F_OK) == 0; ++n) {
    candidate = damaged_file_name(name + "." + std::to_string(n));
  }
  return candidate;
}

}  // namespace

std::string recovery_note::describe() const {
  switch (action) {
    case recovery_action::removed_temporary:
      return "removed " + file + ", left by an interrupted write";
    case recovery_action::removed_orphan_index:
      return "removed " + file + ", the index of a segment that no longer exists";
    case recovery_action::removed_empty_segment:
      return "removed " + file + ", an empty segment (created, nothing written before a stop)";
    case recovery_action::cut_torn_tail:
      return file + " ended in a torn write (" + reason + "): cut " + std::to_string(bytes) + " bytes at offset " +
             std::to_string(offset) + ", " + numbers(first_lost, last_lost) + " lost";
    case recovery_action::cut_damage:
      return "repair: " + file + " is damaged at byte offset " + std::to_string(offset) + " (" + reason + "): cut " +
             std::to_string(bytes) + " bytes there, " + numbers(first_lost, last_lost) + " lost";
    case recovery_action::set_aside:
      return "repair: renamed " + file + " to " + file + ".damaged (" + reason + ")";
    case recovery_action::rebuilt_index:
      return "rebuilt " + file + ", which disagreed with its segment";
    case recovery_action::kept_damage:
      return file + " is damaged at byte offset " + std::to_string(offset) + " (" + reason + ", " +
             std::to_string(bytes) + " bytes): " + numbers(first_lost, last_lost) +
             " lost; history reads past it, and a resume across it is told it is incomplete";
    case recovery_action::set_aside_snapshot:
      return "renamed " + file + " to " + file + ".damaged: " + reason;
  }
  return file;
}

log_directory log_directory::open(const log_options& options) {
  if (options.dir.empty()) throw storage_error("no data directory given");
  prepare_directory(options);

  log_directory log;
  log.options_ = options;
  log.lock_ = directory_lock::acquire(options.dir);
  const std::string& dir = options.dir;
  const directory_listing listing = list_directory(dir);
  bool changed = false;  // entries were removed or renamed: sync the directory at the end

  for (const auto& name : listing.temporaries) {
    remove_or_throw(join_path(dir, name));
    log.notes_.push_back({recovery_action::removed_temporary, name, 0, 0, 0, 0, {}});
    changed = true;
  }
  std::set<std::string> segment_names;
  for (const auto& file : listing.segments) segment_names.insert(file.name);
  for (const auto& name : listing.indexes) {
    const auto info = parse_file_name(name);
    if (segment_names.contains(segment_file_name(info.epoch, info.seq))) continue;
    remove_or_throw(join_path(dir, name));
    log.notes_.push_back({recovery_action::removed_orphan_index, name, 0, 0, 0, 0, {}});
    changed = true;
  }

  // A zero-length segment before the last held nothing: it cannot break continuity, so it goes.
  std::vector<segment_file> files;
  for (std::size_t i = 0; i < listing.segments.size(); ++i) {
    const auto& file = listing.segments[i];
    if (file.bytes == 0 && i + 1 < listing.segments.size()) {
      remove_or_throw(join_path(dir, file.name));
      remove_or_throw(join_path(dir, index_file_name(file.epoch, file.first_seq)));
      log.notes_.push_back({recovery_action::removed_empty_segment, file.name, 0, 0, 0, 0, {}});
      changed = true;
      continue;
    }
    files.push_back(file);
  }

  const auto set_aside = [&](const segment_file& file, const std::string& why) {
    const std::string aside = aside_name(dir, file.name);
    if (auto ec = rename_file(join_path(dir, file.name), join_path(dir, aside))) {
      throw storage_error("repair: cannot rename " + join_path(dir, file.name) + ": " + ec.message());
    }
    remove_or_throw(join_path(dir, index_file_name(file.epoch, file.first_seq)));
    log.notes_.push_back({recovery_action::set_aside, file.name, 0, file.bytes, 0, 0, why});
    changed = true;
  };

  // A sealed segment whose end was damage: the numbers it lost end where the next one starts.
  std::optional<std::size_t> open_damage;  // its index in damage_
  std::size_t open_damage_note = 0;        // and in notes_
  bool set_aside_rest = false;  // repair cut this epoch: its later segments no longer continue it
  stream_epoch set_aside_epoch = 0;
  std::string scanned_name;  // the segment whose full-scan index entries are in scanned_index
  std::vector<index_entry> scanned_index;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const segment_file& file = files[i];
    const std::string path = join_path(dir, file.name);
    if (set_aside_rest && file.epoch == set_aside_epoch) {
      set_aside(file, "after the damage in epoch " + std::to_string(file.epoch));
      continue;
    }
    const segment_info* previous =
        !log.segments_.empty() && log.segments_.back().epoch == file.epoch ? &log.segments_.back() : nullptr;
    if (open_damage && previous == nullptr) open_damage.reset();  // lost to its epoch's end: unknown
    if (open_damage && file.first_seq > previous->last_seq + 1) {
      // The segment before ended in damage: what it lost runs up to this one.
      log.damage_[*open_damage].last_lost = file.first_seq - 1;
      log.notes_[open_damage_note].last_lost = file.first_seq - 1;
      open_damage.reset();
    } else if (previous != nullptr && file.first_seq != previous->last_seq + 1) {
      const sequence_number expected = previous->last_seq + 1;
      const std::string problem =
          file.first_seq > expected
              ? "missing segment " + segment_file_name(file.epoch, expected) + " (" +
                    numbers(expected, file.first_seq - 1) + " of epoch " + std::to_string(file.epoch) +
                    ") between " + previous->name + " and " + file.name
              : "segment " + file.name + " overlaps " + previous->name + ", which ends at sequence number " +
                    std::to_string(previous->last_seq);
      if (!options.repair) {
        throw storage_error("data directory " + dir + ": " + problem +
                            "; to keep the log up to the gap and set the rest of the epoch aside, run repair");
      }
      set_aside_rest = true;
      set_aside_epoch = file.epoch;
      set_aside(file, problem);
      continue;
    }

    open_damage.reset();
    const bool is_last = i + 1 == files.size();
    tail_reporter report;
    // Every segment is read whole: damage is found at start-up, wherever it is. Repair stops
    // at the first damage (it cuts there); a daemon's start-up reads past it.
    segment_scan scan = options.repair ? scan_segment(path, file.first_seq, report)
                                       : scan_segment_through(path, file.first_seq, report);
    if (scan.outcome == scan_outcome::io_error) throw storage_error("cannot read " + path + ": " + scan.error.message());
    bool index_stale = scan.index_rebuilt ||
                       (!is_last && scan.outcome == scan_outcome::clean &&
                        !index_matches(join_path(dir, index_file_name(file.epoch, file.first_seq)), scan.index));
    for (const auto& stretch : scan.damage) {
      log.damage_.push_back({file.epoch, stretch.first_lost, stretch.last_lost, file.name, stretch.offset,
                             stretch.bytes, stretch.reason});
      log.notes_.push_back({recovery_action::kept_damage, file.name, stretch.offset, stretch.bytes,
                            stretch.first_lost, stretch.last_lost, stretch.reason});
    }
    if (scan.outcome == scan_outcome::torn_tail && !is_last && !options.repair) {
      // A sealed segment was synced whole before the next one began: an invalid end is damage.
      // Its numbers run to the next segment of the epoch (filled in there), else unknown.
      log.damage_.push_back({file.epoch, scan.last_seq + 1, 0, file.name, scan.valid_length,
                             scan.file_size - scan.valid_length, scan.reason});
      log.notes_.push_back({recovery_action::kept_damage, file.name, scan.valid_length,
                            scan.file_size - scan.valid_length, scan.last_seq + 1, 0, scan.reason});
      open_damage = log.damage_.size() - 1;
      open_damage_note = log.notes_.size() - 1;
      index_stale = true;
    } else if (scan.outcome == scan_outcome::torn_tail && is_last) {
      cut_file(path, scan.valid_length);
      const tail_loss& loss = report.loss();
      log.notes_.push_back({recovery_action::cut_torn_tail, file.name, scan.valid_length,
                            scan.file_size - scan.valid_length, loss.first_lost, loss.last_lost, scan.reason});
      changed = true;
    } else if (scan.outcome != scan_outcome::clean) {
      // Damage in the middle, or a sealed segment that does not end on a whole batch (it was
      // synced before the next one was begun, so that is damage too).
      if (!options.repair) {
        throw storage_error("segment " + path + " is damaged at byte offset " + std::to_string(scan.damage_offset) +
                            " (" + scan.reason + ", " + std::to_string(scan.file_size - scan.damage_offset) +
                            " bytes from there to its end); to cut the log there and set the rest of epoch " +
                            std::to_string(file.epoch) + " aside, run repair");
      }
      log.notes_.push_back({recovery_action::cut_damage, file.name, scan.damage_offset,
                            scan.file_size - scan.damage_offset, scan.last_seq + 1, 0, scan.reason});
      set_aside_rest = true;
      set_aside_epoch = file.epoch;
      index_stale = true;
      changed = true;
      if (scan.damage_offset == 0) {
        // Nothing valid is left: an empty segment before the last would only be removed at
        // the next start-up.
        remove_or_throw(path);
        remove_or_throw(join_path(dir, index_file_name(file.epoch, file.first_seq)));
        continue;
      }
      cut_file(path, scan.damage_offset);
    }
    if (is_last || index_stale) {
      scanned_name = file.name;
      scanned_index = std::move(scan.index);
    }
    if (!is_last && index_stale) {
      // Best effort: a wrong index costs readers a scan, not correctness.
      if (!write_index_file(join_path(dir, index_file_name(file.epoch, file.first_seq)), scanned_index)) {
        log.notes_.push_back({recovery_action::rebuilt_index, index_file_name(file.epoch, file.first_seq), 0, 0, 0, 0, {}});
      }
    }
    segment_info info;
    static_cast<segment_file&>(info) = file;
    // A damaged end kept (not cut) still takes its room on the disk.
    info.bytes = scan.outcome == scan_outcome::torn_tail && !is_last && !options.repair ? scan.file_size
                                                                                         : scan.valid_length;
    info.last_seq = scan.last_seq;
    log.segments_.push_back(std::move(info));
  }

  // Snapshots the log does not reach hold a graph of numbers the log no longer has: recovery
  // must not use them, and nothing may delete them silently.
  {
    const stream_epoch epoch = log.current_epoch();
    const sequence_number end = log.last_seq();
    std::vector<snapshot_file> kept;
    for (const snapshot_file& snapshot : listing.snapshots) {
      if (snapshot.epoch < epoch || (snapshot.epoch == epoch && snapshot.seq <= end)) {
        kept.push_back(snapshot);
        continue;
      }
      const std::string aside = aside_name(dir, snapshot.name);
      if (auto ec = rename_file(join_path(dir, snapshot.name), join_path(dir, aside))) {
        throw storage_error("cannot rename " + join_path(dir, snapshot.name) + ": " + ec.message());
      }
      const std::string why = epoch == 0 ? std::string("the log is empty")
                                         : "the log ends at sequence number " + std::to_string(end) + " of epoch " +
                                               std::to_string(epoch);
      log.notes_.push_back({recovery_action::set_aside_snapshot, snapshot.name, 0, snapshot.bytes, 0, 0,
                            "a snapshot of sequence number " + std::to_string(snapshot.seq) + " of epoch " +
                                std::to_string(snapshot.epoch) + ", but " + why});
      changed = true;
    }
    log.snapshots_ = std::move(kept);
  }

  if (!log.segments_.empty()) {
    const segment_info& active = log.segments_.back();
    if (scanned_name != active.name) {
      // Repair set the later segments aside after a tail check only: the writer needs the
      // index entries of a full scan.
      null_reporter quiet;
      scanned_index = scan_segment(join_path(dir, active.name), active.first_seq, quiet).index;
    }
    if (auto ec = log.writer_.reopen(dir, active.epoch, active.first_seq, active.bytes, active.last_seq + 1,
                                     scanned_index)) {
      throw storage_error("cannot open " + join_path(dir, active.name) + " for appending: " + ec.message());
    }
  }
  if (changed) {
    if (auto ec = sync_directory(dir)) throw storage_error("cannot sync data directory " + dir + ": " + ec.message());
  }
  return log;
}

std::vector<epoch_range> log_directory::epochs() const {
  std::vector<epoch_range> ranges;
  for (const auto& segment : segments_) {
    if (ranges.empty() || ranges.back().epoch != segment.epoch) {
      ranges.push_back({segment.epoch, segment.first_seq, segment.last_seq});
    } else {
      ranges.back().last_seq = segment.last_seq;
    }
  }
  return ranges;
}

std::optional<epoch_range> log_directory::epoch(stream_epoch epoch) const {
  for (const auto& range : epochs()) {
    if (range.epoch == epoch) return range;
  }
  return std::nullopt;
}

std::error_code log_directory::append(stream_epoch epoch, std::span<const char> sealed_batch) {
  return append(epoch, std::span<const std::span<const char>>(&sealed_batch, 1));
}

std::error_code log_directory::append(stream_epoch epoch, std::span<const std::span<const char>> sealed_batches) {
  if (sealed_batches.empty()) return {};
  const std::span<const char> first = sealed_batches.front();
  if (first.size() < batch_header_size || epoch == 0) return std::make_error_code(std::errc::invalid_argument);
  const sequence_number first_seq = load_le<std::uint64_t>(first.data() + 16);
  if (!writer_.is_open() || epoch > writer_.epoch()) {
    if (epoch < current_epoch()) return std::make_error_code(std::errc::invalid_argument);
    if (auto ec = roll(epoch, first_seq)) return ec;
  } else if (epoch < writer_.epoch() || first_seq != writer_.next_seq()) {
    return std::make_error_code(std::errc::invalid_argument);
  } else if (writer_.size() >= options_.segment_bytes && writer_.size() != 0) {
    if (auto ec = roll(epoch, first_seq)) return ec;
  }
  if (auto ec = sealed_batches.size() == 1 ? writer_.append(first) : writer_.append(sealed_batches)) return ec;
  segment_info& active = segments_.back();
  active.bytes = writer_.size();
  active.last_seq = writer_.next_seq() - 1;
  return {};
}

std::error_code log_directory::roll(stream_epoch epoch, sequence_number first_seq) {
  if (first_seq == 0) return std::make_error_code(std::errc::invalid_argument);
  // Only the last segment may end in a torn write: the one being finished is made durable
  // before a later one exists.
  if (writer_.is_open()) {
    if (auto ec = writer_.finish()) return ec;
  }
  segment_writer next;
  if (auto ec = next.create(options_.dir, epoch, first_seq)) return ec;
  const auto now = std::chrono::system_clock::now();
  if (writer_.is_open()) {
    if (writer_.size() == 0) {
      // An epoch that ended before its first batch: its empty segment would only be removed
      // at the next start-up.
      writer_.close();
      (void)remove_file(join_path(options_.dir, segments_.back().name));
      (void)remove_file(join_path(options_.dir, index_file_name(segments_.back().epoch, segments_.back().first_seq)));
      segments_.pop_back();
    } else {
      segments_.back().mtime = now;
    }
  }
  writer_ = std::move(next);
  segment_info info;
  info.name = segment_file_name(epoch, first_seq);
  info.epoch = epoch;
  info.first_seq = first_seq;
  info.bytes = 0;
  info.mtime = now;
  info.last_seq = first_seq - 1;
  segments_.push_back(std::move(info));
  ++generation_;
  return sync_directory(options_.dir);
}

std::error_code log_directory::sync() {
  if (!writer_.is_open()) return {};
  return writer_.sync();
}

std::error_code log_directory::remove_oldest(std::size_t count) {
  if (count == 0) return {};
  if (count >= segments_.size()) return std::make_error_code(std::errc::invalid_argument);
  std::size_t removed = 0;
  std::error_code failure;
  for (; removed < count; ++removed) {
    const segment_info& segment = segments_[removed];
    failure = remove_file(join_path(options_.dir, segment.name));
    if (failure) break;
    (void)remove_file(join_path(options_.dir, index_file_name(segment.epoch, segment.first_seq)));
  }
  if (removed != 0) {
    ++generation_;
    // Damage goes with the segment holding it.
    std::erase_if(damage_, [&](const damaged_range& range) {
      return std::any_of(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(removed),
                         [&](const segment_info& segment) { return segment.name == range.file; });
    });
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(removed));
  if (failure) return failure;
  return sync_directory(options_.dir);
}

}  // namespace eventserver::storage
