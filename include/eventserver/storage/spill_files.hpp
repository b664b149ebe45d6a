#pragma once
// Where a slow client's own notifications wait while its queue is full (clientSpillBytes): one
// unnamed file per client in dataDir (O_TMPFILE, so nothing is left behind, not even after a
// kill -9), appended to and read back in order. A client that keeps reading, slower than the
// stream, then costs the daemon its own notifications twice (a write and a read), where a
// catch-up from the log reads and filters every event of the stream once more for it.
//
// Threading: write(), read() and drop() are called on the event thread (as are the constructor
// and destructor, and in_use()); the files are opened, written and read on a thread of the
// class's own, in the order the calls were made, and every `done` runs through `post` on the
// event thread. The disk budget is the event thread's: bytes handed over and not yet read back
// or dropped.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "eventserver/core/spill_store.hpp"

namespace eventserver::storage {

class spill_files final : public spill_store {
 public:
  using post_fn = std::function<void(std::function<void()>)>;

  // `dir`: where the unnamed files are made; `budget`: the bytes all owners together may have
  // spilled and not read back; `max_files`: owners with a file at once (each a descriptor).
  static constexpr std::size_t default_max_files = 1024;
  spill_files(std::string dir, std::uint64_t budget, post_fn post, std::size_t max_files = default_max_files);
  // Stops the thread; pending reads are dropped (their done never runs).
  ~spill_files();  // NOLINT: not deleted through spill_store
  spill_files(const spill_files&) = delete;
  spill_files& operator=(const spill_files&) = delete;

  // Whether an unnamed file can be made in `dir` (the file system supports O_TMPFILE);
  // the reason when not.
  static std::string check_directory(const std::string& dir);

  // Appends `bytes` (whole lines) to `owner`'s file, made at its first write. False, and
  // `bytes` left as it was, when that would pass the budget, or make one file more than max_files.
  bool write(std::uint64_t owner, std::vector<char>& bytes) override;
  // Whole lines from where `owner`'s last read ended, at most max_bytes of them (a longer first
  // line comes whole). Read back, the bytes leave the budget.
  void read(std::uint64_t owner, std::size_t max_bytes, read_done done) override;
  // `owner` is gone: its file is closed (and so deleted) and its bytes leave the budget.
  void drop(std::uint64_t owner) override;

  std::uint64_t in_use() const noexcept { return ledger_->in_use; }
  std::uint64_t budget() const noexcept { return budget_; }
  // Bytes `owner` has handed over and not read back.
  std::uint64_t held(std::uint64_t owner) const noexcept;

 private:
  struct write_job {
    std::uint64_t owner;
    std::vector<char> bytes;
  };
  struct read_job {
    std::uint64_t owner;
    std::size_t max_bytes;
    read_done done;
  };
  struct drop_job {
    std::uint64_t owner;
  };
  using job = std::variant<write_job, read_job, drop_job>;
  // The thread's own: one open file per owner.
  struct file {
    int fd = -1;
    std::uint64_t written = 0;  // the file's end
    std::uint64_t read = 0;     // where the next read starts
    std::string error;          // sticky: once a write failed, the file is not to be trusted
  };

  void enqueue(job work);
  void run();
  void run_write(write_job& work);
  read_result run_read(const read_job& work);
  void close_file(std::uint64_t owner);

  const std::string dir_;
  const std::uint64_t budget_;
  const post_fn post_;
  const std::size_t max_files_;
  // The event thread's; shared with the posted results, which may run after the destructor.
  struct ledger {
    std::uint64_t in_use = 0;
    std::unordered_map<std::uint64_t, std::uint64_t> held;  // per owner
  };
  std::shared_ptr<ledger> ledger_ = std::make_shared<ledger>();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> jobs_;  // under mutex_
  bool stop_ = false;     // under mutex_

  std::unordered_map<std::uint64_t, file> files_;  // the thread's own
  std::thread thread_;
};

}  // namespace eventserver::storage
