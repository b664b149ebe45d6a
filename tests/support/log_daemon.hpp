#pragma once
// The built daemon as a process on a data directory, for tests that kill it (SIGKILL), stop
// it (SIGTERM), damage its files and start it again: its ports (the admin port too, for
// /metrics), a producer that asks for the durable position, and clients that resume.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/daemon.hpp"
#include "support/http.hpp"
#include "support/process.hpp"
#include "support/stream_model.hpp"

namespace eventserver::test_support {

// One run of the daemon with `more_json` (keys after the ports, e.g. "\"dataDir\": \"...\"").
class log_daemon {
 public:
  log_daemon(const fs::path& work_dir, const std::string& more_json, int run)
      : admin_port_(free_loopback_port()) {
    const fs::path config = work_dir / ("config-" + std::to_string(run) + ".json");
    std::ofstream(config, std::ios::binary)
        << R"({"eventListenerPort": 0, "clientListenerPort": 0, "clientListenerAddress": "127.0.0.1", )"
        << R"("adminListenerPort": )" << admin_port_ << ", " << more_json << "}";
    process_ = std::make_unique<daemon_process>(std::vector<std::string>{"-config", config.string()},
                                                work_dir / ("output-" + std::to_string(run) + ".log"), work_dir);
    // The listeners are bound before the log is recovered; /readyz says 200 once it is (and
    // sources and clients are taken only then). A daemon that cannot recover exits 2.
    const auto bound = wait_for_ports(*process_);
    if (bound && wait_for([&] { return process_->wait_exit(0ms) || ready(); }, 4 * wait_bound) && ready()) {
      ports_ = *bound;
    }
  }

  // Recovered, listening, ready.
  bool started() const noexcept { return ports_.event != 0; }
  bool ready() { return http_request(admin_port_, "GET /readyz HTTP/1.1").status == 200; }
  daemon_process& process() { return *process_; }
  std::string output() const { return process_->output(); }
  // Whether the output holds `text` within the bound: log lines go out through a queue, so a
  // line logged may not be in the file yet.
  bool says(const std::string& text) {
    return wait_for([&] { return output().find(text) != std::string::npos; });
  }
  std::uint16_t event_port() const noexcept { return ports_.event; }
  std::uint16_t client_port() const noexcept { return ports_.client; }
  std::uint16_t admin_port() const noexcept { return admin_port_; }

  std::string metrics() { return http_request(admin_port_, "GET /metrics HTTP/1.1").body; }
  std::optional<double> metric(const std::string& sample) { return test_support::metric(metrics(), sample); }

  // SIGTERM, and the exit code (nullopt if it does not exit within the bound).
  std::optional<int> stop() {
    process_->signal(SIGTERM);
    return process_->wait_exit();
  }
  void kill() {
    process_->signal(SIGKILL);
    process_->wait_exit();
  }

 private:
  std::uint16_t admin_port_;
  std::unique_ptr<daemon_process> process_;
  ports ports_;
};

// Reads durable lines from a source that asked until one reports at least `seq` of `epoch`;
// that line, or what came last when the bound passed.
inline std::string await_durable_line(connection& source, std::uint64_t seq, std::uint64_t epoch = 1) {
  const auto deadline = std::chrono::steady_clock::now() + 4 * wait_bound;
  const std::string prefix = "durable|" + std::to_string(epoch) + "|";
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& line : source.read_lines(1, 100ms)) {
      last = line;
      if (line.starts_with(prefix) && std::stoull(line.substr(prefix.size())) >= seq) return line;
    }
    if (source.status() == read_status::eof || source.status() == read_status::reset) break;
  }
  return "no durable|" + std::to_string(epoch) + "|" + std::to_string(seq) + " (last: '" + last + "')";
}

// A producer's connection that has asked for the durable position; `told` is the first answer.
struct producer {
  connection conn;
  std::string told;
};

inline producer connect_producer(std::uint16_t port) {
  producer p{connection::open(port), {}};
  p.conn.send("durable?\r\n");
  const auto first = p.conn.read_lines(1);
  p.told = first.empty() ? std::string("(nothing)") : first.front();
  return p;
}

// A client that sent `<user>|<last>`; `status` is the first line it received.
struct resumed_client {
  std::uint64_t user = 0;
  std::uint64_t last = 0;
  connection conn;
  std::string status;
};

inline resumed_client resume(std::uint16_t port, std::uint64_t user, std::uint64_t last) {
  resumed_client c{user, last, connection::open(port), {}};
  c.conn.send(std::to_string(user) + "|" + std::to_string(last) + "\r\n");
  const auto first = c.conn.read_lines(1);
  c.status = first.empty() ? std::string("(nothing: ") + to_string(c.conn.status()) + ")" : first.front();
  return c;
}

