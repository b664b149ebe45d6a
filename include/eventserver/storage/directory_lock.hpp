#pragma once
// `LOCK` in a data directory, held with a non-blocking exclusive flock(2) for as long as a
// daemon (or the log tool's repair) owns the directory, so that two daemons never write one log.
// The holder writes its pid into the file, only so that the refusal can name it; the flock,
// not the file's content, is the lock, and the kernel drops it when the holder dies.

#include <string>

#include "eventserver/storage/file_io.hpp"

namespace eventserver::storage {

class directory_lock {
 public:
  directory_lock() = default;

  // Throws storage_error when the directory is missing or unwritable, or another process (or
  // another open of the same directory in this one) holds the lock; the message names the
  // holder's pid as recorded in the file.
  static directory_lock acquire(const std::string& dir);

  bool held() const noexcept { return static_cast<bool>(fd_); }
  void release() noexcept { fd_.reset(); }  // closing the descriptor drops the flock

 private:
  explicit directory_lock(unique_fd fd) noexcept : fd_(std::move(fd)) {}
  unique_fd fd_;
};

}  // namespace eventserver::storage
