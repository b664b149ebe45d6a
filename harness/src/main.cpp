// followermaze: the eventserver's load generator and verifier. main wires the pieces: options,
// the model and its connections, the client pool (one epoll thread), the event source (one
// thread), progress lines, and the final report.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "followermaze/client_pool.hpp"
#include "followermaze/event_generator.hpp"
#include "followermaze/event_source.hpp"
#include "followermaze/expectation_channel.hpp"
#include "followermaze/expectation_model.hpp"
#include "followermaze/net.hpp"
#include "followermaze/options.hpp"
#include "followermaze/proc_stats.hpp"
#include "followermaze/run_state.hpp"

namespace {

// "9099", or "9099,9199,9299" for clients spread over several daemons.
std::string port_names(const std::vector<std::uint16_t>& ports, std::uint16_t single) {
  if (ports.empty()) return std::to_string(single);
  std::string names;
  for (const auto port : ports) {
    if (!names.empty()) names += ',';
    names += std::to_string(port);
  }
  return names;
}

using namespace followermaze;

constexpr int exit_failed = 1;
constexpr int exit_setup = 2;

int decimal_digits(std::uint64_t n) {
  int digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

std::string rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

struct plan {
  generator_settings settings;
  std::vector<user_id> connected;
  std::uint64_t stuck_messages_per_reader = 0;
};

plan make_plan(const options& opts) {
  plan p;
  p.settings.seed = opts.random_seed;
  p.settings.number_of_users = opts.number_of_users;
  p.settings.avg_follows = opts.avg_follows;
  p.settings.mix = opts.mix;
  // Garbage: a third of the garbage rate's lines carry a fresh sequence number (bad body).
  p.settings.bad_body_rate = opts.chaos_garbage;
  p.connected = choose_connected_users(opts.number_of_users, opts.concurrency_level, opts.random_seed);
  if (opts.shard_count > 1) {
    // Every shard_count-th from shard_index: the processes of a sharded run share the choice out.
    std::vector<user_id> share;
    for (std::size_t i = opts.shard_index; i < p.connected.size(); i += opts.shard_count) share.push_back(p.connected[i]);
    p.connected = std::move(share);
  }
  if (opts.chaos_stuck_readers > 0) {
    p.settings.first_stuck_user = opts.number_of_users + 1;
    p.settings.stuck_users = opts.chaos_stuck_readers;
    const auto line_bytes = static_cast<double>(decimal_digits(opts.total_events) + 3 +
                                                decimal_digits(opts.number_of_users) + 1 +
                                                decimal_digits(opts.number_of_users + opts.chaos_stuck_readers) + 2);
    const auto stuck_bytes = stuck_bytes_per_reader(opts);
    const double messages = static_cast<double>(stuck_bytes) / line_bytes * opts.chaos_stuck_readers;
    const double wanted = opts.total_events == 0 ? 0.0 : messages / static_cast<double>(opts.total_events);
    p.settings.stuck_rate = std::min(0.5, wanted);
    if (wanted > 0.5) {
      spdlog::warn("chaos-stuck-readers: the stream is too short to send each stuck reader {} bytes; it gets about {:.0f}",
                   stuck_bytes, static_cast<double>(stuck_bytes) * 0.5 / wanted);
    }
  }
  return p;
}

void report_stuck_readers(const options& opts, const source_report& source, const client_report& clients,
                          std::vector<std::string>& failures) {
  std::uint64_t least = ~0ULL;
  std::uint64_t most = 0;
  for (const auto bytes : source.stuck_bytes) {
    least = std::min(least, bytes);
    most = std::max(most, bytes);
  }
  fmt::print("chaos stuck readers: {} of {} cut off by the daemon; each was sent {}..{} bytes, {} bytes had reached "
             "them in all; every well-behaved client got everything\n",
             clients.stuck_cut_off, clients.stuck_readers, least, most, clients.stuck_bytes_received);
  if (clients.stuck_timeout_rule) {
    // Checked reader by reader in the client thread (client_pool::judge_stuck_readers): a
    // failure there ended the run before this report.
    fmt::print("chaos stuck readers: rule clientWriteTimeoutMs {} ms (--chaos-stuck-timeout) + {} ms after the last "
               "message to each; the run waited {} ms for them after the stream ({} already closed then, {} seen "
               "closing while it waited{}, the others judged by the drain)\n",
               opts.chaos_stuck_timeout_ms, clients.stuck_slack_ns / 1'000'000, clients.stuck_waited_ns / 1'000'000,
               clients.stuck_closed_before_wait, clients.stuck_seen_closed,
               clients.stuck_seen_closed > 0 ? fmt::format(", the last {} ms after the last message to it",
                                                           clients.stuck_latest_close_ns / 1'000'000)
                                             : std::string());
    if (clients.stuck_unproven > 0) {
      fmt::print("chaos stuck readers: warning: {} still connected were sent no more than --chaos-kernel-slack ({} "
                 "bytes), too little to be sure their socket filled (raise totalEvents)\n",
                 clients.stuck_unproven, opts.chaos_kernel_slack);
    }
    return;
  }
  if (clients.stuck_cut_off < clients.stuck_readers && least > opts.chaos_queue_bound + opts.chaos_kernel_slack) {
    failures.push_back(fmt::format(
        "chaos stuck readers: {} of {} still connected although each was sent at least {} bytes, more than the "
        "queue bound {} plus {} bytes of kernel buffers (--chaos-stuck-timeout=0: a daemon without history must "
        "cut a client off at its queue bound; one that keeps history disconnects a stuck reader after its "
        "clientWriteTimeoutMs instead, which --chaos-stuck-timeout or --daemonConfig checks, and never with "
        "clientWriteTimeoutMs 0)",
        clients.stuck_readers - clients.stuck_cut_off, clients.stuck_readers, least, opts.chaos_queue_bound,
        opts.chaos_kernel_slack));
  } else if (clients.stuck_cut_off < clients.stuck_readers) {
    fmt::print("chaos stuck readers: warning: the stream was too short to prove the cut-off (raise totalEvents)\n");
  }
}

void print_chaos_report(const options& opts, const source_report& source, const client_report& clients,
                        std::vector<std::string>& failures) {
  if (opts.chaos_stuck_readers > 0) report_stuck_readers(opts, source, clients, failures);
  if (opts.chaos_bad_clients > 0) {
    std::string kinds;
    for (std::size_t k = 0; k < bad_client_kind_count; ++k) {
      if (clients.bad_clients_by_kind[k] == 0) continue;
      kinds += fmt::format("{}{} {}/{}", kinds.empty() ? "" : ", ", to_string(static_cast<bad_client_kind>(k)),
                           clients.bad_clients_closed_by_kind[k], clients.bad_clients_by_kind[k]);
    }
    fmt::print("chaos bad clients: none received a byte; closed by the daemon: {}\n", kinds);
  }
  if (opts.chaos_bad_tokens > 0) {
    std::string kinds;
    for (std::size_t k = 0; k < bad_token_kind_count; ++k) {
      if (clients.bad_tokens_by_kind[k] == 0) continue;
      kinds += fmt::format("{}{} {}/{}", kinds.empty() ? "" : ", ", to_string(static_cast<bad_token_kind>(k)),
                           clients.bad_tokens_closed_by_kind[k], clients.bad_tokens_by_kind[k]);
    }
    fmt::print("chaos bad tokens: none received a notification; closed by the daemon: {}", kinds);
    if (clients.bad_tokens_ws > 0) {
      fmt::print(" ({} in a WebSocket upgrade: {} refused with an HTTP status, {} upgraded and closed with 1008, the "
                 "others closed without a byte)",
                 clients.bad_tokens_ws, clients.bad_tokens_http_refused, clients.bad_tokens_ws_closed);
    }
    fmt::print("\n");
  }
  if (opts.chaos_duplicate_connections > 0) {
    fmt::print("chaos duplicate connections: {} users on two connections, each connection verified in full\n",
               opts.chaos_duplicate_connections);
  }
  if (opts.chaos_garbage > 0.0) {
    fmt::print("chaos garbage: {} lines without a usable sequence number, {} duplicate sequence numbers, {} bad-body "
               "slots, {} lines ending in a bare LF; none produced a notification\n",
               source.garbage_lines, source.duplicate_lines, source.bad_body_lines, source.bare_lf_lines);
  }
  if (opts.chaos_reconnect > 0) {
    fmt::print("chaos reconnect: the event source reconnected {} times mid-batch (asked for {})\n", source.reconnects,
               opts.chaos_reconnect);
  }
  if (opts.chaos_client_reconnect > 0) {
    fmt::print("chaos client reconnect: {} connections dropped theirs {} times in all (asked for {} each; a point past "
               "a connection's last notification is never reached) and resumed; every resumed|<epoch>|<last>|complete "
               "and every notification after <last> checked ({} handshakes with the epoch, {} without)\n",
               clients.reconnect_clients, clients.chaos_drops, opts.chaos_client_reconnect_times,
               clients.resumes_with_epoch, clients.resumes - clients.resumes_with_epoch);
    if (clients.chaos_drops == 0) {
      fmt::print("chaos client reconnect: warning: no connection reached a drop point (raise totalEvents)\n");
    }
  }
}

std::string latency_summary(const latency_histogram& h) {
  return fmt::format("p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us", static_cast<double>(h.percentile(50)) / 1e3,
                     static_cast<double>(h.percentile(99)) / 1e3, static_cast<double>(h.max()) / 1e3);
}

int run(const options& opts) {
  const plan p = make_plan(opts);

  expectation_model model(opts.number_of_users + opts.chaos_stuck_readers);
  for (const user_id user : p.connected) model.add_connection(user);
  for (std::uint32_t i = 0; i < opts.chaos_duplicate_connections; ++i) model.add_connection(p.connected[i]);

  const std::uint64_t descriptors =
      model.connection_count() + opts.chaos_stuck_readers + opts.chaos_bad_clients + opts.chaos_bad_tokens + 64;
  if (const auto limit = raise_fd_limit(descriptors); limit < descriptors) {
    fmt::print(stderr, "followermaze: needs {} file descriptors, RLIMIT_NOFILE allows {}\n", descriptors, limit);
    return exit_setup;
  }

  expectation_channel channel;
  run_state state;
  client_pool clients(opts, model, channel, state, p.settings.first_stuck_user);
  event_source source(opts, p.settings, model, channel, state);

  spdlog::info("connecting {} clients ({} users{}) to {}:{}{}{}{}",
               model.connection_count() + opts.chaos_stuck_readers + opts.chaos_bad_clients + opts.chaos_bad_tokens,
               p.connected.size(),
               opts.chaos_stuck_readers + opts.chaos_bad_clients + opts.chaos_duplicate_connections +
                           opts.chaos_bad_tokens >
                       0
                   ? fmt::format(", {} duplicate, {} stuck, {} bad, {} bad-token connections",
                                 opts.chaos_duplicate_connections, opts.chaos_stuck_readers, opts.chaos_bad_clients,
                                 opts.chaos_bad_tokens)
                   : std::string(),
               opts.host, port_names(opts.client_ports, opts.client_listener_port),
               opts.ws_clients > 0 ? fmt::format(", {} of them WebSocket clients on port {}", opts.ws_clients,
                                                 port_names(opts.ws_ports, opts.ws_listener_port))
                                   : std::string(),
               opts.tls ? ", over TLS" : "", opts.jwt_secret.empty() ? "" : ", with tokens");
  if (auto error = clients.connect_all(); !error.empty()) {
    fmt::print(stderr, "followermaze: {}\n", error);
    return exit_setup;
  }
  // Registration is asynchronous in the daemon and has no acknowledgement: give it a moment.
  const std::uint32_t settle_ms =
      opts.settle_ms.value_or(200 + static_cast<std::uint32_t>(clients.connection_count() / 20));
  spdlog::info("{} clients connected; settling {} ms before the first event", clients.connection_count(), settle_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));

  const auto cpu_before = opts.daemon_pid ? read_process_stats(*opts.daemon_pid) : std::nullopt;

  std::thread client_thread([&] { clients.run(); });
  std::thread source_thread([&] { source.run(); });

  // Progress, until the client thread is done (it outlives the source).
  const std::uint64_t start = now_ns();
  std::uint64_t last_time = start;
  std::uint64_t last_events = 0;
  std::uint64_t last_notes = 0;
  std::uint64_t next_log = start + static_cast<std::uint64_t>(opts.log_interval_ms) * 1'000'000;
  while (!state.clients_done.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::uint64_t now = now_ns();
    if (now < next_log) continue;
    const std::uint64_t events = state.events_sent.load(std::memory_order_relaxed);
    const std::uint64_t notes = state.notifications_verified.load(std::memory_order_relaxed);
    const double seconds = static_cast<double>(now - last_time) / 1e9;
    spdlog::info("events sent {} ({}/s), notifications verified {} ({}/s), awaited {}", events,
                 rate(static_cast<double>(events - last_events) / seconds), notes,
                 rate(static_cast<double>(notes - last_notes) / seconds), channel.total_published() - notes);
    last_time = now;
    last_events = events;
    last_notes = notes;
    next_log = now + static_cast<std::uint64_t>(opts.log_interval_ms) * 1'000'000;
  }
  source_thread.join();
  client_thread.join();

  const auto& src = source.report();
  const auto& cli = clients.report();
  std::vector<std::string> failures;
  if (auto failure = state.failure(); !failure.empty()) failures.push_back(std::move(failure));

  const std::uint64_t end = cli.end_ns != 0 ? cli.end_ns : now_ns();
  const double wall = static_cast<double>(end - (src.start_ns != 0 ? src.start_ns : start)) / 1e9;
  // Plain values rather than an optional: g++ 12 misreads the optional as maybe-uninitialized.
  process_stats daemon{};
  bool have_daemon = false;
  if (opts.daemon_pid) {
    if (const auto stats = read_process_stats(*opts.daemon_pid)) {
      daemon = *stats;
      have_daemon = true;
    }
  }
  const double events_per_s = wall > 0 ? static_cast<double>(src.events) / wall : 0;
  const double notes_per_s = wall > 0 ? static_cast<double>(cli.verified) / wall : 0;
  const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };

