#pragma once
// Test support for the integration tests: an eventserver::server running in-process on its
// own io thread, and blocking loopback sockets to drive it.
//
// Threading: the server is touched only on its io thread. The test thread reads state
// through on_io(), which posts a function there and waits for its result. Once the io thread
// has returned from run(), on_io() calls the function directly (nothing else runs then).
//
// Every wait is bounded: reads poll with a deadline, sends time out, on_io() and
// wait_until() give up after a bound. Bounds are there to turn a hang into a failure; no test
// asserts anything about speed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "support/temp_directory.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/app/config.hpp"
#include "eventserver/app/credentials.hpp"
#include "eventserver/core/counters.hpp"
#include "eventserver/app/server.hpp"

namespace eventserver::test_support {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using lines = std::vector<std::string>;

// Upper bound for anything the test waits on; reached only when something is broken.
inline constexpr milliseconds wait_bound = 10s;

// Loopback only, ports chosen by the OS.
inline config test_config() {
  config settings;
  settings.event_listener_address = "127.0.0.1";
  settings.event_listener_port = 0;
  settings.client_listener_address = "127.0.0.1";
  settings.client_listener_port = 0;
  // The admin listener, when a test wants it, also on an OS-chosen loopback port.
  settings.admin_enabled = false;
  settings.admin_listener_address = "127.0.0.1";
  settings.admin_listener_port = 0;
  // The WebSocket listener is off, as by default; tests/ws turns it on (ws_enabled), on an
  // OS-chosen loopback port.
  settings.ws_enabled = false;
  settings.ws_listener_address = "127.0.0.1";
  settings.ws_listener_port = 0;
  // A client past its queue bound reads the log (the path most tests are about); the tests of
  // spilling (clientSpillBytes, on by default) ask for it.
  settings.client_spill_bytes = 0;
  return settings;
}

// ---------------------------------------------------------------------------------------
// Log capture: the daemon's log lines (payload only), so tests can check a policy's warning.

class log_capture final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  lines snapshot() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool contains(std::string_view text) {
    std::lock_guard lock(mutex_);
    return std::any_of(lines_.begin(), lines_.end(),
                       [&](const std::string& line) { return line.find(text) != std::string::npos; });
  }
  std::string dump() {
    std::string all;
    for (const auto& line : snapshot()) all += line + "\n";
    return all;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { lines_.emplace_back(msg.payload.data(), msg.payload.size()); }
  void flush_() override {}

 private:
  lines lines_;
};

// Polls `pred` until it holds; false if it still does not after `bound`.
template <class Pred>
inline bool wait_for(Pred pred, milliseconds bound = wait_bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// A blocking loopback TCP connection with a receive buffer and bounded reads.

enum class read_status { open, eof, reset, timeout };

inline const char* to_string(read_status status) {
  switch (status) {
    case read_status::open: return "open";
    case read_status::eof: return "eof";
    case read_status::reset: return "reset";
    case read_status::timeout: return "timeout";
  }
  return "?";
}

class connection {
 public:
  connection() = default;
  explicit connection(int fd) : fd_(fd) {}
  connection(connection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)), status_(other.status_) {}
  connection& operator=(connection&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
      buffer_ = std::move(other.buffer_);
      status_ = other.status_;
    }
    return *this;
  }
  ~connection() { close(); }

  // Connects to 127.0.0.1:port. `receive_buffer` > 0 shrinks SO_RCVBUF first (a slow
  // reader whose kernel buffer fills quickly). Throws when the connection cannot be made.
  static connection open(std::uint16_t port, int receive_buffer = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    connection conn(fd);
    if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    // A send into a peer that stopped reading fails after this instead of blocking forever.
    timeval send_timeout{static_cast<time_t>(wait_bound.count() / 1000), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    }
    return conn;
  }

  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  // How the last read ended when it returned early (eof, reset or timeout).
  read_status status() const noexcept { return status_; }

  // Sends every byte or throws (peer gone, or SO_SNDTIMEO passed).
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Each line followed by `terminator`.
  void send_lines(const lines& batch, std::string_view terminator = "\r\n") {
    std::string bytes;
    for (const auto& line : batch) {
      bytes += line;
      bytes += terminator;
    }
    send(bytes);
  }

