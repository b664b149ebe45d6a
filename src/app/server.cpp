#include "eventserver/app/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "eventserver/admin/admin_session.hpp"
#include "eventserver/app/diagnostics.hpp"
#include "eventserver/cluster/jetstream_stream.hpp"
#include "eventserver/net/client_session.hpp"
#include "eventserver/net/client_socket.hpp"
#include "eventserver/net/event_source_session.hpp"
#include "eventserver/net/fd_limit.hpp"
#include "eventserver/net/listener.hpp"
#include "eventserver/tls/tls_client_session.hpp"
#include "eventserver/ws/ws_client_session.hpp"

namespace eventserver {

namespace {
// Admin connections are for a scraper or an operator, not a crowd.
constexpr std::size_t max_admin_connections = 32;

tcp::endpoint endpoint_of(const std::string& address, std::uint16_t port) {
  return {asio::ip::make_address(address), port};
}

std::string to_string(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("{}:{}", address.to_string(), endpoint.port());
}
}  // namespace

server::server(asio::io_context& io, config settings)
    : io_(io),
      settings_(std::move(settings)),
      client_limits_{settings_.max_client_queue_bytes,
                     std::min(settings_.client_write_batch_bytes, settings_.max_client_queue_bytes),
                     settings_.client_handshake_timeout, settings_.max_line_bytes, settings_.client_write_timeout,
                     // The id line and, under jwt, a space and a token.
                     settings_.max_line_bytes + (settings_.client_auth == client_auth_mode::jwt ? token_verifier::max_token_bytes + 1 : 0),
                     settings_.client_send_buffer_bytes,
                     settings_.cluster_role == cluster_role_kind::edge ? settings_.cluster_resume_wait : std::chrono::milliseconds(0)},
      dispatcher_(settings_.stream(), stats_),
      ws_settings_{settings_.ws_ping_interval, settings_.ws_pong_timeout, settings_.ws_allowed_origins},
      pacing_(settings_.client_write_delay, std::chrono::steady_clock::now()),
      flush_timer_(io),
      gap_timer_(io),
      shutdown_timer_(io),
      limit_warnings_(5, std::chrono::seconds(1)),
      handshake_warnings_(5, std::chrono::seconds(1)),
      slow_client_warnings_(20, std::chrono::seconds(1)),
      log_(durable_log::create(io, settings_, dispatcher_, dispatcher_.changes(), log_hooks())) {
  if (settings_.cluster_role == cluster_role_kind::edge) {
    edge_ = std::make_unique<edge_intake>(io_, settings_, dispatcher_, edge_intake::hooks{[this](bool input_idle) {
                                            end_batch(std::chrono::steady_clock::now(), input_idle);
                                          }});
  }
}

server::~server() = default;

void server::start() {
  open_spill();
  // An edge takes its events from the stream: it has no event-source port. An ingest serves no clients.
  if (!edge_) {
    event_listener_ = std::make_shared<listener>(
        io_, endpoint_of(settings_.event_listener_address, settings_.event_listener_port), "event source",
        [this](tcp::socket socket) { accept_event_source(std::move(socket)); });
  }
  if (serves_clients()) {
    client_listener_ = std::make_shared<listener>(
        io_, endpoint_of(settings_.client_listener_address, settings_.client_listener_port), "client",
        [this](tcp::socket socket) { accept_client(std::move(socket)); });
  }
  if (settings_.admin_enabled) {
    admin_listener_ = std::make_shared<listener>(
        io_, endpoint_of(settings_.admin_listener_address, settings_.admin_listener_port), "admin",
        [this](tcp::socket socket) { accept_admin(std::move(socket)); });
  }
  if (settings_.ws_enabled && serves_clients()) {
    ws_listener_ = std::make_shared<listener>(
        io_, endpoint_of(settings_.ws_listener_address, settings_.ws_listener_port), "WebSocket client",
        [this](tcp::socket socket) { accept_ws_client(std::move(socket)); });
  }
  if (!serves_clients()) {
    spdlog::info("ingest: listening for event sources on {}; no client, WebSocket or TLS client listener (clients "
                 "connect to an edge); the stream goes to JetStream stream {} at {}",
                 to_string(event_endpoint()), settings_.cluster_stream, cluster::shown_servers(settings_.cluster_servers));
    if (settings_.ws_enabled || settings_.client_tls || settings_.ws_tls || auth_required() || !settings_.data_dir.empty()) {
      spdlog::warn("ingest: dataDir, wsListenerPort, clientTls, wsTls and clientAuth are not used (the stream is the "
                   "log, and an ingest serves no clients)");
    }
  } else if (edge_) {
    spdlog::info("edge of stream {} on {}: no event-source listener (events come from the stream); clients on {}",
                 settings_.cluster_stream, cluster::shown_servers(settings_.cluster_servers), to_string(client_endpoint()));
  } else {
    spdlog::info("listening for event sources on {} and clients on {}", to_string(event_endpoint()),
                 to_string(client_endpoint()));
  }
  if (ws_listener_) {
    spdlog::info("WebSocket clients (GET /users/<id>) on {}{}", to_string(ws_endpoint()),
                 settings_.ws_allowed_origins.empty()
                     ? std::string(", from pages of any origin")
                     : fmt::format(", from pages of {} allowed origin(s)", settings_.ws_allowed_origins.size()));
  }
  if (admin_listener_) {
    admin_listener_->start();
    spdlog::info("admin HTTP (/metrics /healthz /readyz /connz) on {}{}", to_string(admin_endpoint()),
                 admin_token_.empty() ? "" : ", bearer token required");
  }
  if (serves_clients()) log_security();
  if (!log_) {
    take_connections();
    return;
  }
  // Sources and clients wait in the listen backlog until the log is recovered; the admin
  // port answers meanwhile (/readyz: not ready).
  log_->start();
}

void server::take_connections() {
  if (auth_required() && !credentials_.verifier) {
    spdlog::error("clientAuth jwt without a token verifier: every client will be refused (set_credentials not called)");
  }
  if (event_listener_) event_listener_->start();
  if (client_listener_) client_listener_->start();
  if (ws_listener_) ws_listener_->start();
}

durable_log::hooks server::log_hooks() {
  durable_log::hooks on;
  on.recovered = [this] {
    if (stopping_) return;
    take_connections();
    if (edge_) edge_->start(dispatcher_.applied());
  };
  on.fatal = [this](const std::string& error) {
    spdlog::error("event log: {}", error);
    exit_code_ = 2;
    if (on_fatal_) on_fatal_();
  };
  on.applied = [this] {
    const auto now = std::chrono::steady_clock::now();
    // Everything is written out only once the input is idle and the log has given back all it
    // held; until then the next batch comes soon and the write coalescing holds as usual.
    const auto* log = dispatcher_.log();
    flush_clients(now, !input_busy_ && (log == nullptr || log->waiting() == 0));
    tell_sources_durable();
    resume_paused_sources();
    if (log_) log_->maybe_snapshot();
    if (edge_) edge_->applied();
    wake_awaiting_applied();
  };
  on.writing = [](bool) {};  // readiness asks the log; the sources pause by saturation
  // An ingest fenced by another publisher of its stream: it can never publish again. It exits
  // (exit_fenced), and a supervisor's restart recovers from the stream where the other left it.
  on.fenced = [this](const std::string& why) {
    spdlog::error("event log: {}; stopping (exit code {}): a restart recovers from the stream", why, exit_fenced);
    exit_code_ = exit_fenced;
    if (on_fatal_) on_fatal_();
  };
  return on;
}

void server::tell_sources_durable() {
  const log_position position = dispatcher_.applied();
  for (auto* source : sources_) {
    if (source->wants_durable()) source->note_durable(position);
  }
}

void server::wake_awaiting_applied() {
  if (awaiting_applied_.empty()) return;
  std::vector<client_session*> waiting;
  waiting.swap(awaiting_applied_);  // those still waiting ask again
  for (client_session* client : waiting) client->applied_moved();
}

bool server::input_blocked() { return dispatcher_.log_saturated(); }

history_source* server::history() { return log_ ? log_->history() : nullptr; }

spill_store* server::spill() { return spill_.get(); }

void server::open_spill() {
  if (!settings_.spills()) return;
  if (const std::string problem = storage::spill_files::check_directory(settings_.data_dir); !problem.empty()) {
    spdlog::warn("clientSpillBytes: {}; clients over their queue bound read the log instead", problem);
    return;
  }
  spill_ = std::make_unique<storage::spill_files>(settings_.data_dir, settings_.client_spill_bytes,
                                                  [this](std::function<void()> f) { asio::post(io_, std::move(f)); });
}

log_position server::applied() const { return dispatcher_.applied(); }

std::span<const user_id> server::following(user_id user) const { return dispatcher_.routes().graph().following(user); }

std::optional<std::vector<user_id>> server::following_after(user_id user, sequence_number after) const {
  return dispatcher_.changes().following_at(user, after, dispatcher_.applied().seq, following(user));
}

void server::want_durable(event_source_session& source) { source.note_durable(dispatcher_.applied()); }

bool server::lone_source(const event_source_session& source) {
  return std::none_of(sources_.begin(), sources_.end(),
                      [&source](event_source_session* other) { return other != &source && !other->peer_has_left(); });
}

tcp::endpoint server::event_endpoint() const { return event_listener_ ? event_listener_->local_endpoint() : tcp::endpoint{}; }
tcp::endpoint server::client_endpoint() const { return client_listener_ ? client_listener_->local_endpoint() : tcp::endpoint{}; }

tcp::endpoint server::admin_endpoint() const { return admin_listener_ ? admin_listener_->local_endpoint() : tcp::endpoint{}; }
tcp::endpoint server::ws_endpoint() const { return ws_listener_ ? ws_listener_->local_endpoint() : tcp::endpoint{}; }

// At the limit, the unauthenticated connection that has waited longest makes way: a flood of
// connections without the token then only churns among itself, and an operator's connection,
// which sends its request at once, authenticates long before 31 newcomers could push it out.
// (Evicting the newest instead would let the flood's next connection push out the operator's
// before its request arrives.)
void server::accept_admin(tcp::socket socket) {
  if (stopping_) return;
  std::size_t open = 0;
  admin_session* longest_waiting = nullptr;
  for (auto* admin : admins_) {
    if (admin->closed()) continue;  // closed, its handlers not yet run: no longer holds a slot
    ++open;
    if (!admin->authenticated() && (longest_waiting == nullptr || admin->opened_at() < longest_waiting->opened_at())) {
      longest_waiting = admin;
    }
  }
  if (open >= max_admin_connections) {
    if (longest_waiting == nullptr) {
      ++admin_refused_limit_;
      return;  // the socket closes as it goes out of scope
    }
    ++admin_made_way_;
    longest_waiting->close();
  }
  std::make_shared<admin_session>(std::move(socket), *this)->start();
}

void server::accept_event_source(tcp::socket socket) {
  if (stopping_) return;  // the socket closes as it goes out of scope
  if (sources_.size() >= settings_.max_event_sources && live_event_sources() >= settings_.max_event_sources) {
    ++stats_.sources_rejected_limit;
    if (const auto suppressed = limit_warnings_.allow(std::chrono::steady_clock::now())) {
      spdlog::warn("refused an event source connection: maxEventSources ({}) already connected{}",
                   settings_.max_event_sources,
                   suppressed_note(*suppressed));
    }
    return;
  }
  ++stats_.sources_accepted;
  std::make_shared<event_source_session>(std::move(socket), *this)->start();
}

// A source paused on a full window reads nothing, so it cannot see its producer leave; asked
// only when the limit is reached, the kernel tells (POLLRDHUP). Such a source keeps draining
// what its producer sent before leaving, but no longer holds a place: the producer that
// reconnects to send the missing number must get in, or the stream would stall for good.
std::size_t server::live_event_sources() const {
  return static_cast<std::size_t>(std::count_if(sources_.begin(), sources_.end(),
                                                [](event_source_session* s) { return !s->peer_has_left(); }));
}

bool server::admit_client() {
  if (stopping_) return false;  // the socket closes as it goes out of scope
  if (clients_.size() >= settings_.max_clients) {
    ++stats_.clients_rejected_limit;
    if (const auto suppressed = limit_warnings_.allow(std::chrono::steady_clock::now())) {
      spdlog::warn("refused a client connection: maxClients ({}) already connected{}", settings_.max_clients,
                   suppressed_note(*suppressed));
    }
    return false;
  }
  ++stats_.clients_accepted;
  return true;
}

void server::accept_client(tcp::socket socket) {
  if (!admit_client()) {
    reset_now(socket);  // told at once, nothing kept
    return;
  }
  if (settings_.client_tls) {
    std::make_shared<tls_client_session>(std::move(socket), *this, credentials_.tls)->start();
    return;
  }
  std::make_shared<tcp_client_session>(std::move(socket), *this)->start();
}

void server::accept_ws_client(tcp::socket socket) {
  if (!admit_client()) {
    reset_now(socket);
    return;
  }
  if (settings_.ws_tls) {
    std::make_shared<wss_client_session>(std::move(socket), *this, ws_settings_, credentials_.tls)->start();
    return;
  }
  std::make_shared<ws_client_session>(std::move(socket), *this, ws_settings_)->start();
}

void server::log_security() const {
  const auto transport = [this](bool tls) {
    return tls ? fmt::format("TLS {}+{}", settings_.tls_min_version,
                             settings_.tls_client_ca_file.empty() ? "" : ", client certificates required")
               : std::string("plain text");
  };
  spdlog::info("clients: {}, clientAuth {}{}", transport(settings_.client_tls),
               settings_.client_auth == client_auth_mode::jwt ? "jwt" : "none",
               ws_listener_ ? fmt::format("; WebSocket clients: {}", transport(settings_.ws_tls)) : std::string());
  const auto reachable = [](const tcp::endpoint& at) { return !at.address().is_loopback(); };
  if (settings_.client_auth == client_auth_mode::none &&
      (reachable(client_endpoint()) || (ws_listener_ && reachable(ws_endpoint())))) {
    spdlog::warn("clients are not authenticated (clientAuth none): anyone who can reach the client port may read any "
                 "user's notifications; see docs/security.md");
  }
}

void server::set_credentials(credentials fresh) {
  credentials_ = std::move(fresh);
  admin_token_ = credentials_.admin_token;
  if (auth_required() && auth_refusals_.empty()) {
    for (auto reason = token_refusal::malformed; reason <= token_refusal::user_mismatch;
         reason = static_cast<token_refusal>(static_cast<int>(reason) + 1)) {
      auth_refusals_.emplace_back(to_string(reason), 0);
    }
    auth_refusals_.emplace_back("missing_token", 0);
  }
}

auth_verdict server::authenticate(user_id user, std::string_view token, bool at_handshake) {
  const auto refused = [this, at_handshake](std::string_view reason) {
    for (auto& [name, count] : auth_refusals_) {
      if (name == reason && at_handshake) ++count;
    }
    return auth_verdict{false, reason, {}};
  };
  if (!auth_required()) return {};
  // Fails closed: under clientAuth jwt a daemon without its key (never given credentials)
  // lets nobody in.
  if (!credentials_.verifier) return refused("malformed");
  if (token.empty()) return refused("missing_token");
  const token_result result = credentials_.verifier->verify(token, std::chrono::system_clock::now());
  if (!result) return refused(to_string(result.error()));
  if (result->user != user) return refused(to_string(token_refusal::user_mismatch));
  return {true, {}, result->expires};
}

void server::pause_source(std::shared_ptr<event_source_session> source) { paused_.push_back(std::move(source)); }

void server::end_batch(bool input_idle) { end_batch(std::chrono::steady_clock::now(), input_idle); }

void server::end_batch(std::chrono::steady_clock::time_point now, bool input_idle) {
  input_busy_ = !input_idle;
  dispatcher_.commit_log();  // group commit: what this batch of input released goes to the disk
  dispatcher_.end_batch(now);
  flush_clients(now, input_idle);
  arm_gap_timer();  // after a skipped gap: the gap moved on (or a new one opened), watch that one
  resume_paused_sources();
}

// One write per waiting client per pass, when write_pacing says (a client that reaches
// clientWriteBatchBytes writes on its own meanwhile). A pass held back while the input is idle
// runs on the flush timer.
void server::flush_clients(std::chrono::steady_clock::time_point now, bool input_idle) {
  if (awaiting_flush_.empty()) {
    pacing_.nothing_waiting(now);
    return;
  }
  const write_pacing::decision verdict = pacing_.decide(now, input_idle);
  if (verdict.pass) {
    write_awaiting();
  } else if (verdict.due) {
    arm_flush_timer(*verdict.due);
  }
}

void server::write_awaiting() {
  const auto started = std::chrono::steady_clock::now();
  // A write never adds to the list nor ends a session on the spot (a failed one posts its close).
  for (client_session* client : awaiting_flush_) client->flush_awaited();
  awaiting_flush_.clear();
  pacing_.passed(started, std::chrono::steady_clock::now());
}

void server::arm_flush_timer(std::chrono::steady_clock::time_point due) {
  if (flush_timer_armed_ || stopping_) return;
  flush_timer_armed_ = true;
  flush_timer_.expires_at(due);
  flush_timer_.async_wait([this](const error_code& ec) {
    flush_timer_armed_ = false;
    if (ec || stopping_) return;
    flush_clients(std::chrono::steady_clock::now(), true);
  });
}

void server::resume_paused_sources() {
  if (paused_.empty() || dispatcher_.sequence().full() || dispatcher_.log_saturated() || stopping_) return;
  // Resumed from fresh handlers, never from inside another source's processing.
  for (auto& source : paused_) {
    asio::post(io_, [source = std::move(source)] { source->resume(); });
  }
  paused_.clear();
}

void server::arm_gap_timer() {
  if (gap_timer_armed_ || stopping_) return;
  const auto deadline = dispatcher_.gaps().deadline();
  if (!deadline) return;
  gap_timer_armed_ = true;
  gap_timer_.expires_at(*deadline);
  gap_timer_.async_wait([this](const error_code& ec) { on_gap_timer(ec); });
}

void server::on_gap_timer(const error_code& ec) {
  gap_timer_armed_ = false;
  if (ec || stopping_) return;
  const auto now = std::chrono::steady_clock::now();
  dispatcher_.skip_expired_gap(now);
  end_batch(now, true);  // what the skip released is written as after an idle read
}

void server::source_closed(event_source_session& source) { sources_.erase(&source); }

void server::client_closed(client_session& client) {
  clients_.erase(&client);
  if (client.awaiting_flush()) std::erase(awaiting_flush_, &client);
  // Always looked for: a wait that ended by its deadline may still be listed.
  if (!awaiting_applied_.empty()) std::erase(awaiting_applied_, &client);
  if (finishing_clients_ && clients_.empty()) finish_shutdown();
}

void server::shutdown(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  on_stopped_ = std::move(done);
  spdlog::info("shutting down: {} client connection(s) to flush within {} ms", clients_.size(),
               settings_.shutdown_timeout.count());
  if (event_listener_) event_listener_->stop();
  if (client_listener_) client_listener_->stop();
  if (ws_listener_) ws_listener_->stop();
  if (admin_listener_) admin_listener_->stop();
  for (auto* admin : std::vector<admin_session*>(admins_.begin(), admins_.end())) admin->close();
  gap_timer_.cancel();
  flush_timer_.cancel();  // finish_clients writes everything
  if (edge_) edge_->stop();  // nothing more from the stream; what the log holds is applied below
  // Everything already in order has been routed; events still waiting on a gap cannot be.
  for (auto* source : std::vector<event_source_session*>(sources_.begin(), sources_.end())) source->stop();
  paused_.clear();
  const auto deadline = std::chrono::steady_clock::now() + settings_.shutdown_timeout;
  shutdown_timer_.expires_at(deadline);
  shutdown_timer_.async_wait([this](const error_code& ec) {
    if (ec || !on_stopped_) return;
    spdlog::warn("shutdown deadline passed: closing {} client connection(s) with data still queued", clients_.size());
    close_all_now();
  });
  // What the log still writes is applied (and routed) first; then the clients are flushed.
  if (log_) {
    log_->shutdown(deadline, [this] { finish_clients(); });
  } else {
    finish_clients();
  }
}

void server::finish_clients() {
  finishing_clients_ = true;
  if (!awaiting_flush_.empty()) write_awaiting();
  if (clients_.empty()) {
    asio::post(io_, [this] { finish_shutdown(); });
    return;
  }
  for (auto* client : std::vector<client_session*>(clients_.begin(), clients_.end())) client->finish();
}

void server::close_all_now() {
  if (!stopping_) return;
  // Closing cancels their pending operations; the sessions then end in their own handlers,
  // so io_context::run() returns with no session outliving the server.
  for (auto* client : std::vector<client_session*>(clients_.begin(), clients_.end())) client->close();
  finish_shutdown();
}

void server::finish_shutdown() {
  if (!on_stopped_) return;
  shutdown_timer_.cancel();
  auto done = std::move(on_stopped_);
  on_stopped_ = nullptr;
  done();
}

server_snapshot server::snapshot() const {
  const auto& seq = dispatcher_.sequence();
  const auto& routes = dispatcher_.routes();
  server_snapshot s;
  s.stats = stats_;
  s.transport = transport_stats_;
  s.next_expected = seq.next_expected();
  s.head = seq.head();
  s.pending_events = seq.pending();
  s.max_pending_events = seq.max_pending();
  const auto now = std::chrono::steady_clock::now();
  if (const auto since = dispatcher_.gaps().since()) {
    s.oldest_gap_age = std::chrono::duration_cast<std::chrono::milliseconds>(now - *since);
  }
  s.connected_users = routes.connected_users();
  s.client_connections = clients_.size();
  s.event_sources = sources_.size();
  s.follow_edges = routes.graph().edge_count();
  if (spill_) {
    s.spill_bytes = spill_->in_use();
    s.spill_budget_bytes = spill_->budget();
  }
  for (const auto* client : clients_) {
    s.queued_bytes += client->queued_bytes();
    if (client->transport() == "ws" || client->transport() == "wss") ++s.ws_connections;
  }
  const sequence_number processed_head = dispatcher_.applied().seq;
  // The ten most behind, described; the rest only compared (a scrape with 20,000 clients).
  std::vector<std::pair<std::uint64_t, const client_session*>> behind;
  for (const auto* client : clients_) {
    if (!client->registered()) continue;
    if (client->awaiting_applied()) ++s.resumes_waiting;
    const std::uint64_t lag = client->behind(processed_head);
    behind.emplace_back(lag, client);
    if (client->catching_up()) {
      ++s.clients_catching_up;
      s.catch_up_lag_max = std::max(s.catch_up_lag_max, lag);
    }
  }
  constexpr std::size_t most_behind_shown = 10;
  const auto shown = static_cast<std::ptrdiff_t>(std::min(behind.size(), most_behind_shown));
  std::partial_sort(behind.begin(), behind.begin() + shown, behind.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  for (auto it = behind.begin(); it != behind.begin() + shown; ++it) s.most_behind.push_back(it->second->info(processed_head));
  s.auth_refusals = auth_refusals_;
  s.admin_made_way = admin_made_way_;
  s.admin_refused_limit = admin_refused_limit_;
  s.uptime_seconds = std::chrono::duration<double>(now - started_).count();
  s.log_lines_dropped = diagnostic_lines_dropped();
  if (log_) {
    s.log = log_->status();
  } else {
    const log_position applied = dispatcher_.applied();
    s.log.epoch = applied.epoch;
    s.log.durable_seq = applied.seq;
  }
  if (edge_) s.edge = edge_->status();
  s.recent_warnings = recent_warnings();
  s.ready = readiness_problem().empty();
  const fd_usage fds = current_fd_usage();
  s.open_fds = fds.open;
  s.max_fds = fds.limit;
  return s;
}

std::string server::readiness_problem() const {
  if (stopping_) return "shutting down";
  if (log_) {
    if (auto problem = log_->problem(); !problem.empty()) return problem;
  }
  if ((!event_listener_ && !edge_) || (serves_clients() && !client_listener_)) return "not listening";
  if (edge_ && !edge_->stopped_because().empty()) {
    return "edge stopped following the stream: " + edge_->stopped_because();
  }
  // Before any event source has connected there is no stream to be stalled.
  if (stats_.sources_accepted == 0) return {};
  if (const auto since = dispatcher_.gaps().since()) {
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *since);
    if (age > settings_.ready_max_gap_age) {
      return fmt::format("stalled {} ms waiting for sequence number {} ({} events held back)", age.count(),
                         dispatcher_.gaps().missing(), dispatcher_.sequence().pending());
    }
  }
  return {};
}

bool server::connz_slice(connz_build& build, std::size_t max_connections) const {
  const connz_query& query = build.query;
  if (build.body.empty()) build.body = "{\n  \"connections\": [";
  // The matching connections not looked at yet, oldest (lowest serial) first. A scan of every
  // connection per slice: pointers and two numbers each, far cheaper than describing one.
  std::vector<const client_session*> rest;
  for (const auto* client : clients_) {
    if (client->serial() <= build.after) continue;
    if (!query.user || (client->registered() && client->user() == *query.user)) rest.push_back(client);
  }
  const auto by_serial = [](const client_session* a, const client_session* b) { return a->serial() < b->serial(); };
  const std::size_t wanted = query.limit - build.listed;
  const std::size_t to_skip = query.offset > build.passed ? query.offset - build.passed : 0;
  // Saturating: an offset near 2^64 must not wrap round to a slice that takes nothing.
  constexpr std::size_t most = std::numeric_limits<std::size_t>::max();
  const std::size_t needed = to_skip > most - wanted ? most : to_skip + wanted;
  const std::size_t take = std::min(rest.size(), std::min(std::max<std::size_t>(max_connections, 1), needed));
  std::partial_sort(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(take), rest.end(), by_serial);
  const sequence_number processed_head = dispatcher_.applied().seq;
  for (std::size_t i = 0; i < take; ++i) {
    if (build.passed++ >= query.offset) {
      render_connz_connection(build.body, rest[i]->info(processed_head), build.listed == 0);
      ++build.listed;
    }
    build.after = rest[i]->serial();
  }
  if (take != 0 && take < rest.size() && build.listed < query.limit) return false;  // more: the next slice
  const std::optional<edge_status> edge = edge_ ? std::optional(edge_->status()) : std::nullopt;
  render_connz_tail(build.body, build.listed, build.passed + (rest.size() - take), query.offset, processed_head,
                    edge ? &*edge : nullptr);
  return true;
}

void server::log_totals() const {
  const auto& s = stats_;
  const auto& t = transport_stats_;
  spdlog::info(
      "totals: events processed {} (pending {}, next expected {}), notifications delivered {}, dropped: offline {}, "
      "closing {}; rejected lines: no sequence {}, bad body {}, duplicate {}, stale {}, overlong {}, unterminated {}, "
      "too far ahead {}; "
      "gaps skipped {} ({} sequence numbers); clients accepted {}, registered {}, refused over limit {}, "
      "handshake failures {}, cut off slow {}, peer closed {}; bytes in {}, out {} in {} writes{}{}",
      s.events_processed, dispatcher_.sequence().pending(), dispatcher_.sequence().next_expected(),
      s.notifications_delivered, s.notifications_dropped_offline, s.notifications_dropped_closing,
      s.rejected_no_sequence, s.rejected_bad_body, s.rejected_duplicate, s.rejected_stale, s.rejected_overlong,
      s.rejected_unterminated, s.rejected_too_far, s.gaps_skipped, s.sequence_numbers_skipped, s.clients_accepted, s.clients_registered,
      s.clients_rejected_limit, s.handshake_timeouts + s.handshake_bad_id + s.handshake_overlong + s.handshake_peer_closed,
      s.clients_disconnected_slow, s.clients_disconnected_peer, s.bytes_in, s.bytes_out, s.client_writes,
      (settings_.client_tls || settings_.ws_tls || auth_required())
          ? fmt::format("; TLS handshakes failed {}; tokens refused {}, refreshed {}, expired {}",
                        t.tls.handshake_failures, t.tokens.refused_at_handshake + t.tokens.disconnected_refused,
                        t.tokens.refreshes, t.tokens.disconnected_expired)
          : std::string(),
      ws_listener_ ? fmt::format("; WebSocket upgrades {}, refused {}, pong timeouts {}, protocol errors {}",
                                 t.ws.upgrades, t.ws.upgrades_refused(), t.ws.pong_timeouts, t.ws.protocol_errors)
                   : std::string());
}

}  // namespace eventserver
