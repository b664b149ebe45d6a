#pragma once
// Logging is configured once here: spdlog's default logger, to standard output or to
// logFile, as plain text or as JSON lines.
//
// Logging never blocks the event thread. The logger is asynchronous: a line goes into a
// bounded queue (64 lines) and one logging thread writes it. When the output stalls (a
// pipe nobody reads, a wedged supervisor), that thread waits and the queue fills; then the
// oldest queued line is dropped for each new one. Dropped lines are counted
// (log_lines_dropped) and, once the output takes lines again, the count is written first.
// Shutdown waits for the output at most until the deadline abandon_diagnostic_writes_after() sets.

#include <chrono>
#include <cstdint>
#include <vector>

#include "eventserver/admin/admin_views.hpp"
#include "eventserver/app/config.hpp"

namespace eventserver {

// Throws config_error naming logFile when the file cannot be opened.
void configure_diagnostics(const config& settings);
// Opens logFile afresh (no-op when logging to standard output), for logrotate. Safe from any
// thread. Returns false, leaving the old file in use, if the file cannot be opened.
bool reopen_diagnostics_file(const config& settings);

// Lines lost because the output could not take them (queue overrun or shutdown deadline).
std::uint64_t diagnostic_lines_dropped();
// The last few warnings and errors, oldest first (the status page shows them).
std::vector<recent_warning> recent_warnings();

// From `deadline` on, the logging thread stops waiting for a stalled output: lines it cannot
// write at once are dropped (and counted). Shutdown sets it so the process can end.
void abandon_diagnostic_writes_after(std::chrono::steady_clock::time_point deadline);
// Writes what is queued (within the deadline above) and stops the logging thread.
void shutdown_diagnostics();

}  // namespace eventserver
