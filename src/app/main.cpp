// eventserver -config path/to/config.json
//
// Start-up is the only place that throws: a bad config or a port that cannot be bound ends
// the process here with one line naming the problem and a non-zero exit.

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "eventserver/net/asio.hpp"
#include "eventserver/app/blocking_job.hpp"
#include "eventserver/app/credentials.hpp"
#include "eventserver/app/config.hpp"
#include "eventserver/app/log_tool.hpp"
#include "eventserver/net/fd_limit.hpp"
#include "eventserver/app/logging.hpp"
#include "eventserver/app/server.hpp"

namespace {

constexpr std::string_view usage =
    "usage: eventserver [-config path/to/config.json]\n"
    "       eventserver log list|verify|dump|repair -data-dir DIR [...]   (eventserver log -help)\n"
    "  -config PATH   configuration file (default ./config/config.json)\n"
    "  -version       print the version and exit\n"
    "  -help          this text\n";

// Exit codes: 0 clean shutdown, 1 runtime start-up failure (bind), 2 bad usage or config.
constexpr int exit_startup_failed = 1;
constexpr int exit_bad_config = 2;

void check_fd_limit(const eventserver::config& settings) {
  // Every client and source is one descriptor; leave room for listeners, logs and stdio.
  const std::uint64_t needed = settings.max_clients + settings.max_event_sources + 32;
  const auto limit = eventserver::raise_fd_limit(needed);
  if (limit.after > limit.before) {
    spdlog::info("raised the open-file limit from {} to {}{} for maxClients {}", limit.before, limit.after,
                 limit.raised_hard ? " (hard limit raised too)" : "", settings.max_clients);
  }
  if (limit.after < needed) {
    spdlog::warn("open-file limit is {} (hard limit {}), below the {} that maxClients {} + maxEventSources {} need: "
                 "connections past it will fail to be accepted",
                 limit.after, limit.hard, needed, settings.max_clients, settings.max_event_sources);
  }
}

// The signals the daemon answers. Blocked from the first line of start-up until their handlers
// are in place, so that one sent at any moment (systemd and supervisord do not wait for
// "listening") waits and is answered, instead of killing the process by its default action.
// A thread started meanwhile (the log writer) keeps them blocked; which thread takes a signal
// later makes no difference, as Asio's handler only wakes the io_context.
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  // The operator's tool: eventserver log list|verify|dump|repair ...
  if (argc > 1 && std::string_view(argv[1]) == "log") return eventserver::run_log_tool(argc - 1, argv + 1);

