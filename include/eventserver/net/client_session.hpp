#pragma once
// One client connection, whatever carries it (line_client_session.hpp: TCP and TLS;
// ws/ws_client_session.hpp: WebSocket): its registration, its queue of notifications, live
// delivery and catch-up from history, and the bounds on all of it. What is decided without
// I/O (the queue and its bound, the cursor, the resume, the switch between live and catch-up)
// is core/client_stream.hpp's, unit-tested without sockets; this class does the I/O it asks for.
//
// Live: the router delivers each notification (deliver()); it is appended to `queue_` and one
// write sends everything queued since the previous one. The server's flush pass decides when
// (after a batch of events; under sustained load only every clientWriteDelayMs), and a queue
// that reaches clientWriteBatchBytes is written at once: one syscall per batch of bytes.
//
// Catch-up: a client whose queue would pass maxClientQueueBytes even after a write is not
// cut off (when there is history): it stops taking live notifications and reads its own from
// history, from the first one it missed, at the pace its socket takes them; once it has
// reached what the daemon applied it takes the live stream again, with no gap and nothing
// twice. A client that resumes (<user>|<last>) starts in catch-up after <last>. Without
// history, a client over its bound is cut off, as before.
//
// Stuck: a client that takes no byte for clientWriteTimeoutMs while a write waits for its
// socket is disconnected. "Takes" means its TCP acknowledged bytes (tcp_progress.hpp), read
// when the timer fires, whatever the transport: a reader that drains its socket slowly keeps
// the kernel's count moving although the socket may stay unwritable for long.
//
// Bound: the bytes queued and not yet taken by the transport never exceed maxClientQueueBytes;
// a history read asks for no more than the room left. The kernel's share is bounded by the
// socket's send buffer (clientSendBufferBytes, set by prepare_socket()). A client cut off for
// a policy (stuck, slow, out of history) is reset: its buffers are freed at once, and it
// learns of it (ECONNRESET) even if it reads nothing.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/core/client_stream.hpp"
#include "eventserver/core/history.hpp"
#include "eventserver/core/registration.hpp"
#include "eventserver/core/router.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/connection_info.hpp"
#include "eventserver/net/session_hub.hpp"

namespace eventserver {

class client_session : public recipient, public std::enable_shared_from_this<client_session> {
 public:
  virtual ~client_session();
  client_session(const client_session&) = delete;
  client_session& operator=(const client_session&) = delete;

  virtual void start() = 0;
  void deliver(sequence_number seq, line_ref notification) override;
  void begin_stream(stream_epoch epoch) override;
  // The server's flush pass: write what is queued (the session is off the pass's list).
  void flush_awaited();
  bool awaiting_flush() const noexcept { return awaiting_flush_; }
  // The hub applied more events (client_hub::await_applied): a waiting resume looks again.
  void applied_moved();
  bool awaiting_applied() const noexcept { return awaited_.has_value(); }
  // Shutdown: send what is queued, then close (the server's deadline may close first).
  void finish();
  void close();

  user_id user() const noexcept { return user_; }
  std::uint64_t serial() const noexcept { return serial_; }  // order of acceptance
  const std::string& transport() const noexcept { return transport_; }  // tcp, ws, ...
  bool registered() const noexcept { return stream_.registered(); }
  bool catching_up() const noexcept { return stream_.catching_up(); }
  std::size_t queued_bytes() const noexcept { return stream_.queued_bytes(); }
  // For /connz; `processed_head` is the last sequence number the daemon applied.
  connection_info info(sequence_number processed_head) const;
  // Applied events not yet sent to it: what is queued, or, in catch-up, what it has yet to read.
  std::uint64_t behind(sequence_number processed_head) const noexcept;

 protected:
  client_session(client_hub& hub, std::string peer, std::string transport, line_format lines);

  // --- For the transport subclasses ------------------------------------------------------
  // The handshake gave this registration (its token already verified, if any).
  void register_as(const registration& who);
  // A handshake line ("<user>[|<last>[|<epoch>]][ <token>]", no line end): parsed, its token
  // checked, registered; or refused (counted, warned of, closed).
  void on_id_line(std::string_view line);
  // Under clientAuth jwt: the refusal of `who`'s token (counted by the hub; the text for the
  // log, without the token), or nullopt when it may register. Keeps the token's expiry for
  // register_as. Always nullopt under clientAuth none.
  std::optional<std::string> check_token(const registration& who);
  // A registered client sent a fresh token (a line or message holding only it): same user
  // and valid, the session lives until it expires; otherwise (or a second one within a
  // second) the client is disconnected.
  void on_token_line(std::string_view token);
  // The same for a line too long to be a token: the client is disconnected.
  void token_line_too_long();
  // The handshake failed: counted, a rate-limited warning, closed.
  void refuse(std::uint64_t& counter, std::string_view why);
  // The same, counted already (when the refusal was decided).
  void refused(std::string_view why);
  // The peer closed or the connection failed while registered.
  void peer_gone(const error_code& ec);
  // An asynchronous write finished: `bytes` of what write() was given were taken (0 with no
  // error: the socket is writable again, try once more).
  void written(std::size_t bytes, const error_code& ec);
  client_hub& hub() noexcept { return hub_; }
  client_counters& stats() noexcept { return stats_; }
  bool closed() const noexcept { return stream_.state() == client_stream::mode::closed; }
  bool handshaking() const noexcept { return stream_.state() == client_stream::mode::handshake; }
  const std::string& peer() const noexcept { return peer_; }