// What a resume `<user>|<last>` must be answered with (docs/protocol.md, "Status lines"), by
// the model: `head` the daemon's applied position, `resumable` the first number a resume can
// be served from exactly (R: the first number after the oldest usable base, past any damage).
struct resume_answer {
  std::string status;
  std::uint64_t from = 0;  // the first number whose notifications follow
};

inline resume_answer expected_resume(std::uint64_t last, std::uint64_t resumable, std::uint64_t head,
                                     std::uint64_t epoch = 1) {
  const std::string prefix = "resumed|" + std::to_string(epoch) + "|";
  if (last > head) return {prefix + std::to_string(head) + "|incomplete", head + 1};  // never reached
  if (last + 1 >= resumable) return {prefix + std::to_string(last) + "|complete", last + 1};
  return {prefix + std::to_string(resumable - 1) + "|incomplete", resumable};
}

// got == want, or where they part (the first differing line and a few around it).
inline ::testing::AssertionResult same_lines(const lines& got, const lines& want) {
  const std::size_t n = std::min(got.size(), want.size());
  std::size_t i = 0;
  while (i < n && got[i] == want[i]) ++i;
  if (i == n && got.size() == want.size()) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << "got " << got.size() << " lines, want " << want.size() << "; first difference at line " << i << ":";
  for (std::size_t k = i; k < i + 3; ++k) {
    failure << "\n  got  " << (k < got.size() ? got[k] : std::string("(none)")) << "\n  want "
            << (k < want.size() ? want[k] : std::string("(none)"));
  }
  return failure;
}

// Lines until `want`'s last one (a broadcast, see stream_model::broadcast_every) has come,
// then compared with `want`: a wrong stream is reported at once instead of at a timeout.
inline ::testing::AssertionResult receives(connection& conn, const lines& want, milliseconds bound = 3 * wait_bound) {
  lines got;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!want.empty() && (got.empty() || got.back() != want.back())) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    auto line = conn.read_lines(1, std::max(left, milliseconds(0)));
    if (line.empty()) break;
    got.push_back(std::move(line.front()));
  }
  auto result = same_lines(got, want);
  if (!result && (got.empty() || got.back() != want.back())) result << "\n  (then " << to_string(conn.status()) << ")";
  return result;
}

// After a restart: the producer must be told `durable|1|<end>`; then a classic client of
// `classic_user` registers, each of `users` resumes after each of `positions`, the producer
// resends end + 1 .. the model's last, and every client must get exactly what the model says
// (`resumable`: R, see expected_resume). Then the daemon is stopped (SIGTERM, exit 0).
inline void check_resend(log_daemon& daemon, const stream_model& model, std::uint64_t end, std::uint64_t resumable,
                         std::uint64_t classic_user, const std::vector<std::uint64_t>& users,
                         const std::vector<std::uint64_t>& positions) {
  const std::uint64_t count = model.size();
  auto source = connect_producer(daemon.event_port());
  ASSERT_EQ(source.told, "durable|1|" + std::to_string(end));

  auto classic = connection::open(daemon.client_port());
  classic.send(std::to_string(classic_user) + "\r\n");
  ASSERT_TRUE(wait_for([&] { return daemon.metric("eventserver_clients_registered_total") >= 1; }));

  std::vector<resumed_client> clients;
  std::vector<resume_answer> answers;
  for (const auto user : users) {
    for (const auto last : positions) {
      clients.push_back(resume(daemon.client_port(), user, last));
      answers.push_back(expected_resume(last, resumable, end));
      EXPECT_EQ(clients.back().status, answers.back().status) << "user " << user << " resuming after " << last;
    }
  }
  if (end < count) {
    source.conn.send_lines(model.payloads(end + 1, count));
    ASSERT_EQ(await_durable_line(source.conn, count), "durable|1|" + std::to_string(count));
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    auto& c = clients[i];
    if (c.status != answers[i].status) continue;  // reported above
    EXPECT_TRUE(receives(c.conn, model.notifications(c.user, answers[i].from, count)))
        << "user " << c.user << " resuming after " << c.last << " (" << c.status << ")";
  }
  EXPECT_TRUE(receives(classic, model.notifications(classic_user, end + 1, count))) << "user " << classic_user << ", live";
  EXPECT_EQ(daemon.stop(), std::optional<int>(0)) << daemon.output();
}

}  // namespace eventserver::test_support
