#pragma once
// A nats-server with JetStream for the cluster tests: started on an ephemeral loopback port
// with its own store directory, stopped (or killed) by PID, restartable on the same port and
// store (a crash and a recovery). Skips the test when nats-server is not installed and not under
// CI (the Makefile installs it); every wait is bounded.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/temp_directory.hpp"

// In a test's body or SetUp: nats-server missing skips the test, except under CI, where the
// Makefile installs it and a missing one is a failure.
#define EVENTSERVER_REQUIRE_NATS_SERVER()                                                       \
  do {                                                                                          \
    if (!::eventserver::test_support::nats_server::installed()) {                               \
      if (std::getenv("CI") != nullptr) FAIL() << "nats-server is not installed (the Makefile installs it)"; \
      GTEST_SKIP() << "nats-server is not installed";                                           \
    }                                                                                           \
  } while (false)

namespace eventserver::test_support {

class nats_server {
 public:
  nats_server() = default;
  ~nats_server() { kill(SIGKILL); }  // then dir_ goes
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  static bool installed() { return std::system("command -v nats-server >/dev/null 2>&1") == 0; }

  // Runs from a config file instead of the command line (a cluster node); `text` may name
  // STORE_DIR, which becomes this server's own store directory. Its client port is "-1" (any).
  void use_config(std::string text) {
    const std::string marker = "STORE_DIR";
    for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker)) {
      text.replace(at, marker.size(), (dir_ / "store").string());
    }
    config_ = dir_ / "server.conf";
    std::ofstream(config_) << text;
  }

  // Starts it (port 0: an ephemeral one; later starts reuse the port it got) and waits until it
  // accepts clients. False, with the reason in error(), when it did not come up.
  bool start() {
    const std::string port = port_ == 0 ? "-1" : std::to_string(port_);
    const std::filesystem::path ports_dir = dir_ / "ports";
    std::filesystem::create_directories(ports_dir);
    for (const auto& entry : std::filesystem::directory_iterator(ports_dir)) std::filesystem::remove(entry.path());
    const std::string log = (dir_ / "server.log").string();
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      const std::string store = (dir_ / "store").string();
      const std::string ports = ports_dir.string();
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      if (!config_.empty()) {
        ::execlp("nats-server", "nats-server", "-c", config_.c_str(), "-a", "127.0.0.1", "-p", port.c_str(),
                 "--ports_file_dir", ports.c_str(), static_cast<char*>(nullptr));
      } else {
        ::execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", port.c_str(), "-js", "-sd", store.c_str(),
                 "--ports_file_dir", ports.c_str(), static_cast<char*>(nullptr));
      }
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    const std::regex url(R"(nats://127\.0\.0\.1:(\d+))");
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "nats-server exited: " + read(log);
        return false;
      }
      for (const auto& entry : std::filesystem::directory_iterator(ports_dir)) {
        std::smatch match;
        const std::string text = read(entry.path());
        if (std::regex_search(text, match, url)) {
          port_ = static_cast<unsigned short>(std::stoi(match[1]));
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    error_ = "nats-server did not come up within 10 s: " + read(log);
    return false;
  }

  // SIGKILL (a crash) or SIGTERM, then reaped.
  void kill(int signal = SIGKILL) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  bool running() const { return pid_ > 0; }
  const std::string& error() const { return error_; }

 private:
  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  temp_directory dir_{"eventserver-nats"};
  std::filesystem::path config_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::string error_;
};

// Three JetStream nodes on loopback routed to each other (server names n1..n3): R3 streams,
// leader elections, a node killed and brought back.
class nats_cluster {
 public:
  nats_cluster() {
    for (auto& port : route_ports_) port = free_loopback_port();
    std::string routes;
    for (const auto port : route_ports_) routes += "nats-route://127.0.0.1:" + std::to_string(port) + ", ";
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i].use_config("server_name: n" + std::to_string(i + 1) + "\n" +
                           "jetstream { store_dir: \"STORE_DIR\" }\n" +
                           "cluster { name: eventserver-test, listen: 127.0.0.1:" + std::to_string(route_ports_[i]) +
                           ", routes: [" + routes + "] }\n");
    }
  }
  bool start() {
    for (auto& node : nodes_) {
      if (!node.start()) {
        error_ = node.error();
        return false;
      }
    }
    return true;
  }
  nats_server& node(std::size_t i) { return nodes_.at(i); }
  // Every node's client URL, comma-separated.
  std::string urls() const {
    std::string out;
    for (const auto& node : nodes_) out += (out.empty() ? "" : ",") + node.url();
    return out;
  }
  const std::string& error() const { return error_; }

 private:
  std::array<nats_server, 3> nodes_;
  std::array<unsigned short, 3> route_ports_{};
  std::string error_;
};

}  // namespace eventserver::test_support
