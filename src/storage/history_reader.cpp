#include "eventserver/storage/history_reader.hpp"

#include <cerrno>
#include <utility>

#include <unistd.h>

#include "eventserver/storage/file_names.hpp"

namespace eventserver::storage {

std::optional<sequence_number> first_available_seq(std::span<const segment_info> segments, stream_epoch epoch) noexcept {
  for (const auto& segment : segments) {
    if (segment.epoch == epoch) return segment.first_seq;
  }
  return std::nullopt;
}

history_reader::history_reader(std::string dir, std::size_t buffer_bytes)
    : dir_(std::move(dir)), reader_(buffer_bytes) {}

std::error_code history_reader::open_segment(sequence_number first_seq) {
  if (auto ec = reader_.open(join_path(dir_, segment_file_name(epoch_, first_seq)))) return ec;
  segment_first_seq_ = first_seq;
  return {};
}

history_start history_reader::seek(std::span<const segment_info> segments, stream_epoch epoch,
                                   sequence_number from_seq) {
  reader_.close();
  last_batch_first_ = 0;
  reason_.clear();
  error_.clear();
  epoch_ = epoch;
  // The last segment of the epoch starting at or before from_seq.
  const segment_info* holder = nullptr;
  const segment_info* first = nullptr;
  for (const auto& segment : segments) {
    if (segment.epoch != epoch) continue;
    if (first == nullptr) first = &segment;
    if (segment.first_seq <= from_seq) holder = &segment;
  }
  if (first == nullptr) return history_start::no_history;
  history_start start = history_start::complete;
  if (holder == nullptr) {
    holder = first;
    from_seq = first->first_seq;
    start = history_start::incomplete;
  }
  if (auto ec = open_segment(holder->first_seq)) {
    error_ = ec;
    if (ec == std::errc::no_such_file_or_directory) reason_ = "segment deleted before it could be read";
    return history_start::error;
  }
  const find_result found = reader_.find(from_seq);
  next_seq_ = from_seq;
  stored_next_ = found.seq != 0 ? found.seq : holder->first_seq;
  switch (found.outcome) {
    case find_result::status::found:
    case find_result::status::after:
      return start;
    case find_result::status::before:
      next_seq_ = found.seq;
      return history_start::incomplete;
    case find_result::status::corrupt:
      reason_ = std::string(reader_.reason());
      if (reason_.empty()) reason_ = "sequence discontinuity";
      return history_start::error;
    case find_result::status::error:
      error_ = reader_.error();
      return history_start::error;
  }
  return history_start::error;
}

// A stored batch: checked for continuity, then trimmed to the position. nullopt when it lies
// wholly before the position.
std::optional<history_status> history_reader::take(const batch_view& stored, batch_view& batch) {
  if (stored.first_seq != stored_next_) {
    reason_ = "sequence discontinuity: expected " + std::to_string(stored_next_) + ", found " +
              std::to_string(stored.first_seq);
    return history_status::corrupt;
  }
  stored_next_ = stored.next_seq();
  if (stored.last_seq() < next_seq_) return std::nullopt;
  batch = batch_from(stored, next_seq_);
  next_seq_ = batch.next_seq();
  // The batch comes from the open segment (a move to the next one reads on before returning).
  last_batch_offset_ = reader_.offset() - stored.stored_size();
  last_batch_first_ = stored.first_seq;
  last_returned_first_ = batch.first_seq;
  return history_status::batch;
}

void history_reader::put_back(sequence_number seq) noexcept {
  // Nothing to hand back unless next() just returned a batch holding seq.
  if (last_batch_first_ == 0 || seq < last_returned_first_ || seq >= next_seq_) return;
  reader_.seek(last_batch_offset_);
  stored_next_ = last_batch_first_;
  next_seq_ = seq;
}

history_status history_reader::next(batch_view& batch) {
  last_batch_first_ = 0;
  if (!reader_.is_open()) return history_status::caught_up;
  for (;;) {
    batch_view stored;
    switch (reader_.next(stored)) {
      case read_status::batch:
        if (const auto status = take(stored, batch)) return *status;
        break;
      case read_status::end:
        if (reader_.trailing_bytes() != 0) return history_status::caught_up;  // a batch being written
        if (const auto status = end_of_segment(batch)) return *status;
        break;  // moved to the next segment
      case read_status::corrupt:
        reason_ = std::string(reader_.reason());
        return history_status::corrupt;
      case read_status::error:
        error_ = reader_.error();
        return history_status::error;
    }
  }
}

// At the clean end of the open segment: moves to the next one (nullopt) if it exists. Its
// existence means this one is finished (the log syncs a segment before it begins the next),
// so this one is read to its end once more first: the batches written just before the roll.
std::optional<history_status> history_reader::end_of_segment(batch_view& batch) {
  const std::string next_path = join_path(dir_, segment_file_name(epoch_, stored_next_));
  if (stored_next_ == segment_first_seq_ || ::access(next_path.c_str(), F_OK) != 0) {
    if (::access(reader_.path().c_str(), F_OK) != 0 && errno == ENOENT) {
      reason_ = "the segments after sequence number " + std::to_string(stored_next_ - 1) + " were deleted";
      return history_status::lost;
    }
    return history_status::caught_up;
  }
  for (;;) {
    batch_view stored;
    switch (reader_.next(stored)) {
      case read_status::batch:
        if (const auto status = take(stored, batch)) return *status;
        continue;
      case read_status::end:
        if (reader_.trailing_bytes() != 0) {
          reason_ = "a finished segment ends in a partial batch";
          return history_status::corrupt;
        }
        break;
      case read_status::corrupt:
        reason_ = std::string(reader_.reason());
        return history_status::corrupt;
      case read_status::error:
        error_ = reader_.error();
        return history_status::error;
    }
    break;
  }
  if (auto ec = open_segment(stored_next_)) {
    error_ = ec;
    if (ec == std::errc::no_such_file_or_directory) {
      reason_ = "the segments after sequence number " + std::to_string(stored_next_ - 1) + " were deleted";
      return history_status::lost;
    }
    return history_status::error;
  }
  return std::nullopt;
}

}  // namespace eventserver::storage
