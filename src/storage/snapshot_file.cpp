#include "eventserver/storage/snapshot_file.hpp"

#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <fcntl.h>

#include "eventserver/storage/crc32c.hpp"
#include "eventserver/storage/endian.hpp"
#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/snapshot_format.hpp"

namespace eventserver::storage {

snapshot_file_writer& snapshot_file_writer::operator=(snapshot_file_writer&& other) noexcept {
  if (this != &other) {
    abandon();
    fd_ = std::move(other.fd_);
    dir_ = std::move(other.dir_);
    final_path_ = std::move(other.final_path_);
    temporary_path_ = std::move(other.temporary_path_);
    size_ = other.size_;
    other.temporary_path_.clear();  // the file is this writer's to finish or remove now
  }
  return *this;
}

std::error_code snapshot_file_writer::open(const std::string& dir, stream_epoch epoch, sequence_number seq) {
  abandon();
  const std::string name = snapshot_file_name(epoch, seq);
  final_path_ = join_path(dir, name);
  temporary_path_ = join_path(dir, temporary_file_name(name));
  dir_ = dir;
  size_ = 0;
  if (auto ec = open_file(temporary_path_, O_WRONLY | O_CREAT | O_TRUNC, fd_)) {
    temporary_path_.clear();
    return ec;
  }
  return {};
}

std::error_code snapshot_file_writer::write(std::string_view bytes) {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (auto ec = pwrite_all(fd_.get(), bytes.data(), bytes.size(), size_)) return ec;
  size_ += bytes.size();
  return {};
}

std::error_code snapshot_file_writer::finish(std::string_view last_bytes) {
  std::error_code ec = write(last_bytes);
  if (!ec) ec = sync_file(fd_.get());
  if (!ec) ec = rename_file(temporary_path_, final_path_);
  if (ec) {
    abandon();
    return ec;
  }
  fd_.reset();
  temporary_path_.clear();
  return sync_directory(dir_);
}

void snapshot_file_writer::abandon() noexcept {
  fd_.reset();
  if (!temporary_path_.empty()) {
    (void)remove_file(temporary_path_);
    temporary_path_.clear();
  }
}

namespace {

// One pass over a snapshot file; delivers records to `visit` when it is set. Memory: one chunk.
class snapshot_scanner {
 public:
  snapshot_scanner(const std::string& path, const snapshot_visitor* visit) : path_(path), visit_(visit) {}

  snapshot_load run() {
    if (auto ec = open_file(path_, O_RDONLY, fd_)) return fail(0, "cannot open: " + ec.message());
    if (auto ec = file_size(fd_.get(), size_)) return fail(0, "cannot read: " + ec.message());
    if (!read_header()) return result_;
    std::uint64_t offset = snapshot_header_size;
    for (;;) {
      char header[snapshot_chunk_header_size];
      if (!read_at(offset, header, sizeof header, "chunk header")) return result_;
      const auto length = load_le<std::uint32_t>(header);
      const std::uint32_t stored_crc = crc32c_unmask(load_le<std::uint32_t>(header + 4));
      if (length == 0) return read_trailer(offset + snapshot_chunk_header_size, stored_crc);
      if (length > max_snapshot_chunk_bytes) return fail(offset, "chunk longer than the maximum");
      if (chunk_.size() < length) chunk_.resize(length);
      if (!read_at(offset + snapshot_chunk_header_size, chunk_.data(), length, "chunk")) return result_;
      if (crc32c(chunk_.data(), length) != stored_crc) return fail(offset, "chunk checksum mismatch");
      if (!read_records(offset + snapshot_chunk_header_size, length)) return result_;
      ++chunks_;
      offset += snapshot_chunk_header_size + length;
    }
  }

 private:
  snapshot_load fail(std::uint64_t offset, const std::string& what) {
    result_.ok = false;
    result_.error = "snapshot " + path_ + " at byte offset " + std::to_string(offset) + ": " + what;
    return result_;
  }

  bool read_at(std::uint64_t offset, char* out, std::size_t n, const char* what) {
    if (offset + n > size_) {
      fail(offset, std::string(what) + " cut short by the end of the file (no trailer: an interrupted write)");
      return false;
    }
    std::size_t got = 0;
    if (auto ec = pread_full(fd_.get(), out, n, offset, got); ec || got != n) {
      fail(offset, ec ? "cannot read: " + ec.message() : std::string("file shrank while being read"));
      return false;
    }
    return true;
  }