  fmt::print("\n=== followermaze report ===\n");
  fmt::print("events        {} in {:.3f} s: {} events/s ({} bytes, mix {})\n", src.events, wall, rate(events_per_s),
             src.bytes, opts.mix_name);
  fmt::print("notifications {} verified: {} notifications/s, to {} connections of {} users ({} users in all)\n",
             cli.verified, rate(notes_per_s), model.connection_count(), p.connected.size(), opts.number_of_users);
  if (opts.observe) {
    fmt::print("latency       not measured: another process sends the stream (--observe)\n");
  } else {
    fmt::print("latency       batch written -> line received: p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us{}\n",
               us(cli.latency.percentile(50)), us(cli.latency.percentile(99)), us(cli.latency.max()),
               cli.slow_readers + cli.reconnect_clients + cli.ws_clients > 0
                   ? fmt::format(" ({} connections: not the slow readers, the chaos-reconnect ones nor the WebSocket "
                                 "ones)",
                                 model.connection_count() - cli.slow_readers - cli.reconnect_clients -
                                     (cli.ws_clients - cli.ws_slow - cli.ws_reconnecting))
                   : std::string());
  }
  if (opts.shard_count > 1) {
    fmt::print("shard         {} of {}: {} of the {} connected users{}\n", opts.shard_index, opts.shard_count,
               p.connected.size(), opts.concurrency_level,
               opts.observe ? "; the stream generated here, sent by another process" : "; this process sends the stream");
  }
  const double slow_finish_s =
      cli.slow_end_ns != 0 && src.start_ns != 0 ? static_cast<double>(cli.slow_end_ns - src.start_ns) / 1e9 : 0.0;
  if (cli.slow_readers > 0) {
    fmt::print("slow readers  {} connections reading at {} of their stream's rate: {}; {}; at most {} bytes behind "
               "(kernel buffers hold ~50 KB, the daemon's queue --chaos-queue-bound {}: past both, it must serve them "
               "from history)\n",
               cli.slow_readers, opts.slow_read_fraction, latency_summary(cli.slow_latency),
               cli.slow_end_ns == 0
                   ? std::string("they did not finish")
                   : fmt::format("the last finished {:.3f} s after the first event ({:.3f} s after the others)",
                                 slow_finish_s,
                                 cli.slow_end_ns > end ? static_cast<double>(cli.slow_end_ns - end) / 1e9 : 0.0),
               cli.slow_peak_lag_bytes, opts.chaos_queue_bound);
  }
  if (cli.reconnect_clients > 0) {
    fmt::print("reconnecting  {} connections that dropped and resumed: {}\n", cli.reconnect_clients,
               latency_summary(cli.reconnect_latency));
  }
  if (cli.ws_clients > 0) {
    fmt::print("websocket     {} connections ({} of them slow readers, {} chaos-reconnect; their latency is in those "
               "lines), the {} others: {}; {} upgrades checked, {} frames, {} messages ({} fragmented), {} pings "
               "answered, {} close frames received\n",
               cli.ws_clients, cli.ws_slow, cli.ws_reconnecting, cli.ws_clients - cli.ws_slow - cli.ws_reconnecting,
               latency_summary(cli.ws_latency), cli.ws_upgrades, cli.ws_frames, cli.ws_messages, cli.ws_fragmented,
               cli.ws_pings, cli.ws_closes);
  }
  if (opts.tls) {
    fmt::print("tls           {} client handshakes ({}), the daemon's certificate verified against {} for {}{}\n",
               cli.tls_handshakes, cli.tls_description.empty() ? std::string("none") : cli.tls_description,
               opts.tls_ca_file, opts.tls_server_name.empty() ? opts.host : opts.tls_server_name,
               opts.tls_cert_file.empty() ? "" : ", with a client certificate");
  }
  if (!opts.jwt_secret.empty()) {
    fmt::print("tokens        {} HS256 tokens signed (ttl {} s{}{}), {} sent fresh on live connections\n",
               cli.tokens_signed, opts.jwt_ttl_s, opts.jwt_audience.empty() ? "" : ", aud " + opts.jwt_audience,
               opts.jwt_issuer.empty() ? "" : ", iss " + opts.jwt_issuer, cli.token_refreshes);
  }
  if (src.first_durable) {
    fmt::print("stream        epoch {} (the daemon held epoch {} durable through {} when the source connected{}); "
               "durable through {} of epoch {} at the end, {} durable lines read\n",
               src.stream_epoch, src.first_durable->epoch, src.first_durable->seq,
               src.first_durable->seq == 0            ? ""
               : src.ones_brought_forward > 0 ? ": this run's 1 starts a new stream, sent first"
                                              : ": this run's 1 starts a new stream",
               src.last_durable ? src.last_durable->seq : 0, src.last_durable ? src.last_durable->epoch : 0,
               src.durable_lines);
  }
  // The old stream moving on past where it stood when this run connected: this run's events went into it.
  if (src.first_durable && src.last_durable && src.stream_epoch != 0 && src.last_durable->epoch < src.stream_epoch &&
      src.last_durable->seq > src.first_durable->seq) {
    fmt::print("stream        warning: the daemon's last durable line names epoch {}, not this run's {}: it did not "
               "take this run as the new stream docs/protocol.md's \"Starting over\" describes (with "
               "--survive-restarts the source sends its 1 first when the rule could fail)\n",
               src.last_durable->epoch, src.stream_epoch);
  }
  if (src.unknown_lines > 0) {
    fmt::print("stream        the daemon wrote {} lines to the source that are not durable positions\n",
               src.unknown_lines);
  }
  if (src.lingered_unclosed > 0) {
    fmt::print("harness       warning: {} event-source connections were closed before the daemon closed its end\n",
               src.lingered_unclosed);
  }
  if (opts.survive_restarts) {
    fmt::print("restarts      the source reconnected {} times after a broken connection ({} starting its stream over), "
               "resent {} bytes, held at most {} bytes not yet durable (waited {} times for room); clients: {} "
               "connection losses, {} resumed, {} waited for the stream to start again ({} lines of the older "
               "stream skipped)\n",
               src.recoveries, src.starts_over, src.resent_bytes, src.retained_peak_bytes, src.durable_waits,
               cli.broken, cli.resumes, cli.awaited_epoch, cli.skipped_lines);
  }
  if (src.verifier_waits > 0) {
    fmt::print("harness       the source waited for the verifier before {} chunks (maxInFlight {}): there the "
               "harness, not the daemon, set the pace\n",
               src.verifier_waits, opts.max_in_flight);
  }
  if (opts.daemon_pid) {
    if (have_daemon) {
      fmt::print("daemon        pid {}: {:.2f} CPU s in all ({:.2f} during the run, {:.3f} per million events), peak "
                 "RSS {} kB\n",
                 *opts.daemon_pid, daemon.cpu_seconds,
                 cpu_before ? daemon.cpu_seconds - cpu_before->cpu_seconds : daemon.cpu_seconds,
                 src.events > 0 ? daemon.cpu_seconds / (static_cast<double>(src.events) / 1e6) : 0.0,
                 daemon.peak_rss_kb);
    } else {
      failures.push_back(fmt::format("daemon pid {} is gone or unreadable at the end of the run", *opts.daemon_pid));
    }
  }
  if (failures.empty()) print_chaos_report(opts, src, cli, failures);

