#pragma once
// Helpers for the storage tests: the shared temporary directory, event lines like
// the harness's, and files read, written and damaged byte by byte.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "support/temp_directory.hpp"
#include "eventserver/core/event.hpp"
#include "eventserver/storage/batch_builder.hpp"
#include "eventserver/storage/crc32c.hpp"
#include "eventserver/storage/endian.hpp"
#include "eventserver/storage/log_directory.hpp"
#include "eventserver/storage/log_view.hpp"
#include "eventserver/storage/snapshot_file.hpp"

namespace eventserver::storage::testing {

// The shared one (tests/support/temp_directory.hpp), under the name these tests know.
using temp_dir = test_support::temp_directory;

// The event thread: functions the service posts wait here until the test runs them, on the
// test's own thread.
class event_loop {
 public:
  std::function<void(std::function<void()>)> post() {
    return [this](std::function<void()> work) {
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(work));
      }
      ready_.notify_all();
    };
  }

  // Runs posted functions until `done` holds; false when `bound` passes first.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds bound = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done()) {
      std::function<void()> work;
      {
        std::unique_lock lock(mutex_);
        if (!ready_.wait_until(lock, deadline, [this] { return !queue_.empty(); })) return false;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
    return true;
  }

  // Runs what is queued now; returns how many.
  std::size_t run_pending() {
    std::deque<std::function<void()>> taken;
    {
      std::lock_guard lock(mutex_);
      taken.swap(queue_);
    }
    for (auto& work : taken) work();
    return taken.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
};


// The notification of `seq` as the harness would send it: "seq|S|user\r\n" and friends, 13 to
// 19 bytes for the usual numbers.
inline std::string event_line(sequence_number seq) {
  switch (seq % 4) {
    case 0: return std::to_string(seq) + "|S|" + std::to_string(seq % 97 + 1) + "\r\n";
    case 1: return std::to_string(seq) + "|F|" + std::to_string(seq % 89 + 1) + "|" + std::to_string(seq % 83 + 1) + "\r\n";
    case 2: return std::to_string(seq) + "|P|" + std::to_string(seq % 79 + 1) + "|" + std::to_string(seq % 73 + 1) + "\r\n";
    default: return std::to_string(seq) + "|B\r\n";
  }
}

// One sealed batch of the events [first, first + count).
inline std::vector<char> events_batch(sequence_number first, std::uint32_t count) {
  batch_builder builder;
  builder.reset(first);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!builder.append(event_line(first + i))) throw std::logic_error("batch full");
  }
  const auto sealed = builder.seal();
  return {sealed.begin(), sealed.end()};
}

inline std::vector<char> skip_batch(sequence_number first, std::uint32_t count) {
  batch_builder builder;
  builder.reset(first);
  builder.append_skip(count);
  const auto sealed = builder.seal();
  return {sealed.begin(), sealed.end()};
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Overwrites in place, then cuts to size: truncating to zero first would make ext4 flush the
// file on close (its replace-via-truncate heuristic), milliseconds per call in the loops here.
inline void write_file(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  const bool ok = ::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()) &&
                  ::ftruncate(fd, static_cast<off_t>(bytes.size())) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path);
}

inline void flip_bit(const std::string& path, std::uint64_t offset, int bit = 0) {
  std::string bytes = read_file(path);
  bytes.at(offset) = static_cast<char>(bytes.at(offset) ^ (1 << bit));
  write_file(path, bytes);
}

inline std::uint64_t size_of(const std::string& path) { return std::filesystem::file_size(path); }

// What file_log::view() would say of a log_directory: its segments and damage, and the
// snapshots in its directory.
inline log_view view_of(const log_directory& log) {
  log_view view(log.segments());
  for (const auto& snapshot : list_snapshots(log.dir())) view.snapshots.push_back({snapshot.epoch, snapshot.seq});
  view.damage = log.damage();
  return view;
}

// Turns a snapshot file into a version-1 ("fuzzy") one, as older daemons wrote them.
inline void make_fuzzy_snapshot(const std::string& path) {
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  store_le<std::uint32_t>(bytes.data() + 8, 1);
  store_le<std::uint32_t>(bytes.data() + 32, crc32c_mask(crc32c(bytes.data(), 32)));
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace eventserver::storage::testing
