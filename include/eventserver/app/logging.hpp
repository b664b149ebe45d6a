#pragma once
// Logging is configured once here: spdlog's default logger, to standard output or to
// logFile, as plain text or as JSON lines. reopen() serves SIGHUP (logrotate moves the file,
// the daemon starts a new one).

#include "eventserver/app/config.hpp"

namespace eventserver {

// Throws config_error naming logFile when the file cannot be opened.
void configure_logging(const config& settings);
// Opens logFile afresh (no-op when logging to standard output). Returns false, leaving the
// old logger in place, if the file cannot be opened.
bool reopen_log_file(const config& settings);

}  // namespace eventserver