  if (!failures.empty()) {
    for (const auto& failure : failures) fmt::print("FAILED: {}\n", failure);
    std::fflush(stdout);
    return exit_failed;
  }
  fmt::print("\nALL NOTIFICATIONS RECEIVED\n\n");
  // Keys are only ever appended, and only for the modes that add them.
  std::string more;
  if (cli.slow_readers > 0) {
    more += fmt::format(" slow_readers={} slow_p50_us={:.0f} slow_p99_us={:.0f} slow_max_us={:.0f} slow_finish_s={:.3f}",
                        cli.slow_readers, us(cli.slow_latency.percentile(50)), us(cli.slow_latency.percentile(99)),
                        us(cli.slow_latency.max()), slow_finish_s);
  }
  if (opts.chaos_client_reconnect > 0 || opts.survive_restarts) more += fmt::format(" client_resumes={}", cli.resumes);
  if (opts.survive_restarts) {
    more += fmt::format(" source_recoveries={} resent_bytes={}", src.recoveries, src.resent_bytes);
  }
  if (cli.ws_clients > 0) {
    more += fmt::format(" ws_clients={} ws_p50_us={:.0f} ws_p99_us={:.0f} ws_max_us={:.0f}", cli.ws_clients,
                        us(cli.ws_latency.percentile(50)), us(cli.ws_latency.percentile(99)), us(cli.ws_latency.max()));
  }
  const auto latency_us = [&](std::uint64_t ns) {
    return opts.observe ? std::string("na") : fmt::format("{:.0f}", us(ns));
  };
  fmt::print("RESULT events={} clients={} notifications={} wall_s={:.3f} events_per_s={:.0f} notif_per_s={:.0f} "
             "p50_us={} p99_us={} max_us={} daemon_cpu_s={} daemon_peak_rss_kb={}{}\n",
             src.events, p.connected.size(), cli.verified, wall, events_per_s, notes_per_s,
             latency_us(cli.latency.percentile(50)), latency_us(cli.latency.percentile(99)),
             latency_us(cli.latency.max()),
             have_daemon ? fmt::format("{:.2f}", daemon.cpu_seconds) : std::string("na"),
             have_daemon ? std::to_string(daemon.peak_rss_kb) : std::string("na"), more);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  const auto outcome = parse_options([](const char* name) { return std::getenv(name); }, args);
  if (!outcome.error.empty()) {
    std::fprintf(stderr, "followermaze: %s\n", outcome.error.c_str());
    return exit_setup;
  }
  const options& opts = outcome.opts;
  if (opts.help) {
    std::fputs(usage_text().c_str(), stdout);
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);

  auto logger = spdlog::stdout_logger_mt("followermaze");
  logger->set_pattern("[%H:%M:%S.%e] %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(opts.log_level));
  spdlog::set_default_logger(logger);
  spdlog::info("followermaze: {} events, {} connected users of {}, seed {}, batches up to {}, mix {}", opts.total_events,
               opts.concurrency_level, opts.number_of_users, opts.random_seed, opts.max_event_source_batch_size,
               opts.mix_name);
  return run(opts);
}
