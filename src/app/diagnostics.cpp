#include "eventserver/app/diagnostics.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace eventserver {

namespace {

using steady = std::chrono::steady_clock;

// The queue between the daemon's threads and the logging thread. spdlog allocates every slot
// up front (~400 bytes each), so this is also what the queue costs in memory. Warnings a peer
// can cause are rate-limited (a few dozen lines a second at most), so 64 lines ride out a
// stalled output for a second or more before the oldest are dropped (and counted).
constexpr std::size_t log_queue_lines = 64;
// How long one wait for a stalled output lasts before the shutdown deadline is looked at again.
constexpr int stall_poll_ms = 100;
constexpr std::size_t recent_warnings_kept = 20;

// %j: the message as the inside of a JSON string (quotes, backslashes, control bytes escaped).
class json_message_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    constexpr char hex[] = "0123456789abcdef";
    for (const char ch : std::string_view(msg.payload.data(), msg.payload.size())) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(ch);
      } else if (c < 0x20) {
        const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        dest.append(escaped, escaped + sizeof escaped);
      } else {
        dest.push_back(ch);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<json_message_flag>(); }
};

std::unique_ptr<spdlog::formatter> make_formatter(const config& settings) {
  if (settings.diagnostics_format == diagnostics_format_kind::json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<json_message_flag>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%j"})");
    return formatter;
  }
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %-5l %v");
}

// After the shutdown deadline (steady clock ticks; max: no deadline) nothing waits for output.
std::atomic<steady::rep> abandon_after{std::numeric_limits<steady::rep>::max()};
std::atomic<std::uint64_t> lines_dropped_at_output{0};

bool abandoned() { return steady::now().time_since_epoch().count() >= abandon_after.load(std::memory_order_relaxed); }

// Writes formatted lines to a descriptor: standard output or logFile. Runs on the logging
// thread only (spdlog's thread pool), so waiting here never stalls the daemon. A pipe or a
// socket is written only when poll() says it takes bytes, in pieces it takes without blocking
// (PIPE_BUF for a pipe, MSG_DONTWAIT for a socket), so the wait can end at the shutdown
// deadline; a regular file is written directly (a full disk is an error, not a wait).
class output_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit output_sink(int fd, bool owned) { adopt(fd, owned); }
  ~output_sink() override {
    if (owned_) ::close(fd_);
  }

  // Opens `path` for appending; replaces the current descriptor on success.
  bool reopen(const std::string& path, std::string& error) {
    const int fd = open_log_file(path, error);
    if (fd < 0) return false;
    std::lock_guard lock(mutex_);
    if (owned_) ::close(fd_);
    adopt(fd, true);
    return true;
  }

  static int open_log_file(const std::string& path, std::string& error) {
    // O_NONBLOCK only for the open: a FIFO named as logFile must not hang start-up.
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);
    if (fd < 0) {
      error = std::strerror(errno);
      return -1;
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
  }

  // Lines the queue dropped are counted by spdlog's thread pool; set once it exists. A plain
  // pointer: only the pool's own thread writes through this sink, so the pool outlives every
  // use. (A shared_ptr would make a cycle through the queued lines; a weak_ptr locked on the
  // logging thread could make that thread the pool's last owner, and the daemon would then
  // exit without waiting for the last lines.)
  void count_queue_drops_of(spdlog::details::thread_pool* pool) { pool_ = pool; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    report_drops(msg);
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    if (!write_all(line.data(), line.size())) lines_dropped_at_output.fetch_add(1, std::memory_order_relaxed);
  }
  void flush_() override {}  // every line is written with write(2): nothing is buffered here

 private:
  enum class kind : std::uint8_t { file, pipe, socket };

  void adopt(int fd, bool owned) {
    fd_ = fd;
    owned_ = owned;
    struct stat info {};
    kind_ = kind::pipe;  // a tty or anything unknown is treated like a pipe: waited for
    if (::fstat(fd, &info) == 0) {
      if (S_ISREG(info.st_mode)) kind_ = kind::file;
      if (S_ISSOCK(info.st_mode)) kind_ = kind::socket;
    }
  }

  std::uint64_t dropped_total() const {
    return (pool_ != nullptr ? pool_->overrun_counter() : 0) + lines_dropped_at_output.load(std::memory_order_relaxed);
  }

  // The output takes lines again: say how many were lost first.
  void report_drops(const spdlog::details::log_msg& next) {
    const std::uint64_t dropped = dropped_total();
    if (dropped <= reported_) return;
    const std::string text = std::to_string(dropped - reported_) +
                             " log line(s) dropped: the log output did not take them in time (" +
                             std::to_string(dropped) + " since start-up)";
    spdlog::details::log_msg note(next.logger_name, spdlog::level::warn, text);
    spdlog::memory_buf_t line;
    formatter_->format(note, line);
    if (write_all(line.data(), line.size())) reported_ = dropped;
  }

  // False when the line could not be written whole (an error, or the shutdown deadline).
  bool write_all(const char* data, std::size_t size) {
    while (size != 0) {
      ssize_t n = 0;
      if (kind_ == kind::file) {
        n = ::write(fd_, data, size);
      } else {
        pollfd p{fd_, POLLOUT, 0};
        const int ready = ::poll(&p, 1, abandoned() ? 0 : stall_poll_ms);
        if (ready < 0 && errno != EINTR) return false;
        if (ready <= 0) {
          if (abandoned()) return false;
          continue;
        }
        if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 && (p.revents & POLLOUT) == 0) return false;
        if (kind_ == kind::socket) {
          n = ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
          n = ::write(fd_, data, std::min<std::size_t>(size, PIPE_BUF));  // POLLOUT promises PIPE_BUF bytes
        }
      }
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return false;
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd_ = STDOUT_FILENO;
  bool owned_ = false;
  kind kind_ = kind::pipe;
  spdlog::details::thread_pool* pool_ = nullptr;
  std::uint64_t reported_ = 0;
};

