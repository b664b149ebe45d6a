#pragma once
// Every client connection of the run, served by one epoll thread.
//
// Verified connections read into one shared 256 KiB buffer and each line is checked in place
// against the bytes of the event line the source wrote (with "\r\n"), byte for byte, through
// a reference into the source's chunk (see expectation_channel). Only a partial line (or, briefly, lines whose expectations are not yet published) is
// carried over per connection. Nothing is allocated per line (the copies below go into buffers
// that grow to the backlog and are reused).
//
// Chaos connections: stuck readers register and are never read until the end, when the
// harness drains them to see whether the daemon cut them off (with --chaos-stuck-timeout, only
// once each one's deadline has passed: reading would unstick it); bad clients send a bad
// handshake (or none) and must receive nothing at all.
//
// Verified connections that may fall far behind (slow readers, clients that drop and resume)
// hold copies of their expectations instead (owned_expectations), so they pin none of the
// source's chunks. Slow readers are not in the epoll set: a tick every 2 ms reads each as much
// as its read_pacer allows. A connection that resumes (chaos drops; with --survive-restarts,
// any connection the daemon breaks) goes through a small state machine, all in this thread:
// a non-blocking connect, retried until its deadline; the handshake `<user>|<last>[|<epoch>]`
// with the sequence number of the last notification it verified; then the `resumed` line,
// checked, before the notifications after <last> go on being checked from the same queue.
//
// Transports (--ws-clients, --tls): a connection's set-up runs as steps that never block, the
// same for the first connection (driven by poll() in connect_all) and for a resume (driven by
// the epoll loop): the TCP connect, the TLS handshake, the greeting (the id line, or the
// WebSocket upgrade request), and for a WebSocket the 101 response. A WebSocket client's frames
// are turned back into the line protocol's bytes (websocket.hpp) and checked by the same code
// against the same expectations; its pings are answered, a close frame from the daemon is a
// broken connection. Tokens (--jwt-secret-file) ride in the greeting, and a fresh one is sent
// at 2/3 of a token's life. Bad-token connections (--chaos-bad-tokens) are checked like bad
// clients: closed by the daemon, never sent a notification.

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "followermaze/expectation_channel.hpp"
#include "followermaze/expectation_model.hpp"
#include "followermaze/jwt.hpp"
#include "followermaze/latency_histogram.hpp"
#include "followermaze/options.hpp"
#include "followermaze/owned_expectations.hpp"
#include "followermaze/prng.hpp"
#include "followermaze/run_state.hpp"
#include "followermaze/tls.hpp"
#include "followermaze/websocket.hpp"

namespace followermaze {

enum class bad_client_kind : std::uint8_t {
  not_a_number,   // "abc"
  negative,       // "-42"
  trailing_junk,  // "12x": must not register user 12
  overflow,       // 2^64 and more
  empty_line,     // ""
  overlong,       // 4096 digits and no end of line: past the id line limit
  silent,         // sends nothing; the daemon's handshake timeout must close it
};
inline constexpr std::uint8_t bad_client_kind_count = 7;

std::string_view to_string(bad_client_kind kind) noexcept;
// The bytes a bad client of that kind sends after connecting.
std::string bad_client_greeting(bad_client_kind kind);

// The sequence numbers (1..total_events) past which one chaos-reconnect client drops its
// connection: `times` seeded draws, sorted.
std::vector<std::uint64_t> drop_points(std::uint64_t total_events, std::uint32_t times, prng& rng);

struct client_report {
  std::uint64_t end_ns = 0;  // when the last notification expected by a connection other than a slow reader was verified
  std::uint64_t verified = 0;
  latency_histogram latency;  // nanoseconds; steady connections (all of them but the slow and the chaos-reconnect ones)

