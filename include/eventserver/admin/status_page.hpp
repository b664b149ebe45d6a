#pragma once
// The live status page of the admin port: `GET /` serves the page (HTML, CSS and script, all
// compiled into the binary: no network fetch, since an operator's browser may have none),
// `GET /events` streams render_status_json() once a second as server-sent events, and
// `GET /static/chart.js` serves Debian's Chart.js from disk when installed (the page draws
// plain canvas charts without it).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "eventserver/admin/admin_views.hpp"

namespace eventserver {

std::string_view status_page_html() noexcept;

// One snapshot as the page draws it; `time_ms` (Unix epoch milliseconds) lets the page turn
// the counters into rates. Never throws: bytes that are not UTF-8 (a warning may quote a
// peer) come out as U+FFFD.
std::string render_status_json(const server_snapshot& snapshot, std::int64_t time_ms);

// Where libjs-chart.js puts a build that runs from a plain <script> (UMD): chart.umd.js in
// Chart.js 4, chart.min.js in 3 (whose chart.js is UMD too, but 4's is an ES module).
inline constexpr std::string_view chart_js_directory = "/usr/share/javascript/chart.js";
inline constexpr std::size_t max_static_file_bytes = 4 * 1024 * 1024;

// The content of a regular file of at most `max_bytes`; nullopt when it is missing, not a
// regular file, larger, or unreadable.
std::optional<std::string> read_static_file(const std::filesystem::path& path,
                                            std::size_t max_bytes = max_static_file_bytes);

// Chart.js from `directory`, the first of the UMD builds found there.
std::optional<std::string> load_chart_js(const std::filesystem::path& directory = std::filesystem::path(chart_js_directory));

}  // namespace eventserver
