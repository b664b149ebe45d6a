#pragma once
// Reads the batches of one segment forward from an offset through a bounded buffer: memory
// is the buffer (64 KiB by default), grown only to hold one batch larger than it, never the
// file. Every batch is checked (decode_batch) before it is handed out.
//
// The file may still be growing (the active segment): a batch not yet complete at the end
// of the file reads as `end`, and a later next() picks it up once it is.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "eventserver/core/event.hpp"
#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/file_io.hpp"

namespace eventserver::storage {

enum class read_status : std::uint8_t {
  batch,    // a valid batch
  end,      // no complete batch before the end of the file (trailing_bytes() says how much is there)
  corrupt,  // the bytes at offset() are no valid batch (reason())
  error,    // the file could not be read (error())
};

struct find_result {
  enum class status : std::uint8_t {
    found,    // offset: the batch holding the sequence number
    after,    // the segment ends before it: offset is the end of the last valid batch
    before,   // the segment starts after it: offset 0
    corrupt,  // the scan met an invalid batch or a discontinuity before reaching it
    error,
  };
  status outcome = status::error;
  std::uint64_t offset = 0;
  // found: the first number of the batch at `offset`; after: the number the next batch must
  // start with (0 when the segment holds no batch); before: the first batch's first number.
  sequence_number seq = 0;
  bool used_index = false;  // the index led to the batch (else the segment was scanned from its start)
};

class segment_reader {
 public:
  static constexpr std::size_t default_buffer_bytes = std::size_t{64} << 10;

  explicit segment_reader(std::size_t buffer_bytes = default_buffer_bytes);

  std::error_code open(const std::string& path);
  void close() noexcept;
  bool is_open() const noexcept { return static_cast<bool>(fd_); }
  const std::string& path() const noexcept { return path_; }
  // The file's size now (it may be growing).
  std::error_code current_size(std::uint64_t& size) const noexcept;

  // The next read starts at `offset`, which should be a batch boundary (anything else reads
  // as corrupt, or as a batch only if one really starts there).
  void seek(std::uint64_t offset) noexcept { offset_ = offset; }
  // Where the next batch starts: after next() returned a batch, the end of that batch.
  std::uint64_t offset() const noexcept { return offset_; }

  // The batch at offset(); its view is valid until the next call.
  read_status next(batch_view& batch);

  // After `end`: bytes at offset() that do not make a whole batch yet, and what their header
  // said (header_known) if it was complete and plausible.
  std::uint64_t trailing_bytes() const noexcept { return trailing_; }
  const decode_result& last_decode() const noexcept { return last_; }
  std::string_view reason() const noexcept { return last_.reason; }
  std::error_code error() const noexcept { return error_; }

  // The batch holding `seq`: the index's entry at or below it, verified (the batch there must
  // start at the entry's sequence number), then forward; without a usable index, a scan from
  // the start. Leaves the reader positioned at the result's offset.
  find_result find(sequence_number seq);

 private:
  // Makes [offset_, offset_ + needed) readable in the buffer if the file has it; false at end
  // of file or on error (error_ set).
  bool fill(std::size_t needed);
  find_result scan_for(sequence_number seq, std::uint64_t from, bool used_index);

  unique_fd fd_;
  std::string path_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  std::uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  std::size_t buffered_ = 0;         // valid bytes in buffer_
  std::uint64_t offset_ = 0;
  std::uint64_t trailing_ = 0;
  decode_result last_;
  std::error_code error_;
};

}  // namespace eventserver::storage
