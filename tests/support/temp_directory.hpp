#pragma once
// The tests' one temporary directory (a fresh one under the system's temporary directory,
// removed with everything in it) and their one way to fill it with TLS certificates
// (make_test_certs.sh, run with Debian's openssl). No eventserver headers: every area's tests
// may include it, down to the storage and auth layers alone.

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

namespace eventserver::test_support {

class temp_directory {
 public:
  explicit temp_directory(std::string_view prefix = "eventserver-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  temp_directory(const temp_directory&) = delete;
  temp_directory& operator=(const temp_directory&) = delete;
  // Removes the directory unless keep() was called. A test may have taken the owner's
  // permissions away; they come back first, so that removal can look inside.
  ~temp_directory() {
    if (kept_) return;
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }
  // The path of `name` inside, as a string (what config keys and file APIs take).
  std::string file(std::string_view name) const { return (path_ / name).string(); }
  // Writes `content` to `name` inside, byte for byte; returns its path.
  std::string write(std::string_view name, std::string_view content) const {
    const auto target = path_ / name;
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    return target.string();
  }
  // The content of `name` inside; empty when it cannot be read.
  std::string read(std::string_view name) const {
    std::ifstream in(path_ / name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Leaves the directory on disk, e.g. for a failed test to name it.
  void keep() noexcept { kept_ = true; }

 private:
  std::filesystem::path path_;
  bool kept_ = false;
};

#ifdef EVENTSERVER_SOURCE_DIR  // every test from eventserver_add_test (tests/CMakeLists.txt)
// Fresh test certificates in `directory` (created if missing): ca.pem, server.pem and
// server.key, server2.*, client.*, other-ca.pem and other.* (make_test_certs.sh lists what
// each is for). Throws when the script fails.
inline void make_test_certificates(const std::filesystem::path& directory) {
  const std::string command = "sh " EVENTSERVER_SOURCE_DIR "/tests/support/make_test_certs.sh '" + directory.string() + "'";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("make_test_certs.sh failed for " + directory.string());
}
#endif

}  // namespace eventserver::test_support
