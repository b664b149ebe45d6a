#include "key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "eventserver/auth/token.hpp"

namespace eventserver::auth_detail {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw auth_error("key file '" + path + "': " + why);
}

// Closes on every path out, exceptions included.
class file_descriptor {
 public:
  explicit file_descriptor(int fd) noexcept : fd_(fd) {}
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  ~file_descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string read_key_file(const std::string& path, std::size_t max_bytes) {
  if (path.empty()) throw auth_error("no key file configured");
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; the type is
  // checked on the open descriptor, so a file swapped in between cannot slip through.
  const file_descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) fail(path, std::strerror(errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) fail(path, std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail(path, "not a regular file");
  const auto too_big = [&] {
    fail(path, "larger than " + std::to_string(max_bytes) + " bytes: not a key");
  };
  if (static_cast<unsigned long long>(info.st_size) > max_bytes) too_big();

  // Read one byte past the bound: the file may have grown since fstat.
  std::string content(max_bytes + 1, '\0');
  std::size_t filled = 0;
  while (filled < content.size()) {
    const ssize_t got = ::read(fd.get(), content.data() + filled, content.size() - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(path, std::strerror(errno));
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  if (filled > max_bytes) too_big();
  content.resize(filled);
  return content;
}

}  // namespace eventserver::auth_detail
