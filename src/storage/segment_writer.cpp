#include "eventserver/storage/segment_writer.hpp"

#include <fcntl.h>

#include "eventserver/storage/batch_format.hpp"
#include "eventserver/storage/endian.hpp"
#include "eventserver/storage/file_names.hpp"

namespace eventserver::storage {

std::error_code segment_writer::open_files(const std::string& dir, stream_epoch epoch, sequence_number first_seq,
                                           int flags) {
  close();
  const std::string path = join_path(dir, segment_file_name(epoch, first_seq));
  unique_fd log;
  if (auto ec = open_file(path, O_WRONLY | flags, log)) return ec;
  unique_fd index;
  if (auto ec = open_file(index_path_for(path), O_WRONLY | O_CREAT | O_TRUNC, index)) return ec;
  log_ = std::move(log);
  index_ = std::move(index);
  path_ = path;
  epoch_ = epoch;
  first_seq_ = first_seq;
  next_seq_ = first_seq;
  size_ = 0;
  index_entries_ = 0;
  pending_index_.clear();
  last_index_offset_ = 0;
  failed_.clear();
  return {};
}

segment_writer& segment_writer::operator=(segment_writer&& other) noexcept {
  if (this == &other) return *this;
  close();
  log_ = std::move(other.log_);
  index_ = std::move(other.index_);
  path_ = std::move(other.path_);
  epoch_ = other.epoch_;
  first_seq_ = other.first_seq_;
  next_seq_ = other.next_seq_;
  size_ = other.size_;
  index_entries_ = other.index_entries_;
  pending_index_ = std::move(other.pending_index_);
  other.pending_index_.clear();
  last_index_offset_ = other.last_index_offset_;
  failed_ = other.failed_;
  return *this;
}

std::error_code segment_writer::create(const std::string& dir, stream_epoch epoch, sequence_number first_seq) {
  return open_files(dir, epoch, first_seq, O_CREAT | O_EXCL);
}

std::error_code segment_writer::reopen(const std::string& dir, stream_epoch epoch, sequence_number first_seq,
                                       std::uint64_t valid_length, sequence_number next_seq,
                                       std::span<const index_entry> index) {
  if (auto ec = open_files(dir, epoch, first_seq, 0)) return ec;
  if (auto ec = truncate_file(log_.get(), valid_length)) {
    close();
    return ec;
  }
  size_ = valid_length;
  next_seq_ = next_seq;
  for (const auto& entry : index) add_index_entry(entry.first_seq, entry.offset);
  // Written now, not once enough entries gather: readers seeking past damage that start-up
  // read past need its entries at once (without them they scan from the start, into it).
  flush_index();
  return {};
}

// Entries are written in groups: one small write per entry would be a syscall per batch for a
// file that only speeds up seeks.
constexpr std::size_t pending_index_entries = 64;

void segment_writer::add_index_entry(sequence_number first_seq, std::uint64_t offset) noexcept {
  if (!index_) return;
  char bytes[index_entry_size];
  encode_index_entry(bytes, {first_seq, offset});
  pending_index_.insert(pending_index_.end(), bytes, bytes + sizeof bytes);
  last_index_offset_ = offset;
  if (pending_index_.size() >= pending_index_entries * index_entry_size) flush_index();
}

void segment_writer::flush_index() noexcept {
  if (!index_ || pending_index_.empty()) return;
  if (pwrite_all(index_.get(), pending_index_.data(), pending_index_.size(), index_entries_ * index_entry_size)) {
    // The index only speeds up seeks; without it readers scan, and recovery rebuilds it.
    index_.reset();
  } else {
    index_entries_ += pending_index_.size() / index_entry_size;
  }
  pending_index_.clear();
}

std::error_code segment_writer::append(std::span<const char> batch) {
  if (!log_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (failed_) return failed_;
  if (batch.size() < batch_header_size ||
      load_le<std::uint32_t>(batch.data()) != batch.size() - batch_header_size ||
      load_le<std::uint64_t>(batch.data() + 16) != next_seq_) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const std::uint32_t count = load_le<std::uint32_t>(batch.data() + 12);
  if (auto ec = pwrite_all(log_.get(), batch.data(), batch.size(), size_)) {
    // Cut off whatever part reached the file, so the segment still ends on a batch boundary.
    if (truncate_file(log_.get(), size_)) failed_ = ec;
    return ec;
  }
  if (index_entry_due(index_entries_ + pending_index_.size() != 0, last_index_offset_, size_)) {
    add_index_entry(next_seq_, size_);
  }
  size_ += batch.size();
  next_seq_ += count;
  return {};
}

std::error_code segment_writer::append(std::span<const std::span<const char>> batches) {
  if (!log_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (failed_) return failed_;
  sequence_number next = next_seq_;
  for (const auto& batch : batches) {
    if (batch.size() < batch_header_size || load_le<std::uint32_t>(batch.data()) != batch.size() - batch_header_size ||
        load_le<std::uint64_t>(batch.data() + 16) != next) {
      return std::make_error_code(std::errc::invalid_argument);
    }
    next += load_le<std::uint32_t>(batch.data() + 12);
  }
  if (auto ec = pwrite_all(log_.get(), batches, size_)) {
    // Cut off whatever part reached the file, so the segment still ends on a batch boundary.
    if (truncate_file(log_.get(), size_)) failed_ = ec;
    return ec;
  }
  for (const auto& batch : batches) {
    if (index_entry_due(index_entries_ + pending_index_.size() != 0, last_index_offset_, size_)) {
      add_index_entry(next_seq_, size_);
    }
    size_ += batch.size();
    next_seq_ += load_le<std::uint32_t>(batch.data() + 12);
  }
  return {};
}

std::error_code segment_writer::sync() {
  if (!log_) return std::make_error_code(std::errc::bad_file_descriptor);
  return sync_file(log_.get());
}

std::error_code segment_writer::finish() {
  if (!log_) return std::make_error_code(std::errc::bad_file_descriptor);
  flush_index();
  if (auto ec = sync_file(log_.get())) return ec;
  if (index_ && sync_file(index_.get())) index_.reset();
  return {};
}

void segment_writer::close() noexcept {
  flush_index();
  log_.reset();
  index_.reset();
}

}  // namespace eventserver::storage
