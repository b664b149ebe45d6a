// The real eventserver binary, spawned as a process: start-up failures and their exit codes,
// signals, and the shipped configuration.
//
// Exit codes (src/main.cpp): 0 clean shutdown, 1 runtime start-up failure (bind), 2 bad usage
// or configuration. Output (stdout and stderr together) goes to a file the test reads.

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "eventserver/app/config.hpp"
#include "support/child_process.hpp"
#include "support/daemon.hpp"
#include "support/process.hpp"
#include "support/http.hpp"

namespace eventserver {
namespace {

namespace fs = std::filesystem;
using namespace test_support;

class Process : public process_fixture {};

// Registration is asynchronous and invisible from outside the process: resends a broadcast
// under fresh sequence numbers (from seq + 1; seq ends at the last one sent) until one
// reaches `client`. The line received; empty if none did within 200 tries.
lines broadcast_until_received(connection& source, connection& client, std::uint64_t& seq) {
  lines got;
  for (int attempt = 0; attempt < 200 && got.empty(); ++attempt) {
    source.send(std::to_string(++seq) + "|B\n");
    got = client.read_lines(1, 50ms);
  }
  return got;
}



// --- Configuration errors: exit 2, naming the problem -----------------------------------

TEST_F(Process, UnknownKeyExitsWith2NamingTheKey) {
  const auto [code, output] = run_with_config(with_ephemeral_ports(R"("maxClientz": 10)"));
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("unknown key \"maxClientz\""), std::string::npos) << output;
}

TEST_F(Process, WrongTypeExitsWith2NamingTheKey) {
  const auto [code, output] = run_with_config(with_ephemeral_ports(R"("maxClients": "ten")"));
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("\"maxClients\" must be an integer"), std::string::npos) << output;
  EXPECT_NE(output.find("got \"ten\""), std::string::npos) << output;
}

TEST_F(Process, OutOfRangeValuesExitWith2NamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("clientListenerPort": 70000)", "\"clientListenerPort\" must be an integer from 0 to 65535, got 70000"},
      {R"("maxLineBytes": 10)", "\"maxLineBytes\" must be an integer from 64"},
      {R"("maxPendingEvents": 0)", "\"maxPendingEvents\""},
      {R"("gapTimeoutMs": -1)", "\"gapTimeoutMs\""},
      {R"("maxClients": 1.5)", "\"maxClients\""},
      {R"("logLevel": "loud")", "\"logLevel\" must be one of"},
      {R"("eventListenerAddress": "localhost")", "\"eventListenerAddress\" must be a numeric IPv4 or IPv6 address"},
  };
  for (const auto& [entry, message] : cases) {
    SCOPED_TRACE(entry);
    const auto [code, output] = run_with_config(with_ephemeral_ports(entry));
    EXPECT_EQ(code, 2);
    EXPECT_NE(output.find(message), std::string::npos) << output;
  }
}

// The cluster section: its keys named by their path, the flat aliases by theirs.
TEST_F(Process, ClusterSectionErrorsExitWith2NamingTheKeyAsWritten) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("cluster": {"replicas": 9})", "\"cluster.replicas\" must be an integer from 1 to 5, got 9"},
      {R"("cluster": {"rol": "edge"})", "unknown key \"cluster.rol\""},
      {R"("cluster": "edge")", "\"cluster\" must be an object"},
      {R"("clusterReplicas": 9)", "\"clusterReplicas\" must be an integer from 1 to 5, got 9"},
      {R"("cluster": {"role": "edge"}, "clusterRole": "edge", "dataDir": "d")",
       "\"cluster.role\" and \"clusterRole\" are one setting"},
  };
  for (const auto& [entry, message] : cases) {
    SCOPED_TRACE(entry);
    const auto [code, output] = run_with_config(with_ephemeral_ports(entry));
    EXPECT_EQ(code, 2);
    EXPECT_NE(output.find(message), std::string::npos) << output;
  }
}

TEST_F(Process, InvalidJsonExitsWith2) {
  auto [code, output] = run_with_config(R"({"maxClients": 5,)");
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("not valid JSON"), std::string::npos) << output;

  std::tie(code, output) = run_with_config("[9090, 9099]");
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("must be a JSON object"), std::string::npos) << output;
}

TEST_F(Process, MissingConfigFileExitsWith2NamingIt) {
  const fs::path missing = dir_ / "no-such-config.json";
  const auto [code, output] = run_to_exit({"-config", missing.string()});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find(missing.string() + ": cannot read config file: No such file or directory"), std::string::npos)
      << output;
}