  // The next `n` lines, each terminated by exactly "\r\n" (removed). Fewer when the
  // connection closes or `timeout` passes first; status() then says which.
  lines read_lines(std::size_t n, milliseconds timeout = wait_bound) {
    lines result;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (result.size() < n) {
      const auto end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        result.emplace_back(buffer_, 0, end);
        buffer_.erase(0, end + 2);
        continue;
      }
      if (!receive_some(deadline)) break;
    }
    return result;
  }

  // Exactly `n` raw bytes (fewer on close or timeout).
  std::string read_bytes(std::size_t n, milliseconds timeout = wait_bound) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.size() < n && receive_some(deadline)) {
    }
    const std::size_t take = std::min(n, buffer_.size());
    std::string result = buffer_.substr(0, take);
    buffer_.erase(0, take);
    return result;
  }

  // Whatever arrives (or was already buffered) within `quiet`; "" when the peer stays silent.
  std::string expect_no_more(milliseconds quiet = 150ms) {
    const auto deadline = std::chrono::steady_clock::now() + quiet;
    while (receive_some(deadline)) {
    }
    return std::exchange(buffer_, std::string());
  }

  // Reads (keeping the data, see take_buffered) until the peer closes; eof or reset then,
  // timeout if it stays open past `timeout`.
  read_status wait_closed(milliseconds timeout = wait_bound) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (receive_some(deadline)) {
    }
    return status_;
  }

  std::string take_buffered() { return std::exchange(buffer_, std::string()); }

  // Bytes this side sent that the peer *process* has not read yet: still in this socket's send
  // queue, or arrived in the peer socket's receive queue (read from /proc/net/tcp, so IPv4
  // loopback only; nullopt when the peer's socket is not found). 0: the peer has read
  // everything sent. An observable state where the daemon's reading is concerned, where a
  // sleep would only hope.
  std::optional<std::size_t> unread_by_peer() const {
    int unsent = 0;
    if (::ioctl(fd_, SIOCOUTQ, &unsent) != 0) return std::nullopt;
    sockaddr_in mine{}, theirs{};
    socklen_t length = sizeof mine;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&mine), &length) != 0) return std::nullopt;
    length = sizeof theirs;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&theirs), &length) != 0) return std::nullopt;
    // /proc/net/tcp writes an address as its 32 bits in host order, then the port: the peer's
    // socket is the line whose local address is our peer and whose remote address is us.
    const auto text = [](const sockaddr_in& a) {
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "%08X:%04X", a.sin_addr.s_addr, ntohs(a.sin_port));
      return std::string(buffer);
    };
    const std::string local = text(theirs), remote = text(mine);
    std::ifstream table("/proc/net/tcp");
    for (std::string line; std::getline(table, line);) {
      std::istringstream fields(line);
      std::string slot, local_field, remote_field, state, queues;
      fields >> slot >> local_field >> remote_field >> state >> queues;  // queues: tx:rx, hex
      if (local_field != local || remote_field != remote) continue;
      const auto colon = queues.find(':');
      if (colon == std::string::npos) return std::nullopt;
      return static_cast<std::size_t>(unsent) + std::stoul(queues.substr(colon + 1), nullptr, 16);
    }
    return std::nullopt;
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  // One recv into buffer_, waiting at most until `deadline`. False when nothing more can
  // come before it (status_ says why).
  bool receive_some(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) {
      status_ = read_status::eof;
      return false;
    }
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::max<milliseconds::rep>(left.count(), 0)));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) {
        status_ = read_status::timeout;
        return false;
      }
      char chunk[64 * 1024];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        status_ = read_status::open;
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      status_ = n == 0 ? read_status::eof : read_status::reset;
      return false;
    }
  }

  int fd_ = -1;
  std::string buffer_;
  read_status status_ = read_status::open;
};

// ---------------------------------------------------------------------------------------
// The daemon, in-process.

class test_daemon {
 public:
  // Binds (ports 0 unless the config says otherwise) and starts the io thread. Throws
  // like server::start() when a listener cannot be bound.
  explicit test_daemon(config settings = test_config())
      : io_(std::make_unique<asio::io_context>(1)), server_(std::make_unique<server>(*io_, std::move(settings))) {
    server_->set_credentials(load_credentials(server_->settings()));  // as main() does
    server_->start();
    recovering_ = server_->recovering();
    event_port_ = server_->event_endpoint().port();
    client_port_ = server_->client_endpoint().port();
    ws_port_ = server_->ws_endpoint().port();
    logs_ = std::make_shared<log_capture>();
    spdlog::default_logger()->sinks().push_back(logs_);  // before the io thread exists
    thread_ = std::thread([this] {
      io_->run();
      std::lock_guard lock(mutex_);
      finished_ = true;
      finished_cv_.notify_all();
    });
    // With an event log, sources and clients are taken once it is recovered.
    if (recovering_ && !wait_until([](server& s) { return !s.recovering(); })) {
      ADD_FAILURE() << "the event log was not recovered within the wait bound";
    }
  }

  test_daemon(const test_daemon&) = delete;
  test_daemon& operator=(const test_daemon&) = delete;

  ~test_daemon() { stop(); }

  std::uint16_t event_port() const noexcept { return event_port_; }
  std::uint16_t client_port() const noexcept { return client_port_; }
  std::uint16_t ws_port() const noexcept { return ws_port_; }  // 0 unless ws_enabled
  std::uint16_t admin_port() { return on_io([](server& s) { return s.admin_endpoint().port(); }); }
  log_capture& logs() noexcept { return *logs_; }

