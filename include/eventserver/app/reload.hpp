#pragma once
// SIGHUP: reopen logFile (after logrotate moved it), re-read logLevel from the config file, and
// re-read the TLS certificate, keys and tokens at the paths the daemon started with
// (reloaded_on_sighup in credentials.hpp names every key). Other keys need a restart; a config
// or a certificate that no longer reads changes nothing. Reading touches the filesystem, which
// can hang, so it runs on a blocking_job's thread and only the outcome comes back to the event
// thread. tests/daemon/sighup_test.sh and tls_reload_test.sh are the specification.

#include <string>

#include "eventserver/app/blocking_job.hpp"
#include "eventserver/app/config.hpp"
#include "eventserver/net/asio.hpp"

namespace eventserver {

class server;

class reload {
 public:
  // `settings` are the ones the daemon started with: their paths are what is re-read.
  reload(asio::io_context& io, server& daemon, std::string config_path, config settings);
  reload(const reload&) = delete;
  reload& operator=(const reload&) = delete;

  // Answers SIGHUP from now on. The signal_set exists from construction, so a SIGHUP that
  // arrived before this waits, queued, and is answered here.
  void start();
  // Shutdown: no more waiting for SIGHUP, and a reload stuck on a hung filesystem is left
  // behind rather than holding the exit.
  void stop();

 private:
  void on_hangup(const error_code& ec);

  server& daemon_;
  const std::string config_path_;
  const config settings_;
  asio::signal_set hangup_;
  blocking_job job_;
};

}  // namespace eventserver