// Before, /dev/zero grew the daemon until std::bad_alloc aborted it (SIGABRT) and a FIFO with
// no writer hung start-up for good.
TEST_F(Process, ConfigThatIsNotARegularFileExitsWith2AtOnce) {
  auto [code, output] = run_to_exit({"-config", "/dev/zero"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("/dev/zero: cannot read config file: not a regular file"), std::string::npos) << output;

  const fs::path fifo = dir_ / "config.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::tie(code, output) = run_to_exit({"-config", fifo.string()});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find(fifo.string() + ": cannot read config file: not a regular file"), std::string::npos) << output;
}

TEST_F(Process, UnexpectedArgumentExitsWith2WithUsage) {
  const auto [code, output] = run_to_exit({"-port", "9090"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("unexpected argument '-port'"), std::string::npos) << output;
  EXPECT_NE(output.find("usage: eventserver"), std::string::npos) << output;
}

// --- Start-up failure: exit 1 -----------------------------------------------------------

// A listening socket on an ephemeral loopback port, held for the test.
struct occupied_port {
  int fd = -1;
  std::uint16_t port = 0;
  occupied_port() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 1) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot occupy a port");
    }
    port = ntohs(address.sin_port);
  }
  ~occupied_port() { ::close(fd); }
};

TEST_F(Process, EventPortInUseExitsWith1NamingTheListener) {
  const occupied_port taken;
  const auto [code, output] = run_with_config(R"({"eventListenerPort": )" + std::to_string(taken.port) +
                                              R"(, "clientListenerPort": 0})");
  EXPECT_EQ(code, 1);
  EXPECT_NE(output.find("cannot bind event source listener on 127.0.0.1:" + std::to_string(taken.port)),
            std::string::npos)
      << output;
}

TEST_F(Process, ClientPortInUseExitsWith1NamingTheListener) {
  const occupied_port taken;
  const auto [code, output] = run_with_config(R"({"eventListenerPort": 0, "clientListenerAddress": "127.0.0.1", )"
                                              R"("clientListenerPort": )" +
                                              std::to_string(taken.port) + "}");
  EXPECT_EQ(code, 1);
  EXPECT_NE(output.find("cannot bind client listener on 127.0.0.1:" + std::to_string(taken.port)), std::string::npos)
      << output;
}

// --- Running and stopping ---------------------------------------------------------------

TEST_F(Process, SigtermStopsCleanlyAndLogsTotals) {
  auto process = spawn_with_config(with_ephemeral_ports());
  const auto bound = wait_for_ports(*process);
  ASSERT_TRUE(bound) << process->output();

  auto client = connection::open(bound->client);
  client.send("1\r\n");
  auto source = connection::open(bound->event);
  std::uint64_t seq = 0;
  const lines got = broadcast_until_received(source, client, seq);
  ASSERT_EQ(got.size(), 1u) << process->output();
  EXPECT_EQ(got.front(), std::to_string(seq) + "|B");

  process->signal(SIGTERM);
  const auto code = process->wait_exit();
  ASSERT_TRUE(code) << "still running after SIGTERM:\n" << process->output();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(client.wait_closed(), read_status::eof);
  const auto output = process->output();
  EXPECT_NE(output.find("received Terminated: stopping"), std::string::npos) << output;
  EXPECT_NE(output.find("totals: events processed " + std::to_string(seq)), std::string::npos) << output;
  EXPECT_NE(output.find("notifications delivered 1,"), std::string::npos) << output;
  EXPECT_NE(output.find("eventserver stopped"), std::string::npos) << output;
}

TEST_F(Process, SigintStopsAnIdleDaemon) {
  auto process = spawn_with_config(with_ephemeral_ports());
  ASSERT_TRUE(wait_for_ports(*process)) << process->output();
  process->signal(SIGINT);
  const auto code = process->wait_exit();
  ASSERT_TRUE(code) << "still running after SIGINT:\n" << process->output();
  EXPECT_EQ(*code, 0);
  EXPECT_NE(process->output().find("totals: events processed 0"), std::string::npos) << process->output();
}

