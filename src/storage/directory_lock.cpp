#include "eventserver/storage/directory_lock.hpp"

#include <cerrno>
#include <string_view>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/storage_error.hpp"

namespace eventserver::storage {

namespace {

// The pid the holder wrote, for the message; empty when the file says nothing readable.
std::string recorded_holder(int fd) {
  char text[32];
  std::size_t got = 0;
  if (pread_full(fd, text, sizeof text - 1, 0, got) || got == 0) return {};
  std::string_view pid(text, got);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.remove_suffix(1);
  for (const char c : pid) {
    if (c < '0' || c > '9') return {};
  }
  return std::string(pid);
}

}  // namespace

directory_lock directory_lock::acquire(const std::string& dir) {
  const std::string path = join_path(dir, lock_file_name);
  unique_fd fd;
  if (auto ec = open_file(path, O_RDWR | O_CREAT, fd)) {
    std::string hint;
    if (ec == std::errc::permission_denied || ec == std::errc::read_only_file_system) {
      hint = " (the data directory must be writable by the daemon's user)";
    } else if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
      hint = " (the data directory does not exist)";
    }
    throw storage_error("cannot open " + path + ": " + ec.message() + hint);
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const std::string holder = recorded_holder(fd.get());
      throw storage_error("data directory " + dir + " is in use: another eventserver" +
                          (holder.empty() ? std::string() : " (pid " + holder + ")") + " holds " + path +
                          "; stop it or give this one another data directory");
    }
    throw storage_error("cannot lock " + path + ": " + std::error_code(err, std::system_category()).message());
  }
  // Informational only: a stale pid from a dead holder is harmless, the flock is what counts.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (!truncate_file(fd.get(), 0)) (void)pwrite_all(fd.get(), pid.data(), pid.size(), 0);
  return directory_lock(std::move(fd));
}

}  // namespace eventserver::storage
