#pragma once
// Wires the daemon together on one io_context: the listeners (event sources, TCP and
// WebSocket clients, admin), the sessions they start, the dispatcher that owns the sequencer,
// the follower graph and the routing, and the timers for the gap timeout and the shutdown
// deadline. Everything runs on the io_context's single
// thread, so no state here is locked.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

#include "eventserver/admin/admin_hub.hpp"
#include "eventserver/admin/admin_views.hpp"
#include "eventserver/app/config.hpp"
#include "eventserver/app/durable_log.hpp"
#include "eventserver/app/edge_intake.hpp"
#include "eventserver/core/counters.hpp"
#include "eventserver/core/dispatcher.hpp"
#include "eventserver/core/warning_limiter.hpp"
#include "eventserver/core/write_pacing.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/session_hub.hpp"
#include "eventserver/storage/spill_files.hpp"
#include "eventserver/app/credentials.hpp"
#include "eventserver/ws/ws_settings.hpp"

namespace eventserver {

class listener;
class event_source_session;
class client_session;
class admin_session;

class server final : public source_hub, public client_hub, public admin_hub {
 public:
  server(asio::io_context& io, config settings);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listeners and starts accepting (with an event log, sources and clients once it
  // is recovered). Throws std::runtime_error when a listener cannot be bound (the message
  // names it), config_error when dataDir is missing or not writable.
  void start();
  // With an event log: still recovering it (sources and clients wait in the listen backlog).
  bool recovering() const noexcept { return log_ && log_->recovering(); }
  // Called when the daemon cannot go on (the event log cannot be recovered); exit_code() says
  // how the process should end.
  void on_fatal(std::function<void()> f) { on_fatal_ = std::move(f); }
  int exit_code() const noexcept { return exit_code_; }
  // The exit code of an ingest fenced by another publisher of its stream (docs/cluster.md).
  static constexpr int exit_fenced = 3;

  // Graceful stop: no new connections, no more reading from event sources, client queues
  // flushed within shutdownTimeoutMs. `done` runs once, when the last client is gone or the
  // deadline has passed.
  void shutdown(std::function<void()> done);
  // During a shutdown: stop waiting for client queues to drain (a second signal).
  void close_all_now();
  bool stopping() const noexcept override { return stopping_; }

  tcp::endpoint event_endpoint() const;
  tcp::endpoint client_endpoint() const;  // unspecified for an ingest (it serves no clients)
  tcp::endpoint admin_endpoint() const;  // unspecified when the admin listener is disabled
  tcp::endpoint ws_endpoint() const;     // unspecified when the WebSocket listener is disabled
  const config& settings() const noexcept { return settings_; }
  const counters& stats() const noexcept { return stats_; }
  const transport_counters& transport_stats() const noexcept { return transport_stats_; }
  const dispatcher& dispatch() const noexcept { return dispatcher_; }
  std::size_t client_connections() const noexcept { return clients_.size(); }
  std::size_t event_sources() const noexcept { return sources_.size(); }
  void log_totals() const;

  // --- admin_hub: what the admin endpoints report -------------------------------------------
  server_snapshot snapshot() const override;
  // Empty when ready; otherwise why not (shutting down, stalled on a gap).
  std::string readiness_problem() const override;
  bool connz_slice(connz_build& build, std::size_t max_connections) const override;
  void admin_opened(admin_session& session) override { admins_.insert(&session); }
  void admin_closed(admin_session& session) override { admins_.erase(&session); }
  const std::string& admin_token() const override { return admin_token_; }
  std::uint64_t& admin_unauthorized() override { return admin_unauthorized_; }
  std::uint64_t& admin_first_request_timeouts() override { return admin_first_request_timeouts_; }

  // --- source_hub ------------------------------------------------------------------------------
  std::size_t max_line_bytes() const override { return settings_.max_line_bytes; }
  counters& stats() override { return stats_; }
  source_input input() noexcept override { return source_input(dispatcher_); }
  void source_opened(event_source_session& source) override { sources_.insert(&source); }
  void source_closed(event_source_session& source) override;
  void pause_source(std::shared_ptr<event_source_session> source) override;
  // Client writes, gap timer, resuming paused sources. With `input_idle` nothing is gained
  // by holding notifications back.
  void end_batch(bool input_idle) override;
  bool input_blocked() override;
  void want_durable(event_source_session& source) override;
  bool lone_source(const event_source_session& source) override;
  void stream_began() override { tell_sources_durable(); }

  // --- client_hub ------------------------------------------------------------------------------
  const client_limits& limits() const override { return client_limits_; }
  transport_counters& transport_stats() override { return transport_stats_; }
  void client_opened(client_session& client) override { clients_.insert(&client); }
  void client_closed(client_session& client) override;
  void connect(user_id user, recipient& connection) override { dispatcher_.routes().connect(user, connection); }
  void disconnect(user_id user, recipient& connection) override { dispatcher_.routes().disconnect(user, connection); }
  // The next flush pass writes `client` (see flush_clients). A client is on the list at most once.
  void await_flush(client_session& client) override { awaiting_flush_.push_back(&client); }
  std::chrono::steady_clock::time_point applying_arrival() const override { return dispatcher_.applying_arrival(); }
  warning_limiter& handshake_warnings() override { return handshake_warnings_; }
  warning_limiter& slow_client_warnings() override { return slow_client_warnings_; }
  bool auth_required() const override { return settings_.client_auth == client_auth_mode::jwt; }
  auth_verdict authenticate(user_id user, std::string_view token, bool at_handshake) override;

  // The TLS context, the token verifier and the admin token (app/credentials.hpp): before
  // start(), and again after a SIGHUP reload. Connections keep what they started with.
  void set_credentials(credentials fresh);
  asio::any_io_executor executor() override { return io_.get_executor(); }
  history_source* history() override;
  spill_store* spill() override;
  log_position applied() const override;
  std::span<const user_id> following(user_id user) const override;
  std::optional<std::vector<user_id>> following_after(user_id user, sequence_number after) const override;
  void await_applied(client_session& client) override { awaiting_applied_.push_back(&client); }

 private:
  void accept_event_source(tcp::socket socket);
  void accept_client(tcp::socket socket);
  void open_spill();
  void accept_ws_client(tcp::socket socket);
  // maxClients and shutdown, for TCP and WebSocket clients alike; counts the accepted one.
  bool admit_client();
  void accept_admin(tcp::socket socket);
  // The clients' transport and authentication, and a warning when anyone may read anything.
  void log_security() const;
  // False for an ingest: no client, WebSocket or TLS client listener.
  bool serves_clients() const noexcept { return settings_.cluster_role != cluster_role_kind::ingest; }
  void arm_gap_timer();
  void on_gap_timer(const error_code& ec);
  void resume_paused_sources();
  void end_batch(std::chrono::steady_clock::time_point now, bool input_idle);
  void flush_clients(std::chrono::steady_clock::time_point now, bool input_idle);
  void write_awaiting();  // the pass itself: every client on awaiting_flush_ writes
  void arm_flush_timer(std::chrono::steady_clock::time_point due);
  void finish_shutdown();
  void finish_clients();
  void take_connections();
  durable_log::hooks log_hooks();
  void tell_sources_durable();
  // Events were applied: sessions waiting for the stream to move look again.
  void wake_awaiting_applied();

  asio::io_context& io_;
  config settings_;
  client_limits client_limits_;
  std::string admin_token_;  // from adminTokenFile; empty: the admin port asks for none
  credentials credentials_;
  // Handshake refusals by reason (auth's token_refusal names, then missing_token).
  std::vector<std::pair<std::string_view, std::uint64_t>> auth_refusals_;
  std::uint64_t admin_unauthorized_ = 0;  // admin requests refused for their token
  std::uint64_t admin_first_request_timeouts_ = 0;
  std::uint64_t admin_made_way_ = 0;       // unauthenticated admin connections closed for a newcomer
  std::uint64_t admin_refused_limit_ = 0;  // newcomers refused: every admin connection had authenticated
  counters stats_;
  transport_counters transport_stats_;  // TLS, tokens, WebSocket: the transports' own
  dispatcher dispatcher_;
  std::shared_ptr<listener> event_listener_;
  std::shared_ptr<listener> client_listener_;
  std::shared_ptr<listener> admin_listener_;
  std::shared_ptr<listener> ws_listener_;  // with wsListenerPort
  ws_settings ws_settings_;                // outlives every WebSocket session
  // Sessions own themselves (shared_from_this in their handlers); these are back-pointers
  // that each session removes in its destructor.
  std::size_t live_event_sources() const;

  std::unordered_set<event_source_session*> sources_;
  std::unordered_set<client_session*> clients_;
  std::unordered_set<admin_session*> admins_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<event_source_session>> paused_;
  // Write coalescing. awaiting_flush_ holds each client with notifications queued since its
  // last write (a session removes itself in its destructor); pacing_ says when they write.
  std::vector<client_session*> awaiting_flush_;
  // Resumes waiting for a position not applied yet (an edge behind the stream); a session
  // removes itself in its destructor.
  std::vector<client_session*> awaiting_applied_;
  write_pacing pacing_;
  asio::steady_timer flush_timer_;  // a pass held back while the input is idle
  bool flush_timer_armed_ = false;
  asio::steady_timer gap_timer_;
  bool gap_timer_armed_ = false;
  asio::steady_timer shutdown_timer_;
  std::function<void()> on_stopped_;
  std::function<void()> on_fatal_;
  int exit_code_ = 0;
  bool stopping_ = false;
  bool finishing_clients_ = false;
  bool input_busy_ = false;  // the last batch of input left more to read (see flush_clients)
  warning_limiter limit_warnings_;
  warning_limiter handshake_warnings_;
  warning_limiter slow_client_warnings_;
  // It refers to the dispatcher and the settings, and its writing thread stops late.
  std::unique_ptr<durable_log> log_;  // with a dataDir
  std::unique_ptr<storage::spill_files> spill_;  // clientSpillBytes, made at start()
  // Last (its reading thread stops first): cluster.role edge, the stream's batches into the log.
  std::unique_ptr<edge_intake> edge_;
};

}  // namespace eventserver
