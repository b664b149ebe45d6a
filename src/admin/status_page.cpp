#include "eventserver/admin/status_page.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <nlohmann/json.hpp>

#include "eventserver/admin/status_page_document.hpp"  // generated

namespace eventserver {

// The page: HTML, CSS and script in one document, so it needs nothing but this binary. They
// are edited apart, in status_page.html and status_page.js beside this file, and joined at
// build time (cmake/embed_status_page.cmake). The script opens /events and draws each
// snapshot; every value it puts into the document goes through textContent (never
// innerHTML): a warning can quote a peer's bytes. Elements the browser test reads have stable
// ids (events-per-s, events-processed, next-expected, connections, ...). Under a token the
// page was opened as /?token=..., and the script passes the token on to /events and
// /static/chart.js, the two requests it makes.
std::string_view status_page_html() noexcept { return generated::status_page; }

namespace {
// A latency histogram as the page reads it: the bounds (seconds) and the cumulative counts,
// the +Inf one last; the page takes the difference of two snapshots for the last second's p99.
nlohmann::ordered_json latency_json(const latency_histogram& h) {
  nlohmann::ordered_json le = nlohmann::ordered_json::array();
  nlohmann::ordered_json counts = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < latency_histogram::bounds_seconds.size(); ++i) {
    le.push_back(latency_histogram::bounds_seconds[i]);
    counts.push_back(h.cumulative(i));
  }
  counts.push_back(h.count());
  return {{"le", std::move(le)}, {"counts", std::move(counts)}};
}
}  // namespace

std::string render_status_json(const server_snapshot& s, std::int64_t time_ms) {
  using json = nlohmann::ordered_json;
  const counters& c = s.stats;
  json most_behind = json::array();
  for (const auto& connection : s.most_behind) {
    most_behind.push_back({{"user", connection.user},
                           {"remote", connection.remote},
                           {"transport", connection.transport},
                           {"mode", connection.mode},
                           {"behind", connection.behind},
                           {"queued_bytes", connection.queued_bytes},
                           {"last_sequence", connection.last_sequence}});
  }
  json warnings = json::array();
  for (const auto& warning : s.recent_warnings) {
    warnings.push_back({{"time_ms", warning.time_ms}, {"level", warning.level}, {"message", warning.message}});
  }
  json body = {
      {"time_ms", time_ms},
      {"uptime_s", s.uptime_seconds},
      {"events_processed", c.events_processed},
      {"events_accepted", c.events_accepted},
      {"lines_received", c.lines_received},
      {"notifications_delivered", c.notifications_delivered},
      {"notifications_dropped", c.notifications_dropped_offline + c.notifications_dropped_closing},
      {"bytes_in", c.bytes_in},
      {"bytes_out", c.bytes_out},
      {"client_connections", s.client_connections},
      {"ws_connections", s.ws_connections},
      {"connected_users", s.connected_users},
      {"event_sources", s.event_sources},
      {"next_expected", s.next_expected},
      {"head", s.head},
      {"gap_age_ms", s.oldest_gap_age ? json(s.oldest_gap_age->count()) : json(nullptr)},
      {"window", {{"pending", s.pending_events}, {"capacity", s.max_pending_events}}},
      {"queued_bytes", s.queued_bytes},
      {"follow_edges", s.follow_edges},
      {"admin_unauthorized", s.admin_unauthorized},
      {"log",
       {{"enabled", s.log.enabled},
        {"recovering", s.log.recovering},
        {"failing", s.log.failing},
        {"bytes", s.log.bytes},
        {"segments", s.log.segments},
        {"durable_seq", s.log.durable_seq},
        {"epoch", s.log.epoch}}},
      {"edge", s.edge.enabled ? edge_json(s.edge) : json(nullptr)},
      {"most_behind", std::move(most_behind)},
      {"recent_warnings", std::move(warnings)},
      {"delivery_latency", latency_json(c.delivery_latency)},
      {"durable_latency", latency_json(c.durable_latency)},
  };
  if (s.log.publishing) {  // an ingest: how publishing to the JetStream stream stands
    const auto& p = *s.log.publishing;
    body["log"]["publishing"] = {{"batches_published", p.batches_published}, {"retries", p.retries},
                                 {"duplicates", p.duplicates}, {"failing", p.failing}, {"fenced", p.fenced},
                                 {"last_stream_seq", p.last_stream_seq}};
  }
  // replace: a remote or a warning may hold bytes that are not UTF-8; dump() would throw.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> read_static_file(const std::filesystem::path& path, std::size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO planted at the path must not hang the io thread; the S_ISREG
  // check below then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size < 0 ||
      static_cast<std::uintmax_t>(info.st_size) > max_bytes) {
    return std::nullopt;
  }
  std::string content;
  content.resize(static_cast<std::size_t>(info.st_size));
  std::size_t filled = 0;
  while (filled < content.size()) {
    const ssize_t n = ::read(fd, content.data() + filled, content.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;  // shrank while being read: serve what is there
    filled += static_cast<std::size_t>(n);
  }
  content.resize(filled);
  return content;
}

std::optional<std::string> load_chart_js(const std::filesystem::path& directory) {
  static constexpr std::array<std::string_view, 3> candidates{"chart.umd.js", "chart.umd.min.js", "chart.min.js"};
  for (const auto name : candidates) {
    if (auto content = read_static_file(directory / name)) return content;
  }
  return std::nullopt;
}

}  // namespace eventserver