// A signal may come at any moment of start-up: systemd and supervisord send SIGTERM whenever the
// operator stops the service. Once main has begun (its first line, "starting with", is logged
// after the signals are blocked), every stop must be the graceful one: exit 0, the event log
// synced, "eventserver stopped". Before, the handlers were installed only after start()
// returned, so a signal before that (during recovery, or just after "listening" was logged)
// killed the daemon by the default action. A first run measures how long start-up takes here;
// then each run signals a twentieth of that later than the last, until several runs have seen
// "listening" before the signal: every point of start-up in between has been tried, whatever
// the machine's speed (the delays only spread the signals; nothing is asserted about time).
TEST_F(Process, ASignalAtAnyPointOfStartUpStopsGracefully) {
  const auto config_with_data = [this](int run) {
    const fs::path data = dir_ / ("data-" + std::to_string(run));
    fs::create_directory(data);
    return with_ephemeral_ports(R"("dataDir": ")" + data.string() + "\"");
  };
  std::chrono::steady_clock::duration startup{};
  {
    const auto spawned = std::chrono::steady_clock::now();
    auto process = spawn_with_config(config_with_data(-1));
    ASSERT_TRUE(wait_for_ports(*process)) << process->output();
    startup = std::chrono::steady_clock::now() - spawned;
    process->signal(SIGTERM);
    ASSERT_EQ(process->wait_exit(), std::optional<int>(0)) << process->output();
  }
  int runs_after_listening = 0;
  int runs_during_startup = 0;
  for (int run = 0; runs_after_listening < 3; ++run) {
    ASSERT_LT(run, 200) << "the daemon never got as far as listening";
    auto process = spawn_with_config(config_with_data(run));
    std::this_thread::sleep_for(startup * run / 20);  // where this run's signal falls
    const std::string before = process->output();
    const int sig = run % 2 == 0 ? SIGTERM : SIGINT;
    process->signal(sig);
    const auto code = process->wait_exit();
    ASSERT_TRUE(code) << "still running after the signal:\n" << process->output();
    if (before.find("starting with") == std::string::npos && process->output().find("starting with") == std::string::npos) {
      continue;  // signalled before main began: the default action is all there can be
    }
    if (std::regex_search(before, listening)) {
      ++runs_after_listening;
    } else {
      ++runs_during_startup;
    }
    SCOPED_TRACE("run " + std::to_string(run) + ", " + strsignal(sig));
    EXPECT_EQ(*code, 0) << process->output();
    EXPECT_NE(process->output().find("eventserver stopped"), std::string::npos) << process->output();
    if (testing::Test::HasFailure()) return;
  }
  RecordProperty("runs_during_startup", runs_during_startup);
}

TEST_F(Process, SecondSignalCutsAStuckFlushShort) {
  // A client that never reads, a backlog far beyond the kernel buffers, and a shutdown
  // deadline of ten minutes: only the second signal can end this promptly.
  auto process = spawn_with_config(
      with_ephemeral_ports(R"("shutdownTimeoutMs": 600000, "maxClientQueueBytes": 16777216)"));
  const auto bound = wait_for_ports(*process);
  ASSERT_TRUE(bound) << process->output();

  auto stuck = connection::open(bound->client, /*receive_buffer=*/4096);
  stuck.send("2\r\n");
  auto source = connection::open(bound->event);
  // Registered once a broadcast reaches it; after that the client reads no more.
  std::uint64_t seq = 0;
  ASSERT_EQ(broadcast_until_received(source, stuck, seq).size(), 1u) << process->output();
  std::string stream;
  // ~8 MB: more than loopback's socket buffers (send buffer up to 4 MB) can absorb.
  const std::uint64_t last = seq + 120000;
  while (seq < last) {
    char line[80];
    std::snprintf(line, sizeof line, "%020" PRIu64 "|P|%020d|%020d\n", ++seq, 1, 2);
    stream += line;
  }
  source.send(stream);
  // The daemon has read (and so applied) the whole stream: the backlog for the stuck client is
  // far beyond what the kernel buffers took.
  ASSERT_TRUE(wait_for([&] { return source.unread_by_peer() == std::optional<std::size_t>(0); })) << process->output();

  process->signal(SIGTERM);
  ASSERT_TRUE(process->wait_for_output(std::regex("shutting down: 1 client connection")))
      << process->output();
  process->signal(SIGTERM);
  const auto code = process->wait_exit();
  ASSERT_TRUE(code) << "still running after the second SIGTERM:\n" << process->output();
  EXPECT_EQ(*code, 0) << process->output();
  EXPECT_NE(process->output().find("received Terminated again: stopping now"), std::string::npos)
      << process->output();
  EXPECT_NE(process->output().find("totals:"), std::string::npos) << process->output();
}

TEST_F(Process, DefaultConfigPathIsConfigSlashConfigJsonInTheWorkingDirectory) {
  write_config(with_ephemeral_ports(), "config/config.json");
  auto process = spawn({});
  ASSERT_TRUE(wait_for_ports(*process)) << process->output();
  EXPECT_NE(process->output().find("starting with ./config/config.json"), std::string::npos) << process->output();
  process->signal(SIGTERM);
  EXPECT_EQ(process->wait_exit(), std::optional<int>(0)) << process->output();
}