  const sigset_t handled = handled_signals();
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);

  std::string config_path = "./config/config.json";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "-config" || arg == "--config") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.starts_with("-config=") || arg.starts_with("--config=")) {
      config_path = std::string(arg.substr(arg.find('=') + 1));
    } else if (arg == "-version" || arg == "--version") {
      std::printf("eventserver %s\n", EVENTSERVER_VERSION);
      return 0;
    } else if (arg == "-help" || arg == "--help" || arg == "-h") {
      std::fputs(usage.data(), stdout);
      return 0;
    } else {
      std::fprintf(stderr, "eventserver: unexpected argument '%s'\n%s", argv[i], usage.data());
      return exit_bad_config;
    }
  }

  eventserver::config settings;
  eventserver::credentials credentials;
  try {
    settings = eventserver::load_config_file(config_path);
    credentials = eventserver::load_credentials(settings);  // TLS certificate and keys, tokens
  } catch (const eventserver::config_error& e) {
    std::fprintf(stderr, "eventserver: %s\n", e.what());
    return exit_bad_config;
  }

  try {
    eventserver::configure_logging(settings);
  } catch (const eventserver::config_error& e) {
    std::fprintf(stderr, "eventserver: %s: %s\n", config_path.c_str(), e.what());
    return exit_bad_config;
  }
  spdlog::info("eventserver {} starting with {}", EVENTSERVER_VERSION, config_path);

  std::signal(SIGPIPE, SIG_IGN);  // a vanished client is an error code, not a signal
  check_fd_limit(settings);

  // A write past a file-size limit is an error code (the event log reports it), not a signal.
  std::signal(SIGXFSZ, SIG_IGN);

  eventserver::asio::io_context io{1};
  eventserver::server daemon(io, settings);
  daemon.set_credentials(std::move(credentials));
  // SIGHUP's reloads run here (see below); declared first: a stop abandons a stuck one.
  eventserver::blocking_job reload(io);
  // The handlers are installed before anything listens; a signal that came during start-up
  // (blocked until now) is delivered on the unblock, queued by the signal_set and answered
  // by the first async_wait below, once start() has returned.
  eventserver::asio::signal_set signals(io, SIGINT, SIGTERM);
  eventserver::asio::signal_set hangup(io, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
  try {
    daemon.start();
  } catch (const std::exception& e) {
    const bool bad_config = dynamic_cast<const eventserver::config_error*>(&e) != nullptr;
    spdlog::error("{}", e.what());
    eventserver::abandon_log_writes_after(std::chrono::steady_clock::now() + settings.shutdown_timeout);
    eventserver::shutdown_logging();
    return bad_config ? exit_bad_config : exit_startup_failed;
  }

  std::function<void(const eventserver::error_code&, int)> on_signal = [&](const eventserver::error_code& ec, int sig) {
    if (ec) return;
    if (daemon.stopping()) {
      spdlog::warn("received {} again: stopping now", strsignal(sig));
      daemon.close_all_now();  // not io.stop(): that would leave sessions to outlive the server
      return;
    }
    spdlog::info("received {}: stopping", strsignal(sig));
    // The log output gets as long as the client queues to take what is queued, no longer.
    eventserver::abandon_log_writes_after(std::chrono::steady_clock::now() + settings.shutdown_timeout);
    reload.abandon();  // a reload stuck on a hung filesystem does not hold the exit
    daemon.shutdown([&] {
      signals.cancel();
      hangup.cancel();
    });
    signals.async_wait(on_signal);  // a second signal cuts the flush short
  };
  signals.async_wait(on_signal);

  // SIGHUP: reopen logFile (after logrotate moved it) and re-read logLevel from the config
  // file. Other keys need a restart; a config that no longer parses changes nothing. Both
  // touch the filesystem, which can hang, so they run on a thread of their own and only the
  // outcome comes back to the event thread.
  std::function<void(const eventserver::error_code&, int)> on_hangup = [&](const eventserver::error_code& ec, int) {
    if (ec || daemon.stopping()) return;
    const bool started = reload.start([config_path, settings, &daemon]() -> eventserver::blocking_job::completion {
      eventserver::reopen_log_file(settings);
      // The certificate, keys and tokens at the paths the daemon started with: a renewed
      // certificate is taken without a restart, and a bad one changes nothing.
      std::function<void()> renew_credentials = [] {};
      if (settings.client_tls || settings.ws_tls || settings.client_auth == eventserver::client_auth_mode::jwt || !settings.admin_token_file.empty()) {
        try {
          auto fresh = std::make_shared<eventserver::credentials>(eventserver::load_credentials(settings));
          renew_credentials = [fresh, &daemon] {
            daemon.set_credentials(std::move(*fresh));
            spdlog::info("SIGHUP: TLS certificate, keys and tokens re-read; new connections use them");
          };
        } catch (const eventserver::config_error& e) {
          renew_credentials = [error = std::string(e.what())] {
            spdlog::error("SIGHUP: keeping the TLS certificate, keys and tokens in use: {}", error);
          };
        }
      }
      try {
        const auto fresh = eventserver::load_config_file(config_path);
        return [fresh, renew_credentials] {
          // Said before the change, so a quieter level does not swallow its own announcement.
          spdlog::info("SIGHUP: log file reopened, logLevel {} -> {}",
                       spdlog::level::to_string_view(spdlog::default_logger()->level()), fresh.log_level);
          spdlog::set_level(spdlog::level::from_str(fresh.log_level));
          renew_credentials();
        };
      } catch (const eventserver::config_error& e) {
        return [error = std::string(e.what()), renew_credentials] {
          spdlog::error("SIGHUP: config not reloaded, keeping logLevel: {}", error);
          renew_credentials();
        };
      }
    });
    if (!started) spdlog::warn("SIGHUP ignored: the previous reload is still reading the config file");
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);

  // The event log could not be recovered: stop as after a signal, with the exit code the
  // server chose.
  daemon.on_fatal([&] {
    eventserver::abandon_log_writes_after(std::chrono::steady_clock::now() + settings.shutdown_timeout);
    reload.abandon();  // a reload stuck on a hung filesystem does not hold the exit
    daemon.shutdown([&] {
      signals.cancel();
      hangup.cancel();
    });
  });

  // run() returns once shutdown has closed every listener, session and timer.
  io.run();
  daemon.log_totals();
  spdlog::info("eventserver stopped");
  eventserver::shutdown_logging();  // writes what is queued, within the shutdown deadline
  return daemon.exit_code();
}
