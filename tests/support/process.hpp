#pragma once
// Test support for tests that run the built daemon as a process: spawn it with a config,
// wait for its output, signal it, reap it. Every wait is bounded.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/temp_directory.hpp"

namespace eventserver::test_support {

namespace fs = std::filesystem;

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// One run of the binary. The destructor kills and reaps it if it is still running.
class daemon_process {
 public:
  // Standard output and error go to `output`, or, when stdout_fd >= 0, to that descriptor.
  daemon_process(const std::vector<std::string>& args, fs::path output, const fs::path& working_dir, int stdout_fd = -1)
      : output_(std::move(output)) {
    std::vector<std::string> argv_text{EVENTSERVER_BINARY};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string output_path = output_.string();
    const std::string dir = working_dir.string();

    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Child: async-signal-safe calls only.
      const int fd = stdout_fd >= 0 ? stdout_fd : ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ::chdir(dir.c_str()) != 0) ::_exit(127);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  ~daemon_process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool running() const noexcept { return pid_ > 0 && !exit_code_; }

  // The exit code, or -N when killed by signal N; nullopt if still running after `bound`.
  std::optional<int> wait_exit(milliseconds bound = wait_bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!exit_code_) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1000;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
    return exit_code_;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const noexcept { return pid_; }

  std::string output() const { return read_file(output_); }

  // Polls the output until `pattern` matches; the match, or nullopt after `bound` (or exit).
  std::optional<std::smatch> wait_for_output(const std::regex& pattern, milliseconds bound = wait_bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      text_ = output();
      std::smatch match;
      if (std::regex_search(text_, match, pattern)) return match;
      if (std::chrono::steady_clock::now() > deadline || wait_exit(0ms)) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
  }

 private:
  fs::path output_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string text_;  // what wait_for_output matched in (the match refers to it)
};

class process_fixture : public ::testing::Test {
 protected:
  fs::path write_config(const std::string& json, const std::string& name = "config.json") {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << json;
    return path;
  }

  std::unique_ptr<daemon_process> spawn(const std::vector<std::string>& args) {
    return std::make_unique<daemon_process>(args, dir_ / ("output-" + std::to_string(++runs_) + ".log"), dir_.path());
  }
  std::unique_ptr<daemon_process> spawn_with_config(const std::string& json) {
    return spawn({"-config", write_config(json).string()});
  }

  // Runs to completion; {exit code, output}. A run that does not end within the bound fails.
  std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args) {
    auto process = spawn(args);
    const auto code = process->wait_exit();
    if (!code) {
      ADD_FAILURE() << "eventserver did not exit within the wait bound; output:\n" << process->output();
      return {-1, process->output()};
    }
    return {*code, process->output()};
  }
  std::pair<int, std::string> run_with_config(const std::string& json) {
    return run_to_exit({"-config", write_config(json).string()});
  }

  temp_directory dir_{"eventserver-process-test"};
  int runs_ = 0;
};

inline const std::regex listening(R"(listening for event sources on 127\.0\.0\.1:(\d+) and clients on [0-9.]+:(\d+))");

struct ports {
  std::uint16_t event = 0;
  std::uint16_t client = 0;
};

inline std::optional<ports> wait_for_ports(daemon_process& process) {
  const auto match = process.wait_for_output(listening);
  if (!match) return std::nullopt;
  return ports{static_cast<std::uint16_t>(std::stoi((*match)[1])), static_cast<std::uint16_t>(std::stoi((*match)[2]))};
}

// The admin listener is off (port 0): its default 9095 would collide between parallel tests.
inline constexpr const char* ephemeral_ports = R"({"eventListenerPort": 0, "clientListenerPort": 0, "adminListenerPort": 0)";

inline std::string with_ephemeral_ports(const std::string& more = "") {
  return std::string(ephemeral_ports) + (more.empty() ? "" : ", " + more) + "}";
}

}  // namespace eventserver::test_support
