#include "eventserver/app/process.hpp"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstring>

#include <spdlog/spdlog.h>

#include "eventserver/app/diagnostics.hpp"
#include "eventserver/app/reload.hpp"
#include "eventserver/app/server.hpp"
#include "eventserver/net/fd_limit.hpp"
#include "eventserver/storage/spill_files.hpp"

namespace eventserver {

namespace {

constexpr std::string_view usage =
    "usage: eventserver [-config path/to/config.json]\n"
    "       eventserver log list|verify|dump|repair -data-dir DIR [...]   (eventserver log -help)\n"
    "  -config PATH   configuration file (default ./config/config.json)\n"
    "  -version       print the version and exit\n"
    "  -help          this text\n";

constexpr int exit_bad_usage = 2;

}  // namespace

command_line read_command_line(int argc, char** argv, std::string_view version) {
  command_line line;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "-config" || arg == "--config") && i + 1 < argc) {
      line.config_path = argv[++i];
    } else if (arg.starts_with("-config=") || arg.starts_with("--config=")) {
      line.config_path = std::string(arg.substr(arg.find('=') + 1));
    } else if (arg == "-version" || arg == "--version") {
      std::printf("eventserver %.*s\n", static_cast<int>(version.size()), version.data());
      line.exit_now = 0;
      return line;
    } else if (arg == "-help" || arg == "--help" || arg == "-h") {
      std::fputs(usage.data(), stdout);
      line.exit_now = 0;
      return line;
    } else {
      std::fprintf(stderr, "eventserver: unexpected argument '%s'\n%s", argv[i], usage.data());
      line.exit_now = exit_bad_usage;
      return line;
    }
  }
  return line;
}

held_signals::held_signals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

void held_signals::release() const { pthread_sigmask(SIG_UNBLOCK, &set_, nullptr); }

void prepare_process(const config& settings) {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);  // the event log reports the error
  // Room for listeners, logs and stdio beside the connections, and for the spill files of
  // clients past their queue bound (one each, at most storage::spill_files::default_max_files).
  const std::uint64_t spill_files = settings.spills() ? storage::spill_files::default_max_files : 0;
  const std::uint64_t needed = settings.max_clients + settings.max_event_sources + spill_files + 32;
  const auto limit = raise_fd_limit(needed);
  if (limit.after > limit.before) {
    spdlog::info("raised the open-file limit from {} to {}{} for maxClients {}", limit.before, limit.after,
                 limit.raised_hard ? " (hard limit raised too)" : "", settings.max_clients);
  }
  if (limit.after < needed) {
    spdlog::warn("open-file limit is {} (hard limit {}), below the {} that maxClients {} + maxEventSources {} + {} "
                 "spill files need: connections past it will fail to be accepted",
                 limit.after, limit.hard, needed, settings.max_clients, settings.max_event_sources, spill_files);
  }
}

stopper::stopper(asio::io_context& io, server& daemon, reload& reloader, std::chrono::milliseconds shutdown_timeout)
    : daemon_(daemon), reload_(reloader), shutdown_timeout_(shutdown_timeout), signals_(io, SIGINT, SIGTERM) {}

void stopper::start() {
  signals_.async_wait([this](const error_code& ec, int signal) { on_signal(ec, signal); });
}

void stopper::on_signal(const error_code& ec, int signal) {
  if (ec) return;
  if (daemon_.stopping()) {
    spdlog::warn("received {} again: stopping now", strsignal(signal));
    daemon_.close_all_now();  // not io.stop(): that would leave sessions to outlive the server
    return;
  }
  spdlog::info("received {}: stopping", strsignal(signal));
  stop();
  start();  // a second signal cuts the flush short
}

void stopper::stop() {
  abandon_diagnostic_writes_after(std::chrono::steady_clock::now() + shutdown_timeout_);
  reload_.stop();  // a reload stuck on a hung filesystem does not hold the exit
  daemon_.shutdown([this] { signals_.cancel(); });
}

}  // namespace eventserver