// --- Logging never blocks the event thread ----------------------------------------------

// Issue 12, item 2: with standard output on a pipe nobody reads (a wedged supervisor), the
// daemon used to block in its log write once the pipe was full: no delivery, no /metrics.
// Now lines the output cannot take are dropped and counted, and the count is written once
// the output takes lines again.
TEST_F(Process, StalledLogOutputDoesNotStopDeliveryOrMetrics) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  const int reader = pipe_fds[0];
  ::fcntl(pipe_fds[1], F_SETPIPE_SZ, 4096);  // the smallest pipe: fills after a few dozen lines
  // adminListenerPort 0 disables the admin port: this test needs it, on a free port.
  const auto admin_port = test_support::free_loopback_port();
  const auto config = write_config(
      R"({"eventListenerPort": 0, "clientListenerPort": 0, "clientListenerAddress": "127.0.0.1", )"
      R"("adminListenerAddress": "127.0.0.1", "adminListenerPort": )" + std::to_string(admin_port) + "}");
  daemon_process process({"-config", config.string()}, dir_ / "unused.log", dir_.path(), pipe_fds[1]);
  ::close(pipe_fds[1]);

  // Read the start-up lines for the ports, then stop reading.
  std::string startup;
  const std::regex ports_line(R"(event sources on 127\.0\.0\.1:(\d+) and clients on 127\.0\.0\.1:(\d+))");
  std::smatch match;
  const auto deadline = std::chrono::steady_clock::now() + wait_bound;
  while (!std::regex_search(startup, match, ports_line) || startup.find("admin HTTP") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << startup;
    pollfd p{reader, POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) {
      char chunk[4096];
      const auto n = ::read(reader, chunk, sizeof chunk);
      ASSERT_GT(n, 0) << startup;
      startup.append(chunk, static_cast<std::size_t>(n));
    }
  }
  const auto event_port = static_cast<std::uint16_t>(std::stoi(match[1]));
  const auto client_port = static_cast<std::uint16_t>(std::stoi(match[2]));

  auto client = connection::open(client_port);
  client.send("1\r\n");
  ASSERT_TRUE(wait_for([&] {
    return metric(http_request(admin_port, "GET /metrics HTTP/1.1").body, "eventserver_clients_registered_total") == 1;
  }));
  // Two info lines per source connection: far more than the pipe and the log queue hold.
  for (int i = 0; i < 1500; ++i) connection::open(event_port).close();
  ASSERT_TRUE(wait_for([&] {
    return metric(http_request(admin_port, "GET /metrics HTTP/1.1").body,
                  "eventserver_event_sources_accepted_total") == 1500;
  }));
  ASSERT_TRUE(wait_for([&] {
    return metric(http_request(admin_port, "GET /metrics HTTP/1.1").body, "eventserver_log_lines_dropped_total") > 0;
  }));
  auto source = connection::open(event_port);
  source.send_lines({"1|B"});
  EXPECT_EQ(client.read_lines(1), (lines{"1|B"}));

  // The output takes lines again: the first thing written is how many were lost.
  std::string rest;
  const auto drain_deadline = std::chrono::steady_clock::now() + wait_bound;
  while (rest.find("log line(s) dropped") == std::string::npos && std::chrono::steady_clock::now() < drain_deadline) {
    pollfd p{reader, POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) {
      char chunk[65536];
      const auto n = ::read(reader, chunk, sizeof chunk);
      if (n <= 0) break;
      rest.append(chunk, static_cast<std::size_t>(n));
    }
  }
  EXPECT_NE(rest.find("log line(s) dropped: the log output did not take them in time"), std::string::npos);
  process.signal(SIGTERM);
  std::thread drain([reader] {  // keep the pipe moving until the daemon has exited
    char chunk[65536];
    while (::read(reader, chunk, sizeof chunk) > 0) {
    }
  });
  EXPECT_EQ(process.wait_exit(), std::optional<int>(0));
  drain.join();
  ::close(reader);
}

// --- The shipped configuration ----------------------------------------------------------

TEST(ProcessConfig, ShippedConfigParses) {
  config shipped;
  ASSERT_NO_THROW(shipped = load_config_file(fs::path(EVENTSERVER_SOURCE_DIR) / "config" / "config.json"));
  // The ports the protocol and the original Go server use.
  EXPECT_EQ(shipped.event_listener_port, 9090);
  EXPECT_EQ(shipped.client_listener_port, 9099);
  EXPECT_EQ(shipped.event_listener_address, "127.0.0.1");
  EXPECT_EQ(shipped.gap_timeout.count(), 0) << "the protocol demands strict order by default";
}

}  // namespace
}  // namespace eventserver
