#pragma once
// Where a slow client's own notifications wait while its queue is full (core/client_stream.hpp,
// "Spill"): the sessions see this interface; storage/spill_files implements it with a file per
// client and a thread of its own.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace eventserver {

class spill_store {
 public:
  struct read_result {
    std::vector<char> bytes;  // whole lines, in the order they were written; empty: none left
    std::string error;        // the owner's file failed: what it spilled is lost
  };
  using read_done = std::function<void(read_result)>;

  // Appends `bytes` (whole lines) for `owner`, moving them out. False when that would pass
  // the store's budget: then `bytes` is left as it was.
  virtual bool write(std::uint64_t owner, std::vector<char>& bytes) = 0;
  // Whole lines from where `owner`'s last read ended, at most max_bytes (a longer first line
  // comes whole). `done` runs on the event thread, after read() has returned.
  virtual void read(std::uint64_t owner, std::size_t max_bytes, read_done done) = 0;
  // `owner` is gone: what it spilled is deleted.
  virtual void drop(std::uint64_t owner) = 0;

 protected:
  ~spill_store() = default;
};

}  // namespace eventserver
