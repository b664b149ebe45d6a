#pragma once
// Test support for tests that run other programs (the built daemon, followermaze, Chromium,
// Prometheus): a child in its own process group, its output in a file, stopped (the whole
// group) by its id when the object goes; a free loopback port to give one; a bounded poll.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eventserver/net/asio.hpp"

namespace eventserver::test_support {

// A loopback port free a moment ago, for a program's config (the daemon's admin port 0 means
// "off", not "any").
inline std::uint16_t free_loopback_port() {
  asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

// Polls `pred` every `every` until it holds (true) or `bound` has passed (false).
template <class Pred>
bool poll_until(Pred pred, std::chrono::milliseconds bound, std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class child_process {
 public:
  child_process(std::vector<std::string> args, const std::filesystem::path& output) : output_(output) {
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string output_path = output.string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Child: async-signal-safe calls only.
      ::setpgid(0, 0);
      const int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (out < 0 || in < 0) ::_exit(127);
      ::dup2(in, STDIN_FILENO);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from here: no race with the first kill
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(std::chrono::seconds(2)); }

  pid_t pid() const noexcept { return pid_; }
  std::string output() const { return read_text(output_); }

  // The exit code (-N: killed by signal N), or nullopt if still running after `bound`.
  std::optional<int> wait_exit(std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!exit_code_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1000;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exit_code_;
  }

  // SIGTERM to the process group, SIGKILL after `grace`; the exit code of the leader.
  std::optional<int> stop(std::chrono::milliseconds grace) {
    if (exit_code_) {
      ::kill(-pid_, SIGKILL);  // helpers the leader left behind, if any
      return exit_code_;
    }
    ::kill(-pid_, SIGTERM);
    auto code = wait_exit(grace);
    ::kill(-pid_, SIGKILL);
    if (!code) code = wait_exit(std::chrono::seconds(5));
    return code;
  }

 private:
  std::filesystem::path output_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace eventserver::test_support