  // --- What a transport provides ---------------------------------------------------------
  // Writes (part of) `bytes`, whole lines. Either synchronously: returns how many the
  // transport took at once (0: none now) and leaves `pending` false; or it starts an
  // asynchronous write or wait, sets `pending`, and calls written() when it completes (the
  // bytes stay untouched until then). An error other than would-block goes in `ec`.
  virtual std::size_t write(std::span<const char> bytes, bool& pending, error_code& ec) = 0;
  // Closes the transport; pending operations end with operation_aborted.
  virtual void close_transport(bool graceful) = 0;
  // Says goodbye on a transport that can (a WebSocket close code), before close_transport.
  virtual void goodbye(std::uint16_t code, std::string_view reason) = 0;
  // The TCP socket under the transport: its options, what its peer took, the reset.
  virtual tcp::socket& lowest_socket() = 0;
  // The client socket options (net/client_socket.hpp): each transport's start() calls it.
  void prepare_socket();

 private:
  void flush();
  void write_now();
  void overflow(sequence_number seq, std::size_t needed);
  [[gnu::noinline]] void spilled(sequence_number seq, client_stream::offer_result verdict);
  void on_spill(spill_store::read_result result);
  void drop_spill();
  // Ends a registered session for a policy: counted, a rate-limited warning, then closed.
  // A token's end is said (a WebSocket close code); a stuck, slow or out-of-history client
  // is reset at once, on every transport (resets_connection).
  void cut_off(cut_off_reason why, std::uint64_t& counter, std::string_view text);

  // Catch-up and resume.
  void read_history_soon();
  void resume(const registration& who);
  void resume_now(const registration& who);  // resume(), never waiting
  // A resume past what is applied, waiting (bounded by limits().resume_wait) for it.
  void wait_for_position(const registration& who);
  void end_wait_for_position();
  void begin_resume(const resume_point& at, std::vector<user_id> following);
  void read_history();
  void on_history(history_chunk chunk);
  void went_live();
  void release_reader();

  // Stuck clients.
  void arm_stuck_timer();
  void on_stuck_timer(const error_code& ec);
  // What the peer has taken so far: its TCP's acknowledged bytes, or (when the kernel cannot
  // tell) the bytes the transport took.
  std::uint64_t peer_taken();

  // Tokens: the session ends when the newest one expires.
  void arm_expiry_timer();

  // What deliver() touches comes first, right after the vtable pointer: with a hundred
  // sessions taking turns in a fan-out, each one's fields are usually out of the L1 cache,
  // so they should span as few cache lines as possible.
  client_hub& hub_;
  client_counters& stats_;
  bool write_pending_ = false;   // the transport has bytes (or a wait) in flight
  bool awaiting_flush_ = false;  // on the server's list for its next flush pass
  bool reset_ = false;           // cut off for a policy: closed with a reset (see cut_off)
  bool spill_owner_ = false;     // it has spilled: the store holds (or held) lines of its
  // When the oldest live notification queued since the queue was last empty arrived; zero
  // when none is (or a status line came first: that write goes unmeasured). Each write that
  // moves bytes records its age (delivery latency): per write, not per notification. After a
  // partial write it stays: an upper bound for what is left.
  std::chrono::steady_clock::time_point oldest_arrival_{};
  client_stream stream_;  // the queue, the cursor and the state: its hot fields first

  std::string peer_;
  std::string transport_;
  std::uint64_t serial_;
  std::int64_t connected_since_ms_;
  user_id user_ = 0;

  // Stuck clients: peer_taken() when the stuck timer was armed, and the bytes the transport took.
  std::uint64_t taken_at_arming_ = 0;
  std::uint64_t transport_taken_ = 0;
  asio::steady_timer stuck_timer_;
  bool stuck_timer_armed_ = false;
  asio::steady_timer retry_timer_;  // a history read that came back empty too early; a resume's wait
  std::optional<registration> awaited_;  // a resume waiting for the stream to reach its position

  // Under clientAuth jwt: when the newest token expires, and the timer that ends the session then.
  std::chrono::system_clock::time_point token_expires_ = std::chrono::system_clock::time_point::max();
  std::unique_ptr<asio::steady_timer> expiry_timer_;  // only for sessions with a token
  std::optional<std::chrono::steady_clock::time_point> last_refresh_;  // the last fresh token taken
};

}  // namespace eventserver