  std::uint32_t stuck_readers = 0;
  std::uint32_t stuck_cut_off = 0;         // EOF or reset once drained
  std::uint64_t stuck_bytes_received = 0;  // what they had been sent before the cut
  // --chaos-stuck-timeout (nonzero): the rule checked reader by reader (see check_chaos_outcome).
  bool stuck_timeout_rule = false;
  std::uint64_t stuck_slack_ns = 0;         // allowed beyond the timeout (stuck_reader_slack_ns)
  std::uint64_t stuck_waited_ns = 0;        // how long the run waited for them after the stream
  std::uint32_t stuck_closed_before_wait = 0;  // seen closed at its first look (a reset, or /proc/net/tcp)
  std::uint32_t stuck_seen_closed = 0;         // ... seen closing while it waited
  std::uint64_t stuck_latest_close_ns = 0;     // the most time from one of those's last message to its close
  std::uint32_t stuck_unproven = 0;         // still connected, sent too little to be sure their socket filled
  std::uint32_t bad_clients_by_kind[bad_client_kind_count] = {};
  std::uint32_t bad_clients_closed_by_kind[bad_client_kind_count] = {};

  // --chaos-slow-readers.
  std::uint32_t slow_readers = 0;
  std::uint64_t slow_end_ns = 0;          // when the last slow reader had verified everything
  std::uint64_t slow_verified = 0;
  std::uint64_t slow_peak_lag_bytes = 0;  // most notification bytes one of them was behind
  latency_histogram slow_latency;

  // --chaos-client-reconnect and --survive-restarts.
  std::uint32_t reconnect_clients = 0;
  std::uint64_t chaos_drops = 0;       // connections dropped on purpose
  std::uint64_t broken = 0;            // connections the daemon broke (survive-restarts)
  std::uint64_t resumes = 0;           // `resumed|...|complete` received and checked
  std::uint64_t resumes_with_epoch = 0;
  std::uint64_t awaited_epoch = 0;     // resumed into an older stream, then waited for this run's
  std::uint64_t skipped_lines = 0;     // lines of an older stream skipped while waiting
  latency_histogram reconnect_latency;  // the chaos-reconnect connections

  // --ws-clients: how many of each group speak WebSocket; the steady ones' latency apart.
  std::uint32_t ws_clients = 0;
  std::uint32_t ws_slow = 0;
  std::uint32_t ws_reconnecting = 0;
  latency_histogram ws_latency;
  std::uint64_t ws_frames = 0;
  std::uint64_t ws_messages = 0;
  std::uint64_t ws_fragmented = 0;    // messages in more than one frame
  std::uint64_t ws_pings = 0;         // answered with a pong
  std::uint64_t ws_closes = 0;        // close frames from the daemon (broken connections)
  std::uint64_t ws_upgrades = 0;      // 101 responses checked

  // --tls.
  std::uint64_t tls_handshakes = 0;
  std::string tls_description;        // protocol and cipher of the first handshake

  // --jwt-secret-file.
  std::uint64_t tokens_signed = 0;
  std::uint64_t token_refreshes = 0;  // fresh tokens sent on live connections

  // --chaos-bad-tokens.
  std::uint32_t bad_tokens_by_kind[bad_token_kind_count] = {};
  std::uint32_t bad_tokens_closed_by_kind[bad_token_kind_count] = {};
  std::uint32_t bad_tokens_ws = 0;            // sent in a WebSocket upgrade instead of a handshake line
  std::uint32_t bad_tokens_http_refused = 0;  // ... answered with an HTTP error status
  std::uint32_t bad_tokens_ws_closed = 0;     // ... upgraded, then closed with 1008
};

class client_pool {
 public:
  client_pool(const options& opts, const expectation_model& model, expectation_channel& channel, run_state& state,
              user_id first_stuck_user);
  ~client_pool();
  client_pool(const client_pool&) = delete;
  client_pool& operator=(const client_pool&) = delete;

  // Set-up, before the source starts: connects every connection and sends its id line.
  // Returns an error message, empty on success.
  std::string connect_all();
  std::size_t connection_count() const noexcept { return connections_.size(); }

  // The thread body: verify until everything expected has arrived and the quiet period
  // passed, or until the first failure; then the chaos checks.
  void run();

  const client_report& report() const noexcept { return report_; }

