#include "eventserver/storage/segment_reader.hpp"

#include <algorithm>
#include <cstring>

#include <fcntl.h>

#include "eventserver/storage/segment_index.hpp"

namespace eventserver::storage {

segment_reader::segment_reader(std::size_t buffer_bytes)
    : capacity_(std::max(buffer_bytes, batch_header_size)) {
  buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
}

std::error_code segment_reader::open(const std::string& path) {
  close();
  if (auto ec = open_file(path, O_RDONLY, fd_)) return ec;
  path_ = path;
  return {};
}

std::error_code segment_reader::current_size(std::uint64_t& size) const noexcept {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);
  return file_size(fd_.get(), size);
}

void segment_reader::close() noexcept {
  fd_.reset();
  path_.clear();
  buffer_offset_ = 0;
  buffered_ = 0;
  offset_ = 0;
  trailing_ = 0;
  error_.clear();
}

bool segment_reader::fill(std::size_t needed) {
  const bool inside = offset_ >= buffer_offset_ && offset_ <= buffer_offset_ + buffered_;
  std::size_t have = inside ? static_cast<std::size_t>(buffer_offset_ + buffered_ - offset_) : 0;
  if (have >= needed) return true;
  // Keep the bytes already read from offset_, at the front; read the rest after them.
  if (inside && have != 0) std::memmove(buffer_.get(), buffer_.get() + (offset_ - buffer_offset_), have);
  buffer_offset_ = offset_;
  buffered_ = have;
  if (needed > capacity_) {
    // One batch larger than the buffer: grow to hold it (bounded by max_batch_body_bytes).
    auto bigger = std::make_unique_for_overwrite<char[]>(needed);
    std::memcpy(bigger.get(), buffer_.get(), have);
    buffer_ = std::move(bigger);
    capacity_ = needed;
  }
  std::size_t got = 0;
  if (auto ec = pread_full(fd_.get(), buffer_.get() + have, capacity_ - have, buffer_offset_ + have, got)) {
    error_ = ec;
    return false;
  }
  buffered_ += got;
  return buffered_ >= needed;
}

read_status segment_reader::next(batch_view& batch) {
  if (!fd_) {
    error_ = std::make_error_code(std::errc::bad_file_descriptor);
    return read_status::error;
  }
  std::size_t needed = batch_header_size;
  for (;;) {
    const bool readable = fill(needed);
    if (error_) return read_status::error;
    const bool inside = offset_ >= buffer_offset_ && offset_ <= buffer_offset_ + buffered_;
    const std::size_t have = inside ? static_cast<std::size_t>(buffer_offset_ + buffered_ - offset_) : 0;
    last_ = decode_batch(buffer_.get() + (offset_ - buffer_offset_), have);
    switch (last_.status) {
      case decode_status::ok:
        batch = last_.batch;
        offset_ += batch.stored_size();
        trailing_ = 0;
        return read_status::batch;
      case decode_status::corrupt:
        trailing_ = 0;
        return read_status::corrupt;
      case decode_status::incomplete:
        if (!readable || last_.needed <= needed) {
          // The file ends before the batch does (for now, if it is still being written).
          trailing_ = have;
          return read_status::end;
        }
        needed = last_.needed;  // the header is complete: now read the body
        break;
    }
  }
}

find_result segment_reader::scan_for(sequence_number seq, std::uint64_t from, bool used_index) {
  find_result result;
  result.used_index = used_index;
  seek(from);
  sequence_number expected = 0;  // 0: the first batch read sets it
  for (;;) {
    const std::uint64_t at = offset_;
    batch_view batch;
    switch (next(batch)) {
      case read_status::batch:
        if (expected != 0 && batch.first_seq != expected) {
          seek(at);
          result.outcome = find_result::status::corrupt;
          result.offset = at;
          return result;
        }
        if (expected == 0 && seq < batch.first_seq) {
          seek(at);
          result.outcome = find_result::status::before;
          result.offset = at;
          result.seq = batch.first_seq;
          return result;
        }
        if (seq <= batch.last_seq()) {
          seek(at);
          result.outcome = find_result::status::found;
          result.offset = at;
          result.seq = batch.first_seq;
          return result;
        }
        expected = batch.next_seq();
        break;
      case read_status::end:
        seek(at);
        result.outcome = find_result::status::after;
        result.offset = at;
        result.seq = expected;
        return result;
      case read_status::corrupt:
        seek(at);
        result.outcome = find_result::status::corrupt;
        result.offset = at;
        return result;
      case read_status::error:
        result.outcome = find_result::status::error;
        result.offset = at;
        return result;
    }
  }
}

find_result segment_reader::find(sequence_number seq) {
  if (const auto entry = search_index(index_path_for(path_), seq)) {
    // Trust nothing: the entry counts only if a valid batch starting at its number is there.
    seek(entry->offset);
    batch_view batch;
    if (next(batch) == read_status::batch && batch.first_seq == entry->first_seq) {
      const find_result result = scan_for(seq, entry->offset, true);
      if (result.outcome == find_result::status::found || result.outcome == find_result::status::after) {
        return result;
      }
    }
    error_.clear();
  }
  return scan_for(seq, 0, false);
}

}  // namespace eventserver::storage