  // Runs f(server&) on the io thread and returns its result. Throws if the io thread does not
  // get to it within wait_bound (a stalled loop is a bug, and waiting forever hides it).
  template <class F>
  auto on_io(F f) -> std::invoke_result_t<F&, server&> {
    using result = std::invoke_result_t<F&, server&>;
    if (finished()) return f(*server_);
    auto fn = std::make_shared<F>(std::move(f));
    auto promise = std::make_shared<std::promise<result>>();
    auto future = promise->get_future();
    asio::post(*io_, [fn, promise, srv = server_.get()] {
      if constexpr (std::is_void_v<result>) {
        (*fn)(*srv);
        promise->set_value();
      } else {
        promise->set_value((*fn)(*srv));
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + wait_bound;
    while (future.wait_for(5ms) != std::future_status::ready) {
      if (finished()) {
        // run() returned: the handler either ran just before (future ready now) or never will.
        if (future.wait_for(0s) == std::future_status::ready) break;
        return (*fn)(*server_);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("the io thread did not run a posted handler within the wait bound");
      }
    }
    return future.get();
  }

  counters stats() {
    return on_io([](server& s) { return s.stats(); });
  }
  transport_counters transport_stats() {
    return on_io([](server& s) { return s.transport_stats(); });
  }

  // Polls `pred(server&)` on the io thread until it holds; false if it still does not after `bound`.
  template <class Pred>
  bool wait_until(Pred pred, milliseconds bound = wait_bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      // pred is copied, not referenced: a handler abandoned by a timed-out on_io() may still run.
      if (on_io([pred](server& s) mutable { return static_cast<bool>(pred(s)); })) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
  }

  bool wait_for_registered_connections(std::size_t n) {
    return wait_until([n](server& s) { return s.dispatch().routes().connections() == n; });
  }
  bool wait_for_processed(std::uint64_t n) {
    return wait_until([n](server& s) { return s.stats().events_processed >= n; });
  }
  bool wait_for_client_sessions(std::size_t n) {
    return wait_until([n](server& s) { return s.client_connections() == n; });
  }
  bool wait_for_event_sources(std::size_t n) {
    return wait_until([n](server& s) { return s.event_sources() == n; });
  }

  // A client connection that has sent its id and been registered (registration is
  // asynchronous: events sent before it completes would not reach the client).
  connection connect_user(user_id id, int receive_buffer = 0) {
    const auto before = stats().clients_registered;
    auto conn = connection::open(client_port_, receive_buffer);
    conn.send(std::to_string(id) + "\r\n");
    if (!wait_until([before](server& s) { return s.stats().clients_registered > before; })) {
      ADD_FAILURE() << "user " << id << " was not registered within the wait bound";
    }
    return conn;
  }

  connection connect_client() { return connection::open(client_port_); }
  connection connect_source() { return connection::open(event_port_); }

  // Asks the server to shut down (on the io thread) without waiting for it.
  void request_shutdown() {
    if (shutdown_requested_.exchange(true)) return;
    asio::post(*io_, [this] { server_->shutdown([this] { shutdown_done_ = true; }); });
  }
  // True once the shutdown callback ran.
  bool shutdown_done() const noexcept { return shutdown_done_; }

  // Shuts down and joins. io_context::run() must return by itself once every session,
  // listener and timer is gone; if it has not within `bound`, that is a failure (reported
  // here), the loop is stopped by force and the server is leaked rather than destroyed with
  // live handlers. Returns whether the shutdown was clean.
  bool stop(milliseconds bound = wait_bound) {
    if (joined_) return clean_;
    request_shutdown();
    {
      std::unique_lock lock(mutex_);
      clean_ = finished_cv_.wait_for(lock, bound, [this] { return finished_; });
    }
    if (!clean_) {
      ADD_FAILURE() << "io_context::run() did not return within " << bound.count()
                    << " ms of shutdown: a session, listener or timer is still alive";
      io_->stop();
    }
    thread_.join();
    joined_ = true;
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), logs_), sinks.end());
    if (!clean_) {
      // Pending handlers own sessions whose destructors call into the server: destroying
      // either now would be undefined behaviour. A failed test may leak.
      (void)server_.release();
      (void)io_.release();
    }
    return clean_;
  }

  bool finished() {
    std::lock_guard lock(mutex_);
    return finished_;
  }

 private:
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<server> server_;
  std::shared_ptr<log_capture> logs_;
  std::uint16_t event_port_ = 0;
  std::uint16_t client_port_ = 0;
  std::uint16_t ws_port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
  bool recovering_ = false;
  bool joined_ = false;
  bool clean_ = false;
  std::atomic<bool> shutdown_requested_{false};
  std::atomic<bool> shutdown_done_{false};
};

}  // namespace eventserver::test_support