 private:
  enum class role : std::uint8_t { verified, stuck, bad, bad_token };
  // Which latency a verified connection's lines count in.
  enum class group : std::uint8_t { steady, slow, reconnecting };
  static constexpr std::size_t group_count = 3;
  // Where a verified connection stands with the daemon.
  enum class phase : std::uint8_t {
    live,            // every line is a notification
    waiting,         // dropped; connects again at retry_at_ns
    connecting,      // a non-blocking connect is under way
    securing,        // the TLS handshake is under way
    upgrading,       // WebSocket: the upgrade request sent, its response awaited
    resuming,        // resume handshake sent: the first line must be `resumed|...`
    awaiting_epoch,  // the daemon has not (re)started this run's stream: skip lines up to `epoch|<epoch>`
  };

  // How far a set-up step got (advance_setup).
  enum class setup_step : std::uint8_t {
    done,           // set up: the connection is live (or resuming)
    wait_readable,  // call again once the socket is readable
    wait_writable,  // ... writable
    broken,         // the connection failed: a resume tries again
    refused,        // the daemon refused it (certificate, upgrade): no point in trying again
  };

  struct connection {
    int fd = -1;
    user_id user = 0;
    role kind = role::verified;
    group member = group::steady;
    phase state = phase::live;
    bool detached = false;  // expectations copied (owned_expectations), not referenced
    bool in_epoll = false;
    std::uint32_t watched = 0;  // the epoll events registered
    bad_client_kind bad = bad_client_kind::silent;
    bad_token_kind bad_token = bad_token_kind::garbage;

    // Transport.
    bool websocket = false;
    std::uint32_t port_slot = 0;  // which of --clientPorts / --wsPorts: advances on every reconnect
    bool token_in_header = false;  // WebSocket: Authorization: Bearer rather than ?token=
    tls_session tls;
    bool read_wants_write = false;  // TLS: a read goes on once the socket is writable
    bool again = false;             // in again_: TLS holds decrypted bytes the socket no longer signals
    phase after_setup = phase::live;  // live for the first connection, resuming for the others
    std::uint32_t setup_wait = 0;     // while securing/upgrading: the epoll events awaited
    std::string outbox;     // bytes for the daemon: greeting, upgrade request, pongs, close, fresh tokens
    std::string upgrade;    // WebSocket: the response so far, while upgrading
    std::string ws_key;
    ws_frame_reader frames;
    bool close_answered = false;
    std::int64_t token_refresh_at_s = 0;  // 0: no token to refresh
    // Bad tokens over WebSocket: what the refusal looked like.
    bool upgrade_seen = false;
    bool upgraded = false;
    connection_index index = 0;  // verified: the model's / channel's index
    std::uint64_t connected_ns = 0;
    std::vector<expectation> queue;  // drained from the channel; checked from `head`
    std::size_t head = 0;
    owned_expectations copies;       // instead of `queue` when detached
    std::vector<char> carry;  // bytes not yet checked: a partial line, or lines awaiting expectations
    std::uint64_t carry_received_ns = 0;
    std::uint64_t verified = 0;
    std::uint64_t last_progress_ns = 0;
    bool stalled = false;  // complete lines in `carry` wait for their expectations
    bool closed = false;

    // Resuming.
    std::uint64_t last_seq = 0;  // of the last notification verified
    std::uint64_t retry_at_ns = 0;
    std::uint64_t deadline_ns = 0;  // to be live again by
    std::uint32_t attempts = 0;     // resume handshakes sent
    std::string handshake;          // the last one, for messages (token elided)
    bool with_epoch = false;        // the last one named the epoch
    std::vector<std::uint64_t> drops;  // chaos: drop once last_seq reaches drops[next_drop]
    std::size_t next_drop = 0;
    bool drop_now = false;
    bool listed = false;  // in resuming_

    // Slow readers.
    read_pacer pacer{1.0};
    std::uint64_t read_bytes = 0;      // received while live
    std::uint64_t verified_bytes = 0;
  };

