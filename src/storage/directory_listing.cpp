#include "eventserver/storage/directory_listing.hpp"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <system_error>
#include <tuple>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "eventserver/storage/file_names.hpp"
#include "eventserver/storage/storage_error.hpp"

namespace eventserver::storage {

namespace {

struct dir_closer {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

std::chrono::system_clock::time_point mtime_of(const struct stat& st) {
  const auto since_epoch = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

}  // namespace

directory_listing list_directory(const std::string& dir) {
  std::unique_ptr<DIR, dir_closer> handle(::opendir(dir.c_str()));
  if (!handle) {
    const std::error_code ec(errno, std::system_category());
    throw storage_error("cannot read data directory " + dir + ": " + ec.message());
  }
  directory_listing listing;
  const int dir_fd = ::dirfd(handle.get());
  errno = 0;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const file_name_info info = parse_file_name(name);
    struct stat st {};
    const bool stated = ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    switch (info.kind) {
      case file_kind::segment:
        if (stated && S_ISREG(st.st_mode)) {
          listing.segments.push_back({name, info.epoch, info.seq, static_cast<std::uint64_t>(st.st_size), mtime_of(st)});
        } else {
          listing.unknown.push_back(name);
        }
        break;
      case file_kind::segment_index:
        listing.indexes.push_back(name);
        break;
      case file_kind::snapshot:
        if (stated && S_ISREG(st.st_mode)) {
          listing.snapshots.push_back({name, info.epoch, info.seq, static_cast<std::uint64_t>(st.st_size), mtime_of(st)});
        } else {
          listing.unknown.push_back(name);
        }
        break;
      case file_kind::temporary:
        listing.temporaries.push_back(name);
        break;
      case file_kind::damaged:
        listing.damaged.push_back(name);
        break;
      case file_kind::lock:
        listing.has_lock_file = true;
        break;
      case file_kind::unknown:
        listing.unknown.push_back(name);
        break;
    }
    errno = 0;
  }
  if (errno != 0) {
    const std::error_code ec(errno, std::system_category());
    throw storage_error("cannot read data directory " + dir + ": " + ec.message());
  }
  std::sort(listing.segments.begin(), listing.segments.end(), [](const segment_file& a, const segment_file& b) {
    return std::tie(a.epoch, a.first_seq) < std::tie(b.epoch, b.first_seq);
  });
  std::sort(listing.snapshots.begin(), listing.snapshots.end(), [](const snapshot_file& a, const snapshot_file& b) {
    return std::tie(a.epoch, a.seq) > std::tie(b.epoch, b.seq);
  });
  std::sort(listing.indexes.begin(), listing.indexes.end());
  std::sort(listing.temporaries.begin(), listing.temporaries.end());
  std::sort(listing.damaged.begin(), listing.damaged.end());
  std::sort(listing.unknown.begin(), listing.unknown.end());
  return listing;
}

}  // namespace eventserver::storage
