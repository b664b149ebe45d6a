#pragma once
// What a session may ask of the daemon: the narrow hubs the server implements (Beast's
// sessions know `shared_state` the same way). A session holds its hub for its whole life;
// the server outlives every session. Everything runs on the io_context's one thread.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "eventserver/core/counters.hpp"
#include "eventserver/core/dispatcher.hpp"
#include "eventserver/core/history.hpp"
#include "eventserver/core/spill_store.hpp"
#include "eventserver/core/log_pipeline.hpp"
#include "eventserver/core/event.hpp"
#include "eventserver/core/warning_limiter.hpp"
#include "eventserver/core/router.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/transport_counters.hpp"

namespace eventserver {

class event_source_session;
class client_session;

// An event-source connection feeds the stream and reports the end of each batch.
class source_hub {
 public:
  virtual std::size_t max_line_bytes() const = 0;
  // What a source may do to the stream: offer lines, note reads (no more).
  virtual source_input input() = 0;
  virtual void source_opened(event_source_session& source) = 0;
  virtual void source_closed(event_source_session& source) = 0;
  // The source stopped at a full reorder window; it is resumed when there is room again.
  virtual void pause_source(std::shared_ptr<event_source_session> source) = 0;
  // After a batch of lines: client writes, gap timer, resuming paused sources. `input_idle`:
  // the source has nothing more to read right now (or is paused or gone).
  virtual void end_batch(bool input_idle) = 0;
  // The event log has too much waiting for the disk: read no more input for now (pause; the
  // server resumes the source when there is room).
  virtual bool input_blocked() = 0;
  // The source asked for the durable position (durable?): the server tells it, at once and
  // as the position advances (event_source_session::note_durable).
  virtual void want_durable(event_source_session& source) = 0;
  // No source but `source` is connected: its line 1 may begin a new stream (newStreamPolicy;
  // the stream decides, dispatcher::offer_watched).
  virtual bool lone_source(const event_source_session& source) = 0;
  // A source's line 1 began a new stream: the sources that asked are told the new position.
  virtual void stream_began() = 0;

 protected:
  ~source_hub() = default;
};

// The limits every client connection works within.
struct client_limits {
  std::size_t max_queue_bytes = 0;
  std::size_t write_batch_bytes = 0;  // at most max_queue_bytes
  std::chrono::milliseconds handshake_timeout{0};
  std::size_t max_line_bytes = 0;
  std::chrono::milliseconds write_timeout{0};  // a socket that takes nothing this long is stuck
  // The longest handshake line: maxLineBytes, plus room for a token when clientAuth is jwt.
  std::size_t max_handshake_bytes = 0;
  // SO_SNDBUF of each client socket (0: the kernel's autotuning): with max_queue_bytes, what
  // one client may cost, the kernel included.
  std::size_t send_buffer_bytes = 0;
  // A resume past what the daemon has applied waits this long for it (an edge lagging the
  // stream: cluster.resumeWaitMs); 0: answered at once.
  std::chrono::milliseconds resume_wait{0};
};

// The hub's answer on a client's token (clientAuth). The transports know no token format:
// the hub verifies, and counts refusals by reason.
struct auth_verdict {
  bool ok = true;
  std::string_view refusal;  // not ok: the reason's metric label ("expired", "user_mismatch", ...)
  // ok: when the session that rests on this token must end (max(): never).
  std::chrono::system_clock::time_point expires = std::chrono::system_clock::time_point::max();
};

// A client connection registers as a user and then only receives.
class client_hub {
 public:
  // Where the session's own timers and posts run: the daemon's one thread.
  virtual asio::any_io_executor executor() = 0;
  virtual const client_limits& limits() const = 0;
  virtual client_counters& stats() = 0;
  virtual transport_counters& transport_stats() = 0;
  virtual void client_opened(client_session& client) = 0;
  virtual void client_closed(client_session& client) = 0;
  // Registration: from now on the router delivers `user`'s notifications to `connection`.
  virtual void connect(user_id user, recipient& connection) = 0;
  virtual void disconnect(user_id user, recipient& connection) = 0;
  // `client` queued notifications no write has been tried for yet: the next flush pass
  // writes them. A client asks at most once per pass.
  virtual void await_flush(client_session& client) = 0;
  // When the events whose notifications are being delivered now arrived (a source's read):
  // what the delivery latency is measured from.
  virtual std::chrono::steady_clock::time_point applying_arrival() const = 0;
  // Rate-limited warnings a flood of misbehaving clients could otherwise multiply.
  virtual warning_limiter& handshake_warnings() = 0;
  virtual warning_limiter& slow_client_warnings() = 0;

  // --- Authentication (clientAuth) -------------------------------------------------------
  // Whether every client must present a token naming its user.
  virtual bool auth_required() const = 0;
  // The verdict on `token` (possibly empty: none given) for a connection of `user`. A refusal
  // `at_handshake` is counted by reason (client_auth_refused_total); never logs the token.
  virtual auth_verdict authenticate(user_id user, std::string_view token, bool at_handshake) = 0;

  // --- History: catch-up and resume ------------------------------------------------------
  // Null when there is none (no dataDir and historyBytes 0): a client over its bound is cut off.
  virtual history_source* history() = 0;
  // Where a client over its bound keeps its own notifications (clientSpillBytes), before it
  // would read history; null when spilling is off.
  virtual spill_store* spill() = 0;
  // The stream as it stands: its epoch, and every number up to `seq` applied.
  virtual log_position applied() const = 0;
  // Whom `user` follows now (at applied()).
  virtual std::span<const user_id> following(user_id user) const = 0;
  // Whom `user` followed right after `after` of the current epoch, from the recent changes
  // kept in memory; nullopt when they do not reach back that far (ask history()).
  virtual std::optional<std::vector<user_id>> following_after(user_id user, sequence_number after) const = 0;
  // `client` waits for the stream to move (a resume past applied()): the hub calls its
  // applied_moved() once after the next events are applied. A session asks again to go on waiting.
  virtual void await_applied(client_session& client) = 0;

 protected:
  ~client_hub() = default;
};

}  // namespace eventserver
