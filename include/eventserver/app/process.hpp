#pragma once
// The process around the server: its command line, the signals it answers (SIGINT and SIGTERM stop it, SIGHUP
// reloads: reload.hpp), the ones it ignores, its open-file limit, and the stop sequence that a
// signal and a fatal event-log error share.

#include <signal.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "eventserver/app/config.hpp"
#include "eventserver/net/asio.hpp"

namespace eventserver {

class reload;
class server;

// eventserver [-config PATH] [-version] [-help] (the other form, `eventserver log ...`, is
// log_tool.hpp's). -version and -help print and end the process with 0; an unknown argument
// prints the usage to stderr and ends it with 2 (bad usage, as a bad config).
struct command_line {
  std::string config_path = "./config/config.json";
  std::optional<int> exit_now;
};
command_line read_command_line(int argc, char** argv, std::string_view version);

// SIGINT, SIGTERM and SIGHUP, blocked from the first line of start-up until their handlers are
// in place, so that one sent at any moment (systemd and supervisord do not wait for
// "listening") waits and is answered, instead of killing the process by its default action.
// A thread started meanwhile (the log writer) keeps them blocked; which thread takes a signal
// later makes no difference, as Asio's handler only wakes the io_context.
class held_signals {
 public:
  held_signals();
  // Once the signal_sets exist: a signal that came meanwhile is delivered now, queued by its
  // signal_set and answered by its first async_wait.
  void release() const;

 private:
  sigset_t set_;
};

// A vanished client and a write past a file-size limit are error codes, not signals; every
// client and source is one descriptor, so the open-file limit is raised to cover maxClients
// and maxEventSources (with a warning when it cannot be).
void prepare_process(const config& settings);

// SIGINT or SIGTERM: the server flushes and shuts down (the log output gets as long as the
// client queues, shutdownTimeoutMs, no longer); a second one closes everything at once.
class stopper {
 public:
  stopper(asio::io_context& io, server& daemon, reload& reloader, std::chrono::milliseconds shutdown_timeout);
  stopper(const stopper&) = delete;
  stopper& operator=(const stopper&) = delete;

  // Answers SIGINT and SIGTERM from now on.
  void start();
  // The stop sequence: the log output's deadline set, a reload in flight abandoned, the
  // server shut down; once it is, nothing waits for a signal and io_context::run() returns.
  void stop();

 private:
  void on_signal(const error_code& ec, int signal);

  server& daemon_;
  reload& reload_;
  const std::chrono::milliseconds shutdown_timeout_;
  asio::signal_set signals_;
};

}  // namespace eventserver