  bool read_header() {
    char header[snapshot_header_size];
    if (!read_at(0, header, sizeof header, "header")) return false;
    if (std::memcmp(header, snapshot_magic.data(), snapshot_magic.size()) != 0) {
      fail(0, "not a snapshot (bad magic)");
      return false;
    }
    if (crc32c(header, 32) != crc32c_unmask(load_le<std::uint32_t>(header + 32))) {
      fail(0, "header checksum mismatch");
      return false;
    }
    const std::uint32_t version = load_le<std::uint32_t>(header + 8);
    if (version != snapshot_format_version && version != fuzzy_snapshot_format_version) {
      fail(8, "unsupported snapshot version " + std::to_string(version));
      return false;
    }
    result_.exact = version == snapshot_format_version;
    if (load_le<std::uint32_t>(header + 12) != 0 || load_le<std::uint32_t>(header + 36) != 0) {
      fail(12, "non-zero reserved field");
      return false;
    }
    result_.epoch = load_le<std::uint64_t>(header + 16);
    result_.seq = load_le<std::uint64_t>(header + 24);
    const auto slash = path_.find_last_of('/');
    const auto named = parse_file_name(slash == std::string::npos ? std::string_view(path_)
                                                                  : std::string_view(path_).substr(slash + 1));
    if (named.kind == file_kind::snapshot && (named.epoch != result_.epoch || named.seq != result_.seq)) {
      fail(16, "header says epoch " + std::to_string(result_.epoch) + " seq " + std::to_string(result_.seq) +
                   ", the name says otherwise");
      return false;
    }
    return true;
  }

  bool read_records(std::uint64_t chunk_offset, std::size_t length) {
    std::size_t at = 0;
    while (at < length) {
      if (length - at < snapshot_record_header_size) {
        fail(chunk_offset + at, "record header cut short by the end of its chunk");
        return false;
      }
      const user_id user = load_le<std::uint64_t>(chunk_.data() + at);
      const auto count = load_le<std::uint32_t>(chunk_.data() + at + 8);
      at += snapshot_record_header_size;
      if (count == 0) {
        fail(chunk_offset + at - snapshot_record_header_size, "record of no ids");
        return false;
      }
      if ((length - at) / sizeof(user_id) < count) {
        fail(chunk_offset + at - snapshot_record_header_size, "record runs past the end of its chunk");
        return false;
      }
      if (!has_last_user_ || last_user_ != user) ++users_;
      has_last_user_ = true;
      last_user_ = user;
      edges_ += count;
      if (visit_ != nullptr) {
        ids_.resize(count);
        for (std::uint32_t i = 0; i < count; ++i) ids_[i] = load_le<std::uint64_t>(chunk_.data() + at + i * sizeof(user_id));
        (*visit_)(user, std::span<const user_id>(ids_.data(), ids_.size()));
      }
      at += std::size_t{count} * sizeof(user_id);
    }
    return true;
  }

  snapshot_load read_trailer(std::uint64_t body_offset, std::uint32_t stored_crc) {
    const std::uint64_t trailer_offset = body_offset - snapshot_chunk_header_size;
    char body[snapshot_trailer_body_size];
    if (!read_at(body_offset, body, sizeof body, "trailer")) return result_;
    if (crc32c(body, sizeof body) != stored_crc) return fail(trailer_offset, "trailer checksum mismatch");
    const auto users = load_le<std::uint64_t>(body);
    const auto edges = load_le<std::uint64_t>(body + 8);
    const auto chunks = load_le<std::uint64_t>(body + 16);
    if (users != users_ || edges != edges_ || chunks != chunks_) {
      return fail(trailer_offset, "trailer totals (" + std::to_string(users) + " users, " + std::to_string(edges) +
                                      " edges, " + std::to_string(chunks) + " chunks) differ from the file's (" +
                                      std::to_string(users_) + ", " + std::to_string(edges_) + ", " +
                                      std::to_string(chunks_) + ")");
    }
    const std::uint64_t end = body_offset + snapshot_trailer_body_size;
    if (end != size_) return fail(end, std::to_string(size_ - end) + " bytes after the trailer");
    result_.ok = true;
    result_.users = users_;
    result_.edges = edges_;
    result_.chunks = chunks_;
    return result_;
  }

  std::string path_;
  const snapshot_visitor* visit_;
  unique_fd fd_;
  std::uint64_t size_ = 0;
  std::vector<char> chunk_;
  std::vector<user_id> ids_;
  user_id last_user_ = 0;
  bool has_last_user_ = false;
  std::uint64_t users_ = 0;
  std::uint64_t edges_ = 0;
  std::uint64_t chunks_ = 0;
  snapshot_load result_;
};

}  // namespace

snapshot_load verify_snapshot(const std::string& path) { return snapshot_scanner(path, nullptr).run(); }

snapshot_load load_snapshot(const std::string& path, const snapshot_visitor& visit) {
  snapshot_load verified = verify_snapshot(path);
  if (!verified.ok) return verified;
  return snapshot_scanner(path, &visit).run();
}

std::vector<snapshot_file> list_snapshots(const std::string& dir) { return list_directory(dir).snapshots; }

}  // namespace eventserver::storage
