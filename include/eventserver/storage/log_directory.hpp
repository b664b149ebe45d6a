#pragma once
// A data directory's event log: opening it (lock, recovery, repair), appending batches with
// segment rolls, and the list of segments that retention and history reads work from.
//
// Opening is recovery, its own step (LevelDB's Recover): take LOCK; delete `.tmp` files;
// sort the segments by (epoch, first_seq); drop zero-length segments that are not the last;
// read every segment whole (every batch's CRC), check its continuity with the one before
// (next first_seq == previous last + 1 within an epoch), and cut a torn tail off the last one.
// Damage anywhere else is read past and kept as a damaged_range (damage()): the daemon decides
// what it costs (recovery refuses to replay across it; history tells a resume across it that
// it is incomplete). A missing segment stops start-up with a storage_error naming it. With
// `repair` set, the first damage of an epoch (or a missing segment) cuts the epoch there
// instead, and its later segments are renamed `<name>.damaged`.
//
// Last, snapshots that the log does not reach (of a later epoch, or past the last number of
// the current one: written before a log tail that a crash or a repair then lost) are renamed
// `<name>.damaged`, since the graph they hold is of a future the log no longer has. Everything
// done is listed in notes() for the caller to log.
//
// After open, the object is plain synchronous state: one thread at a time.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/directory_listing.hpp"
#include "eventserver/storage/directory_lock.hpp"
#include "eventserver/storage/segment_writer.hpp"

namespace eventserver::storage {

struct log_options {
  std::string dir;
  bool create_if_missing = false;
  // Cut the log at damage instead of refusing to start (the operator's choice, never the default).
  bool repair = false;
  // A segment is closed and the next one begun once it has reached this size.
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
};

struct epoch_range {
  stream_epoch epoch = 0;
  sequence_number first_seq = 0;  // the first number still in the log (retention removes older)
  sequence_number last_seq = 0;   // first_seq - 1 when the epoch holds nothing yet
};

enum class recovery_action : std::uint8_t {
  removed_temporary,      // a `.tmp` an interrupted write left
  removed_orphan_index,   // an `.idx` whose segment is gone
  removed_empty_segment,  // a zero-length segment that is not the last
  cut_torn_tail,          // the last segment ended in a torn write: cut (bytes, lost numbers)
  cut_damage,             // repair: a segment cut at damage
  set_aside,              // repair: a segment after the damage or a gap, renamed `.damaged`
  rebuilt_index,          // an index that disagreed with its segment, rewritten
  kept_damage,            // damage read past and kept (damage()): numbers lost, as far as known
  set_aside_snapshot,     // a snapshot past the end of the log, renamed `.damaged`
};

struct recovery_note {
  recovery_action action = recovery_action::removed_temporary;
  std::string file;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  sequence_number first_lost = 0;  // cut_torn_tail, cut_damage: the numbers lost, as far as known
  sequence_number last_lost = 0;   // 0: unknown
  std::string reason;

  // One line for the daemon's log.
  std::string describe() const;
};

class log_directory {
 public:
  // Throws storage_error: missing (and not create_if_missing) or unreadable directory, LOCK
  // held, damage without `repair`, I/O errors.
  static log_directory open(const log_options& options);

  log_directory(log_directory&&) noexcept = default;
  log_directory& operator=(log_directory&&) noexcept = default;

  const std::string& dir() const noexcept { return options_.dir; }
  const std::vector<recovery_note>& notes() const noexcept { return notes_; }
  // The snapshots found at open that the log reaches, newest first (what recovery loads from;
  // list_snapshots() gives the current list).
  const std::vector<snapshot_file>& snapshots_at_open() const noexcept { return snapshots_; }
  // Damage read past at open, oldest first; ranges in segments that retention deleted since
  // are dropped.
  const std::vector<damaged_range>& damage() const noexcept { return damage_; }
  // Changes whenever a segment is added or removed (not when the active one grows).
  std::uint64_t generation() const noexcept { return generation_; }
  // Oldest first; the last one is the active segment (appends go there).
  const std::vector<segment_info>& segments() const noexcept { return segments_; }
  std::vector<epoch_range> epochs() const;
  std::optional<epoch_range> epoch(stream_epoch epoch) const;
  // The epoch of the newest segment: 0 when the log is empty.
  stream_epoch current_epoch() const noexcept { return segments_.empty() ? 0 : segments_.back().epoch; }
  // The last number written in the current epoch (0 when empty).
  sequence_number last_seq() const noexcept { return segments_.empty() ? 0 : segments_.back().last_seq; }

  // Appends one sealed batch of `epoch`. Within the current epoch it must continue the log
  // (first_seq == last_seq() + 1); a later epoch begins a new segment at the batch's first_seq.
  // A new segment is begun too when the active one has reached segment_bytes; the finished
  // one is synced first, so that only the last segment can ever end in a torn write.
  // EINVAL for a batch that does not continue the log or an older epoch.
  std::error_code append(stream_epoch epoch, std::span<const char> sealed_batch);
  // Several sealed batches of `epoch`, each continuing the one before, in one write (a roll
  // happens only before the first: a segment may end a group past segment_bytes).
  std::error_code append(stream_epoch epoch, std::span<const std::span<const char>> sealed_batches);

  // fdatasync of the active segment.
  std::error_code sync();

  // Deletes the `count` oldest segments (retention's choice) with their indexes; never the
  // active one (EINVAL).
  std::error_code remove_oldest(std::size_t count);

  const segment_writer& writer() const noexcept { return writer_; }

 private:
  log_directory() = default;
  std::error_code roll(stream_epoch epoch, sequence_number first_seq);

  log_options options_;
  directory_lock lock_;
  std::vector<segment_info> segments_;
  segment_writer writer_;
  std::vector<recovery_note> notes_;
  std::vector<snapshot_file> snapshots_;
  std::vector<damaged_range> damage_;
  std::uint64_t generation_ = 0;
};

}  // namespace eventserver::storage