// Keeps the last warnings and errors for the status page.
class recent_warnings_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  recent_warnings_sink() { set_level(spdlog::level::warn); }

  std::vector<recent_warning> snapshot() {
    std::lock_guard lock(mutex_);
    return {kept_.begin(), kept_.end()};
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (kept_.size() == recent_warnings_kept) kept_.pop_front();
    const auto level = spdlog::level::to_string_view(msg.level);
    kept_.push_back({std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count(),
                     std::string(level.data(), level.size()), std::string(msg.payload.data(), msg.payload.size())});
  }
  void flush_() override {}

 private:
  std::deque<recent_warning> kept_;
};

std::shared_ptr<output_sink> output;
std::shared_ptr<recent_warnings_sink> recent;
std::shared_ptr<spdlog::details::thread_pool> pool;

}  // namespace

void configure_diagnostics(const config& settings) {
  if (settings.diagnostics_file.empty()) {
    output = std::make_shared<output_sink>(STDOUT_FILENO, false);
  } else {
    std::string error;
    const int fd = output_sink::open_log_file(settings.diagnostics_file, error);
    if (fd < 0) throw config_error("\"logFile\" cannot be opened: " + settings.diagnostics_file + ": " + error);
    output = std::make_shared<output_sink>(fd, true);
  }
  output->set_formatter(make_formatter(settings));
  recent = std::make_shared<recent_warnings_sink>();
  pool = std::make_shared<spdlog::details::thread_pool>(log_queue_lines, 1, [] {
    pthread_setname_np(pthread_self(), "eventserver-out");  // the log output's thread, by name in top -H
  });
  output->count_queue_drops_of(pool.get());
  // overrun_oldest: a full queue drops its oldest line instead of making the caller wait.
  auto logger = std::make_shared<spdlog::async_logger>("eventserver", spdlog::sinks_init_list{output, recent}, pool,
                                                       spdlog::async_overflow_policy::overrun_oldest);
  logger->set_level(spdlog::level::from_str(settings.diagnostics_level));
  spdlog::set_default_logger(std::move(logger));
}

bool reopen_diagnostics_file(const config& settings) {
  if (settings.diagnostics_file.empty() || !output) return true;
  std::string error;
  if (output->reopen(settings.diagnostics_file, error)) return true;
  spdlog::error("SIGHUP: \"logFile\" cannot be opened: {}: {}; still logging to the old file", settings.diagnostics_file, error);
  return false;
}

std::uint64_t diagnostic_lines_dropped() {
  return (pool ? pool->overrun_counter() : 0) + lines_dropped_at_output.load(std::memory_order_relaxed);
}

std::vector<recent_warning> recent_warnings() { return recent ? recent->snapshot() : std::vector<recent_warning>{}; }

void abandon_diagnostic_writes_after(steady::time_point deadline) {
  abandon_after.store(deadline.time_since_epoch().count(), std::memory_order_relaxed);
}

void shutdown_diagnostics() {
  // spdlog's registry and ours both hold the pool; the last reference joins its thread once the
  // queue is written out, which the deadline above bounds.
  spdlog::shutdown();
  output.reset();
  recent.reset();
  pool.reset();
}

}  // namespace eventserver
