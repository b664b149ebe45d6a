// eventserver -config path/to/config.json
//
// Start-up is the only place that throws: a bad config or a port that cannot be bound ends
// the process here with one line naming the problem and a non-zero exit. Then one thread runs
// the io_context until the server has shut down (process.hpp says when it does).

#include <cstdio>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "eventserver/app/config.hpp"
#include "eventserver/app/credentials.hpp"
#include "eventserver/app/log_tool.hpp"
#include "eventserver/app/diagnostics.hpp"
#include "eventserver/app/process.hpp"
#include "eventserver/app/reload.hpp"
#include "eventserver/app/server.hpp"

namespace {

// Exit codes: 0 clean shutdown, 1 runtime start-up failure (bind), 2 bad usage or config.
constexpr int exit_startup_failed = 1;
constexpr int exit_bad_config = 2;

}  // namespace

int main(int argc, char** argv) {
  using namespace eventserver;
  if (argc > 1 && std::string_view(argv[1]) == "log") return run_log_tool(argc - 1, argv + 1);
  const held_signals held;

  const auto line = read_command_line(argc, argv, EVENTSERVER_VERSION);
  if (line.exit_now) return *line.exit_now;  // -version, -help, or a bad argument
  const std::string& config_path = line.config_path;

  config settings;
  credentials keys;  // TLS certificate and keys, tokens
  try {
    settings = load_config_file(config_path);
    keys = load_credentials(settings);
  } catch (const config_error& e) {
    std::fprintf(stderr, "eventserver: %s\n", e.what());
    return exit_bad_config;
  }
  try {
    configure_diagnostics(settings);
  } catch (const config_error& e) {
    std::fprintf(stderr, "eventserver: %s: %s\n", config_path.c_str(), e.what());
    return exit_bad_config;
  }
  spdlog::info("eventserver {} starting with {}", EVENTSERVER_VERSION, config_path);
  prepare_process(settings);

  asio::io_context io{1};
  server daemon(io, settings);
  daemon.set_credentials(std::move(keys));
  reload reloader(io, daemon, config_path, settings);  // SIGHUP
  stopper stop(io, daemon, reloader, settings.shutdown_timeout);  // SIGINT, SIGTERM
  held.release();  // the handlers exist: anything listens only after this
  try {
    daemon.start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    abandon_diagnostic_writes_after(std::chrono::steady_clock::now() + settings.shutdown_timeout);
    shutdown_diagnostics();
    return dynamic_cast<const config_error*>(&e) != nullptr ? exit_bad_config : exit_startup_failed;
  }
  stop.start();
  reloader.start();
  daemon.on_fatal([&stop] { stop.stop(); });  // the event log could not be recovered

  io.run();  // returns once shutdown has closed every listener, session and timer
  daemon.log_totals();
  spdlog::info("eventserver stopped");
  shutdown_diagnostics();  // writes what is queued, within the shutdown deadline
  return daemon.exit_code();
}
