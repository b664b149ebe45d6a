#pragma once
// The POSIX calls the storage layer makes, wrapped once: partial reads and writes and EINTR
// are retried here, and every failure comes back as a std::error_code (errno's value), never
// as an exception, so the daemon can decide what ENOSPC or EIO means for it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>

namespace eventserver::storage {

// Owns one file descriptor; closes it on destruction.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// errno as an error code.
std::error_code last_error() noexcept;

// open(2) with O_CLOEXEC added; `fd` is empty on failure.
std::error_code open_file(const std::string& path, int flags, unique_fd& fd, unsigned mode = 0644) noexcept;

// Writes all `n` bytes at `offset`, looping over partial writes and EINTR.
std::error_code pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t offset) noexcept;
// The same for several buffers written one after the other, in as few syscalls as the kernel
// allows (pwritev).
std::error_code pwrite_all(int fd, std::span<const std::span<const char>> parts, std::uint64_t offset) noexcept;

// Reads up to `n` bytes at `offset`, looping over partial reads and EINTR; fewer only at end
// of file. `got` is how many were read.
std::error_code pread_full(int fd, void* data, std::size_t n, std::uint64_t offset, std::size_t& got) noexcept;

std::error_code file_size(int fd, std::uint64_t& size) noexcept;
std::error_code truncate_file(int fd, std::uint64_t size) noexcept;
std::error_code sync_file(int fd) noexcept;  // fdatasync

// fsync of the directory itself: makes the creation, rename or removal of its entries durable.
std::error_code sync_directory(const std::string& path) noexcept;

std::error_code remove_file(const std::string& path) noexcept;  // ENOENT counts as success
std::error_code rename_file(const std::string& from, const std::string& to) noexcept;

}  // namespace eventserver::storage
