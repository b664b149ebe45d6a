#include "eventserver/storage/file_io.hpp"

#include <algorithm>
#include <cerrno>

#include <fcntl.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

namespace eventserver::storage {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void unique_fd::reset(int fd) noexcept {
  // close(2) is not retried on EINTR: on Linux the descriptor is gone either way.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

std::error_code open_file(const std::string& path, int flags, unique_fd& fd, unsigned mode) noexcept {
  int raw;
  do {
    raw = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (raw < 0 && errno == EINTR);
  if (raw < 0) {
    fd.reset();
    return last_error();
  }
  fd.reset(raw);
  return {};
}

std::error_code pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t offset) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t wrote = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (wrote == 0) return std::make_error_code(std::errc::io_error);  // no progress: give up, do not spin
    p += wrote;
    n -= static_cast<std::size_t>(wrote);
    offset += static_cast<std::uint64_t>(wrote);
  }
  return {};
}

std::error_code pwrite_all(int fd, std::span<const std::span<const char>> parts, std::uint64_t offset) noexcept {
  constexpr std::size_t max_vectors = 64;  // well under IOV_MAX
  std::size_t first = 0;  // the part being written
  std::size_t skip = 0;   // bytes of it already written
  while (first < parts.size()) {
    if (parts[first].size() == skip) {  // an empty part, or one written whole
      ++first;
      skip = 0;
      continue;
    }
    iovec vectors[max_vectors];
    int count = 0;
    for (std::size_t i = first; i < parts.size() && count < static_cast<int>(max_vectors); ++i, ++count) {
      const std::size_t from = i == first ? skip : 0;
      vectors[count] = {const_cast<char*>(parts[i].data() + from), parts[i].size() - from};
    }
    const ssize_t wrote = ::pwritev(fd, vectors, count, static_cast<off_t>(offset));
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (wrote == 0) return std::make_error_code(std::errc::io_error);  // no progress: give up, do not spin
    offset += static_cast<std::uint64_t>(wrote);
    for (auto left = static_cast<std::size_t>(wrote); left != 0;) {
      const std::size_t rest = parts[first].size() - skip;
      if (left < rest) {
        skip += left;
        break;
      }
      left -= rest;
      ++first;
      skip = 0;
    }
  }
  return {};
}

std::error_code pread_full(int fd, void* data, std::size_t n, std::uint64_t offset, std::size_t& got) noexcept {
  auto* p = static_cast<char*>(data);
  got = 0;
  while (got < n) {
    const ssize_t read = ::pread(fd, p + got, n - got, static_cast<off_t>(offset + got));
    if (read < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (read == 0) break;  // end of file
    got += static_cast<std::size_t>(read);
  }
  return {};
}

std::error_code file_size(int fd, std::uint64_t& size) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return last_error();
  size = static_cast<std::uint64_t>(st.st_size);
  return {};
}

std::error_code truncate_file(int fd, std::uint64_t size) noexcept {
  int rc;
  do {
    rc = ::ftruncate(fd, static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? std::error_code{} : last_error();
}

std::error_code sync_file(int fd) noexcept {
  int rc;
  do {
    rc = ::fdatasync(fd);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? std::error_code{} : last_error();
}

std::error_code sync_directory(const std::string& path) noexcept {
  unique_fd dir;
  if (auto ec = open_file(path, O_RDONLY | O_DIRECTORY, dir)) return ec;
  int rc;
  do {
    rc = ::fsync(dir.get());
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? std::error_code{} : last_error();
}

std::error_code remove_file(const std::string& path) noexcept {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return last_error();
  return {};
}

std::error_code rename_file(const std::string& from, const std::string& to) noexcept {
  if (::rename(from.c_str(), to.c_str()) != 0) return last_error();
  return {};
}

}  // namespace eventserver::storage
