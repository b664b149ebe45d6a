#include "eventserver/storage/segment_index.hpp"

#include <fcntl.h>

#include "eventserver/storage/endian.hpp"
#include "eventserver/storage/file_io.hpp"

namespace eventserver::storage {

namespace {

bool read_entry(int fd, std::uint64_t at, index_entry& entry) noexcept {
  char bytes[index_entry_size];
  std::size_t got = 0;
  if (pread_full(fd, bytes, sizeof bytes, at * index_entry_size, got) || got != sizeof bytes) return false;
  entry = decode_index_entry(bytes);
  return true;
}

}  // namespace

void encode_index_entry(char* out, const index_entry& entry) noexcept {
  store_le<std::uint64_t>(out, entry.first_seq);
  store_le<std::uint64_t>(out + 8, entry.offset);
}

index_entry decode_index_entry(const char* in) noexcept {
  return {load_le<std::uint64_t>(in), load_le<std::uint64_t>(in + 8)};
}

std::string index_path_for(const std::string& segment_path) {
  std::string path = segment_path;
  if (path.ends_with(".log")) path.resize(path.size() - 4);
  path.append(".idx");
  return path;
}

std::error_code write_index_file(const std::string& path, std::span<const index_entry> entries) noexcept {
  unique_fd fd;
  if (auto ec = open_file(path, O_WRONLY | O_CREAT | O_TRUNC, fd)) return ec;
  // Written in pieces so that a long index needs no buffer of its own size.
  char block[256 * index_entry_size];
  std::uint64_t offset = 0;
  std::size_t filled = 0;
  for (const auto& entry : entries) {
    encode_index_entry(block + filled, entry);
    filled += index_entry_size;
    if (filled == sizeof block) {
      if (auto ec = pwrite_all(fd.get(), block, filled, offset)) return ec;
      offset += filled;
      filled = 0;
    }
  }
  if (filled != 0) return pwrite_all(fd.get(), block, filled, offset);
  return {};
}

std::optional<index_entry> search_index(const std::string& index_path, sequence_number seq) noexcept {
  unique_fd fd;
  std::uint64_t size = 0;
  if (open_file(index_path, O_RDONLY, fd) || file_size(fd.get(), size)) return std::nullopt;
  // Invariant: entries [0, low) have first_seq <= seq, entries [high, n) have first_seq > seq
  // (as far as the probes saw: a garbage index only leads to an entry the caller rejects).
  std::uint64_t low = 0;
  std::uint64_t high = size / index_entry_size;
  std::optional<index_entry> best;
  while (low < high) {
    const std::uint64_t middle = low + (high - low) / 2;
    index_entry entry;
    if (!read_entry(fd.get(), middle, entry)) return std::nullopt;
    if (entry.first_seq <= seq) {
      best = entry;
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return best;
}

std::optional<index_entry> last_index_entry(const std::string& index_path) noexcept {
  unique_fd fd;
  std::uint64_t size = 0;
  if (open_file(index_path, O_RDONLY, fd) || file_size(fd.get(), size)) return std::nullopt;
  const std::uint64_t count = size / index_entry_size;
  index_entry entry;
  if (count == 0 || !read_entry(fd.get(), count - 1, entry)) return std::nullopt;
  return entry;
}

}  // namespace eventserver::storage
