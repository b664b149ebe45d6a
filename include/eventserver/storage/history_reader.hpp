#pragma once
// Reads an epoch's history forward from a sequence number, across segment boundaries, through
// one segment_reader's bounded buffer: what a client catching up (or a resumed source) needs.
//
// Positioning uses the segment list (log_directory::segments()); moving on uses names alone:
// the segment after one ending at N is `<epoch>-<N+1>.log`, so a reader follows rolls made
// after it was positioned. A segment that ends cleanly while no next one exists means the
// reader has caught up (for now: the active segment grows, and next() can be called again).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/directory_listing.hpp"
#include "eventserver/storage/segment_reader.hpp"

namespace eventserver::storage {

// The first number of `epoch` still in the log (what retention left), or nullopt when none of
// that epoch remains. `segments` sorted oldest first.
std::optional<sequence_number> first_available_seq(std::span<const segment_info> segments, stream_epoch epoch) noexcept;

enum class history_start : std::uint8_t {
  complete,    // positioned at the number asked for
  incomplete,  // that number is gone (retention): positioned at the first available one
  no_history,  // nothing of the epoch remains
  error,       // the segment could not be read (error(), reason())
};

enum class history_status : std::uint8_t {
  batch,      // the next batch, starting exactly at position() before the call
  caught_up,  // nothing more yet
  lost,       // the segments still to be read were deleted under the reader (retention)
  corrupt,    // an invalid batch (reason())
  error,      // I/O (error())
};

class history_reader {
 public:
  explicit history_reader(std::string dir, std::size_t buffer_bytes = segment_reader::default_buffer_bytes);

  // Positions at `from_seq` of `epoch`. A position past the end of the log is allowed: reads
  // then return caught_up until the log gets there.
  history_start seek(std::span<const segment_info> segments, stream_epoch epoch, sequence_number from_seq);

  // The next batch from position(): trimmed so that it starts exactly there (a skip batch
  // included: its count says how many numbers were given up). Its view is valid until the
  // next call.
  history_status next(batch_view& batch);

  // Hands back the numbers from `seq` on of the batch the last next() returned (seq within
  // it): the next call returns them again, from the buffer, with no seek. What a caller that
  // must stop at a number inside a batch does with the rest of it.
  void put_back(sequence_number seq) noexcept;

  // The next number to be read.
  sequence_number position() const noexcept { return next_seq_; }
  // Where the reader is: the open segment's file and the offset of its next batch.
  const std::string& segment_path() const noexcept { return reader_.path(); }
  std::uint64_t offset() const noexcept { return reader_.offset(); }
  stream_epoch epoch() const noexcept { return epoch_; }
  std::string_view reason() const noexcept { return reason_; }
  std::error_code error() const noexcept { return error_; }

 private:
  std::error_code open_segment(sequence_number first_seq);
  std::optional<history_status> end_of_segment(batch_view& batch);
  std::optional<history_status> take(const batch_view& stored, batch_view& batch);

  std::string dir_;
  segment_reader reader_;
  stream_epoch epoch_ = 0;
  sequence_number segment_first_seq_ = 0;  // the open segment's first number (its name)
  // Invariant: stored_next_ <= next_seq_. stored_next_ is the number the next stored batch must
  // start with (the log's continuity, and the name of the segment after this one);
  // next_seq_ the next number handed out (batches are trimmed up to it).
  sequence_number stored_next_ = 0;
  sequence_number next_seq_ = 0;
  // The stored batch the last next() returned (put_back): its offset and first number (0:
  // none, after a seek or a next() that returned no batch), and the first number returned.
  std::uint64_t last_batch_offset_ = 0;
  sequence_number last_batch_first_ = 0;
  sequence_number last_returned_first_ = 0;
  std::string reason_;
  std::error_code error_;
};

}  // namespace eventserver::storage