  void on_readable(connection& c, std::uint64_t now, std::size_t max_bytes);
  void on_event(connection& c, std::uint32_t events, std::uint64_t now);
  void on_broken(connection& c, std::uint64_t now, const std::string& why);
  void on_bad_readable(connection& c);
  // A bad token's WebSocket: its refusal (an HTTP error, or a 101 and a 1008 close); false when
  // the run failed.
  bool on_refusal_bytes(connection& c, const char* data, std::size_t size);
  // Checks the complete lines of data[0, size); keeps the rest in c.carry.
  void process(connection& c, const char* data, std::size_t size, std::uint64_t received_ns);
  // A line while the connection is not live; false when the run failed.
  bool on_status_line(connection& c, std::string_view line, std::uint64_t now);
  bool next_expectation(connection& c);
  void drain_expectations();
  void check_timeouts(std::uint64_t now);
  void check_chaos_outcome();
  // --chaos-stuck-timeout: waits (without reading them) until every stuck reader's deadline has
  // passed or its end is seen closed; then, after the drain, fails naming those still connected.
  void await_stuck_cut_off();
  bool judge_stuck_readers();
  void drain_stuck_readers();
  std::string describe(const connection& c) const;
  // The daemon port `c` connects to now (--clientPorts / --wsPorts spread them).
  std::uint16_t port_of(const connection& c) const;
  static std::string handshake_text(const connection& c);

  // Set-up (see the top of this file).
  void begin_setup(connection& c, phase after);
  setup_step advance_setup(connection& c, std::string& error);
  void continue_setup(connection& c, std::uint64_t now);
  void on_setup_done(connection& c, std::uint64_t now);
  // connect_all's: drives advance_setup with poll() until done; the error, empty on success.
  std::string establish(connection& c);
  std::string greeting(connection& c, bool resume);
  std::string fresh_token(user_id user);
  void refresh_tokens();
  // Writes what the outbox holds as far as the socket takes it; false with `error` when the
  // connection failed.
  bool flush_outbox(connection& c, std::string& error);
  // Decodes a WebSocket's bytes into `lines`, answers its pings; false on a protocol violation.
  bool ws_ingest(connection& c, const char* data, std::size_t size, std::vector<char>& lines);
  void count_frames(connection& c);
  void close_socket(connection& c);
  std::uint32_t wanted_events(const connection& c) const noexcept;
  void update_watch(connection& c);
  void read_again(connection& c);

  // Resuming.
  bool may_resume_on_break() const noexcept { return opts_.survive_restarts; }
  void drop(connection& c, std::uint64_t now, std::uint64_t delay_ns);
  void try_connect(connection& c, std::uint64_t now);
  void on_connect_ready(connection& c, std::uint64_t now);
  void retry_later(connection& c, std::uint64_t now, const std::string& why);
  void service_reconnects(std::uint64_t now);
  void watch(connection& c, std::uint32_t events);  // events 0: unwatch
  void unwatch(connection& c);
  std::uint64_t run_epoch() const noexcept;

  // Slow readers.
  void pace_slow_readers(std::uint64_t now);

  const options& opts_;
  const expectation_model& model_;
  expectation_channel& channel_;
  run_state& state_;
  user_id first_stuck_user_;
  std::vector<connection> connections_;
  std::vector<char> scratch_;
  std::vector<connection*> by_index_;  // verified connections by their model index
  std::vector<connection*> stalled_;   // connections with `stalled` set, each once
  std::vector<connection*> retrying_;
  std::vector<connection*> slow_;      // slow readers, paced by the tick
  std::vector<connection*> resuming_;  // connections not live, each once
  std::vector<connection*> again_;     // TLS connections to read without waiting for epoll
  std::vector<connection*> again_now_;
  tls_context tls_;
  jwt_settings jwt_;
  bool jwt_on_ = false;
  std::string ws_host_;  // the Host header
  sockaddr_in ws_address_{};
  std::vector<char> ws_raw_;    // a WebSocket read, before decoding
  std::vector<char> ws_lines_;  // ... after: carried bytes plus the lines of its text messages
  std::vector<ws_frame_reader::control> ws_controls_;
  int epoll_fd_ = -1;
  sockaddr_in address_{};
  prng rng_;  // drop points and reconnect delays
  std::uint64_t verified_total_ = 0;
  std::uint64_t settled_ = 0;  // see run_state::notifications_settled
  std::uint64_t published_by_group_[group_count] = {};
  std::uint64_t verified_by_group_[group_count] = {};
  std::uint64_t stream_start_ns_ = 0;  // the first expectation drained
  std::uint64_t stream_end_ns_ = 0;    // the channel seen closed
  std::uint64_t known_epoch_ = 0;      // from a `resumed` line, when the source never learnt one
  client_report report_;
};

}  // namespace followermaze
