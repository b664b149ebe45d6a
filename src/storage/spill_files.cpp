#include "eventserver/storage/spill_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <system_error>

#include "eventserver/storage/file_io.hpp"

namespace eventserver::storage {

namespace {

int open_unnamed(const std::string& dir, std::error_code& ec) {
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) ec = std::error_code(errno, std::generic_category());
  return fd;
}

}  // namespace

spill_files::spill_files(std::string dir, std::uint64_t budget, post_fn post, std::size_t max_files)
    : dir_(std::move(dir)), budget_(budget), post_(std::move(post)), max_files_(max_files), thread_([this] { run(); }) {}

spill_files::~spill_files() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  for (auto& [owner, f] : files_) ::close(f.fd);
}

std::string spill_files::check_directory(const std::string& dir) {
  std::error_code ec;
  const int fd = open_unnamed(dir, ec);
  if (fd < 0) return "cannot make an unnamed file in " + dir + ": " + ec.message();
  ::close(fd);
  return {};
}

bool spill_files::write(std::uint64_t owner, std::vector<char>& bytes) {
  if (bytes.empty()) return true;
  if (ledger_->in_use + bytes.size() > budget_) return false;
  if (!ledger_->held.contains(owner) && ledger_->held.size() >= max_files_) return false;
  ledger_->in_use += bytes.size();
  ledger_->held[owner] += bytes.size();
  enqueue(write_job{owner, std::move(bytes)});
  return true;
}

void spill_files::read(std::uint64_t owner, std::size_t max_bytes, read_done done) {
  // Back on the event thread, what was read leaves the budget (unless the owner was dropped
  // meanwhile: drop() took all it held).
  auto account = [ledger = ledger_, owner, done = std::move(done)](read_result result) {
    const auto it = ledger->held.find(owner);
    if (it != ledger->held.end()) {
      const std::uint64_t taken = std::min<std::uint64_t>(it->second, result.bytes.size());
      it->second -= taken;
      ledger->in_use -= taken;
    }
    done(std::move(result));
  };
  enqueue(read_job{owner, max_bytes, std::move(account)});
}

void spill_files::drop(std::uint64_t owner) {
  if (const auto it = ledger_->held.find(owner); it != ledger_->held.end()) {
    ledger_->in_use -= it->second;
    ledger_->held.erase(it);
  }
  enqueue(drop_job{owner});
}

std::uint64_t spill_files::held(std::uint64_t owner) const noexcept {
  const auto it = ledger_->held.find(owner);
  return it == ledger_->held.end() ? 0 : it->second;
}

void spill_files::enqueue(job work) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(work));
  }
  wake_.notify_one();
}

void spill_files::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    job work = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    std::function<void()> result;
    if (auto* writing = std::get_if<write_job>(&work)) {
      run_write(*writing);
    } else if (auto* reading = std::get_if<read_job>(&work)) {
      result = [done = std::move(reading->done), read = run_read(*reading)]() mutable { done(std::move(read)); };
    } else {
      close_file(std::get<drop_job>(work).owner);
    }
    lock.lock();
    // Posted under the lock: once the destructor has set stop_, nothing more is posted.
    if (result && !stop_) post_(std::move(result));
  }
}

void spill_files::run_write(write_job& work) {
  file& f = files_[work.owner];
  if (!f.error.empty()) return;
  if (f.fd < 0) {
    std::error_code ec;
    f.fd = open_unnamed(dir_, ec);
    if (f.fd < 0) {
      f.error = "cannot make a spill file in " + dir_ + ": " + ec.message();
      return;
    }
  }
  if (const auto ec = pwrite_all(f.fd, work.bytes.data(), work.bytes.size(), f.written)) {
    f.error = "cannot write a spill file: " + ec.message();
    return;
  }
  f.written += work.bytes.size();
}

spill_files::read_result spill_files::run_read(const read_job& work) {
  read_result out;
  const auto it = files_.find(work.owner);
  if (it == files_.end()) return out;
  file& f = it->second;
  if (!f.error.empty()) {
    out.error = f.error;
    return out;
  }
  if (f.read == f.written) return out;
  std::uint64_t want = std::min<std::uint64_t>(std::max<std::size_t>(work.max_bytes, 1), f.written - f.read);
  for (;;) {
    out.bytes.resize(want);
    std::size_t got = 0;
    if (const auto ec = pread_full(f.fd, out.bytes.data(), want, f.read, got); ec || got != want) {
      f.error = "cannot read a spill file: " + (ec ? ec.message() : std::string("it is shorter than written"));
      out.bytes.clear();
      out.error = f.error;
      return out;
    }
    // Whole lines within max_bytes; a first line longer than that is read on to its end.
    const std::size_t within = std::min<std::size_t>(out.bytes.size(), std::max<std::size_t>(work.max_bytes, 1));
    const auto first_part = std::span<const char>(out.bytes.data(), within);
    const auto last = std::find(first_part.rbegin(), first_part.rend(), '\n');
    if (last != first_part.rend()) {
      out.bytes.resize(static_cast<std::size_t>(first_part.rend() - last));
      break;
    }
    if (const auto end = std::find(out.bytes.begin(), out.bytes.end(), '\n'); end != out.bytes.end()) {
      out.bytes.resize(static_cast<std::size_t>(end - out.bytes.begin()) + 1);
      break;
    }
    if (want == f.written - f.read) break;  // cannot happen: writes are whole lines
    want = std::min<std::uint64_t>(want * 2, f.written - f.read);
  }
  f.read += out.bytes.size();
  if (f.read == f.written) {
    // Everything written was read back: the file starts over, its blocks freed.
    if (::ftruncate(f.fd, 0) == 0) f.read = f.written = 0;
  }
  return out;
}

void spill_files::close_file(std::uint64_t owner) {
  const auto it = files_.find(owner);
  if (it == files_.end()) return;
  if (it->second.fd >= 0) ::close(it->second.fd);
  files_.erase(it);
}

}  // namespace eventserver::storage
