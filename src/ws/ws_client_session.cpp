#include "eventserver/ws/ws_client_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "eventserver/auth/token_verifier.hpp"
#include "eventserver/core/warning_limiter.hpp"
#include "eventserver/ws/upgrade_request.hpp"
#include "eventserver/net/bearer.hpp"
#include "eventserver/net/peer.hpp"

namespace eventserver {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {
// Close codes (docs/protocol.md, "WebSocket"). 1009 (too big) and 1002 (framing) Beast sends
// itself; 4000 (token expired) and 1008 (token refused) come from the base's cut_off, which
// resets a stuck, slow or out-of-history client instead.
constexpr std::uint16_t close_going_away = 1001;  // shutdown
constexpr std::uint16_t close_unsupported_data = 1003;
constexpr std::uint16_t close_no_pong = 4001;

// After our close frame is queued, how long the peer has to answer it before the socket is
// closed anyway: it waits behind a frame in flight, which a stuck client never takes.
constexpr std::chrono::seconds close_linger{1};
// A frame buffer larger than this is given back once sent: thousands of idle WebSockets should
// not each keep their last flush's copy (a malloc per flush costs far less than its write).
constexpr std::size_t keep_frame_capacity = 1024;

// Errors of the HTTP parser that say the request was malformed, not that the peer left.
bool malformed_request(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}
}  // namespace

template <class NextLayer>
basic_ws_client_session<NextLayer>::basic_ws_client_session(tcp::socket socket, client_hub& hub,
                                                            const ws_settings& settings,
                                                            std::shared_ptr<ssl::context> context)
    : client_session(hub, describe_peer(socket), secure ? "wss" : "ws", line_format::lf),
      context_(std::move(context)),
      ws_(make_stream(std::move(socket), context_.get())),
      settings_(settings),
      deadline_(hub.executor()),
      ping_timer_(hub.executor()),
      // Room for the largest header the parser takes (past it: 431, not a buffer overflow).
      upgrade_(std::make_unique<upgrade_state>(max_request_header + 1024)) {}

template <class NextLayer>
typename basic_ws_client_session<NextLayer>::websocket_stream basic_ws_client_session<NextLayer>::make_stream(
    tcp::socket socket, ssl::context* context) {
  if constexpr (secure) {
    return websocket_stream(std::move(socket), *context);
  } else {
    (void)context;
    return websocket_stream(std::move(socket));
  }
}

// operation_aborted: we closed the socket or re-armed the timer, nothing to say. Anything else
// ends the operation too; how the session goes on is up to the caller.
template <class NextLayer>
void basic_ws_client_session<NextLayer>::fail(const error_code& ec, const char* what) {
  if (ec == asio::error::operation_aborted) return;
  SPDLOG_DEBUG("WebSocket client {} (user {}): {}: {}", peer(), user(), what, ec.message());
  (void)what;
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::start() {
  hub().client_opened(*this);
  prepare_socket();

  // The whole upgrade (the TLS handshake, the request and the response) within
  // clientHandshakeTimeoutMs.
  deadline_.expires_after(hub().limits().handshake_timeout);
  deadline_.async_wait([self = self()](const error_code& ec) { self->on_handshake_timeout(ec); });
  if constexpr (secure) {
    ws_.next_layer().async_handshake(ssl::stream_base::server, [self = self()](const error_code& ec) {
      if (!self->handshaking()) return;  // timed out or shut down meanwhile
      if (ec) {
        // Plain text on a TLS port, an unknown CA, a version below tlsMinVersion, or a peer
        // that left: OpenSSL's reason says which.
        self->refuse(self->hub().transport_stats().tls.handshake_failures, "TLS handshake failed: " + ec.message());
        return;
      }
      self->read_request();
    });
  } else {
    read_request();
  }
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::read_request() {
  upgrade_->parser.header_limit(max_request_header);
  upgrade_->parser.body_limit(0);  // an upgrade has no body
  http::async_read(ws_.next_layer(), upgrade_->buffer, upgrade_->parser,
                   [self = self()](const error_code& ec, std::size_t) { self->on_request(ec); });
}

// --- The HTTP upgrade ----------------------------------------------------------------------

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_handshake_timeout(const error_code& ec) {
  if (ec || !handshaking()) return;
  if (upgrade_ && upgrade_->refusal) {
    close();  // a refusal nobody reads (counted already): on_refusal_written logs it
    return;
  }
  refuse(stats().handshake_timeouts, "no WebSocket upgrade within clientHandshakeTimeoutMs");
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_request(const error_code& ec) {
  if (!handshaking() || upgrade_->refusal) return;  // timed out or shut down meanwhile
  if (ec == http::error::header_limit) {
    refuse_upgrade(http::status::request_header_fields_too_large, hub().transport_stats().ws.upgrades_refused_bad_request,
                   "request header larger than 8 KiB");
    return;
  }
  if (ec && malformed_request(ec)) {
    refuse_upgrade(http::status::bad_request, hub().transport_stats().ws.upgrades_refused_bad_request,
                   "malformed HTTP request: " + ec.message());
    return;
  }
  if (ec) {
    fail(ec, "reading the upgrade request");
    ++stats().handshake_peer_closed;
    close();
    return;
  }
  const auto& request = upgrade_->parser.get();
  const users_target target = parse_users_target(request.target());
  if (target.result == users_target::outcome::not_found) {
    refuse_upgrade(http::status::not_found, hub().transport_stats().ws.upgrades_refused_not_found,
                   "no such path: clients open /users/<id>");
    return;
  }
  if (request.method() != http::verb::get) {
    refuse_upgrade(http::status::method_not_allowed, hub().transport_stats().ws.upgrades_refused_method, "only GET upgrades");
    return;
  }
  if (!websocket::is_upgrade(request)) {
    refuse_upgrade(http::status::upgrade_required, hub().transport_stats().ws.upgrades_refused_not_upgrade,
                   "not a WebSocket upgrade (HTTP/1.1, Connection: Upgrade, Upgrade: websocket)");
    return;
  }
  // Beast checks that a key is there; RFC 6455 asks for one that decodes to 16 bytes.
  if (const auto key = request[http::field::sec_websocket_key]; !key.empty() && !valid_websocket_key(key)) {
    refuse_upgrade(http::status::bad_request, hub().transport_stats().ws.upgrades_refused_bad_request,
                   "Sec-WebSocket-Key is not base64 of 16 bytes");
    return;
  }
  // Before the target is judged: a page of another origin learns nothing about it.
  if (!origin_allowed(request[http::field::origin], settings_.allowed_origins)) {
    refuse_upgrade(http::status::forbidden, hub().transport_stats().ws.upgrades_refused_origin,
                   "origin not allowed (wsAllowedOrigins): " + quote_peer_bytes(request[http::field::origin]));
    return;
  }
  if (target.result == users_target::outcome::bad) {
    refuse_upgrade(http::status::bad_request, hub().transport_stats().ws.upgrades_refused_bad_target,
                   std::string(target.problem) + ": /users/<id>[?last=<seq>[&epoch=<epoch>]][&token=<jwt>]");
    return;
  }
  who_ = target.who;
  // clientAuth jwt: the token of the query, or else of "Authorization: Bearer <jwt>", is
  // verified before the 101; a refusal is a 401 (its reason, never the token, in the body).
  if (who_.token.empty()) who_.token = bearer_credentials(request[http::field::authorization]).value_or("");
  if (auto refusal = check_token(who_)) {
    refuse_upgrade(http::status::unauthorized, hub().transport_stats().tokens.refused_at_handshake, std::move(*refusal));
    return;
  }
  who_.token = {};  // a view into the request, which goes once the upgrade is answered

  websocket::stream_base::timeout timeouts{};
  // Bounds the 101 here and the close handshake later; no idle timeout: our own pings.
  timeouts.handshake_timeout = hub().limits().handshake_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, "eventserver"); }));
  // Under clientAuth jwt a message may be a fresh token, which may be as long as any token.
  ws_.read_message_max(hub().auth_required() ? std::max(max_client_message, token_verifier::max_token_bytes)
                                             : max_client_message);
  ws_.auto_fragment(false);  // a frame never splits a line: one write() is one frame
  ws_.text(true);
  // Runs inside our reads only, which hold the session alive.
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) { on_control(kind); });
  ws_.async_accept(request, [self = self()](const error_code& accept_ec) { self->on_accept(accept_ec); });
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::refuse_upgrade(http::status status, std::uint64_t& counter, std::string why) {
  const auto code = static_cast<unsigned>(status);
  ++counter;  // now, not once the response is written: the client may read it first
  // The path only: the query may hold a token, which is never logged.
  const std::string_view target = upgrade_->parser.get().target();
  upgrade_->refused_why = fmt::format("WebSocket upgrade refused with {} ({}), path {}", code, why,
                                      quote_peer_bytes(target.substr(0, target.find('?'))));
  auto& response = upgrade_->refusal.emplace(status, 11);
  response.set(http::field::server, "eventserver");
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set("X-Content-Type-Options", "nosniff");  // the body quotes what the client sent
  if (status == http::status::method_not_allowed) response.set(http::field::allow, "GET");
  if (status == http::status::unauthorized) response.set(http::field::www_authenticate, "Bearer");
  if (status == http::status::upgrade_required) {
    // RFC 9110 15.5.22: a 426 names the protocol to upgrade to.
    response.set(http::field::upgrade, "websocket");
    response.set(http::field::connection, "Upgrade, close");
  } else {
    response.keep_alive(false);
  }
  const beast::string_view phrase = http::obsolete_reason(status);
  response.body() = fmt::format("{} {}: {}\n", code, std::string_view(phrase.data(), phrase.size()), why);
  response.prepare_payload();
  // Bounded by the handshake deadline, still armed.
  http::async_write(ws_.next_layer(), response, [self = self()](const error_code& ec, std::size_t) {
    self->fail(ec, "writing a refusal");
    self->on_refusal_written();
  });
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_refusal_written() {
  // Logged (rate-limited) and closed, written or not; counted when decided.
  refused(upgrade_->refused_why);
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_accept(const error_code& ec) {
  upgrade_.reset();  // a client sends nothing before the 101; anything it did is dropped
  if (!handshaking()) return;  // timed out or shut down meanwhile
  if (ec == websocket::condition::handshake_failed) {
    // Beast has answered (400, or 426 for a Sec-WebSocket-Version other than 13).
    refuse(hub().transport_stats().ws.upgrades_refused_bad_request, "bad WebSocket handshake: " + ec.message());
    return;
  }
  if (ec) {
    fail(ec, "sending the upgrade response");
    ++stats().handshake_peer_closed;
    close();
    return;
  }
  deadline_.cancel();
  accepted_ = true;
  ++hub().transport_stats().ws.upgrades;
  const registration who = who_;
  register_as(who);
  do_read();
  if (settings_.ping_interval.count() != 0) arm_ping_timer(settings_.ping_interval);
}

// --- Reading: control frames, the peer's close, and what clients must not send ---------------

template <class NextLayer>
void basic_ws_client_session<NextLayer>::do_read() {
  ws_.async_read_some(asio::buffer(discard_),
                      [self = self()](const error_code& ec, std::size_t bytes) { self->on_read(ec, bytes); });
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_read(const error_code& ec, std::size_t bytes) {
  if (ec) {
    fail(ec, "read");
    if (said_goodbye_ || closed()) {
      hard_close();  // the peer answered our close frame, or the socket is gone
      return;
    }
    if (ec == websocket::error::closed) {
      peer_gone(ec);  // its close frame: Beast has answered it and closed the socket
      return;
    }
    if (ec.category() == websocket::make_error_code(websocket::error::closed).category()) {
      // A message over read_message_max (1009) or broken framing (1002, 1007): Beast has sent
      // the close frame and closed the socket.
      end_session(hub().transport_stats().ws.protocol_errors, 0, "protocol error: " + ec.message(), hub().handshake_warnings());
      return;
    }
    peer_gone(ec);
    return;
  }
  // Under clientAuth jwt a text message may hold a fresh token: kept (read_message_max bounds
  // it); otherwise only the first bytes matter.
  if (hub().auth_required() && !said_goodbye_) message_.append(discard_.data(), bytes);
  if (!said_goodbye_ && !ws_.is_message_done()) {
    do_read();  // the rest of the message first: one over read_message_max is 1009, not 1003
    return;
  }
  if (!said_goodbye_) {
    if (hub().auth_required() && ws_.got_text()) {
      on_token_line(message_);  // same user and valid, or the session ends (1008)
      message_.clear();
      if (message_.capacity() > discard_.size()) std::string().swap(message_);
      if (registered()) {
        do_read();
        return;
      }
    } else {
      end_session(hub().transport_stats().ws.protocol_errors, close_unsupported_data, "protocol error: the client sent a data message",
                  hub().handshake_warnings());
    }
  }
  do_read();  // until the peer answers our close (close_linger bounds it)
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_control(websocket::frame_type kind) {
  if (said_goodbye_ || closed()) return;
  if (kind == websocket::frame_type::close) {
    // Beast answers it, then waits for the peer to close TCP before our read ends; a peer that
    // never does would keep the session forever. It has close_linger to do so.
    deadline_.expires_after(close_linger);
    deadline_.async_wait([self = self()](const error_code& ec) {
      if (ec) return;
      self->hard_close();
      self->peer_gone(websocket::error::closed);
    });
    return;
  }
  // Pings are answered by Beast.
  if (kind != websocket::frame_type::pong || !awaiting_pong_) return;
  awaiting_pong_ = false;
  arm_ping_timer(settings_.ping_interval);  // cancels the pong deadline
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::end_session(std::uint64_t& counter, std::uint16_t code, std::string_view reason,
                                    warning_limiter& warnings) {
  ++counter;
  if (const auto suppressed = warnings.allow(std::chrono::steady_clock::now())) {
    spdlog::warn("WebSocket client {} (user {}) closed: {}{}", peer(), user(), reason, suppressed_note(*suppressed));
  }
  if (code != 0) goodbye(code, reason.substr(0, reason.find(':')));
  close();
}

// --- Pings ---------------------------------------------------------------------------------

template <class NextLayer>
void basic_ws_client_session<NextLayer>::arm_ping_timer(std::chrono::milliseconds after) {
  ping_timer_.expires_after(after);
  ping_timer_.async_wait([self = self()](const error_code& ec) { self->on_ping_timer(ec); });
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_ping_timer(const error_code& ec) {
  if (ec || said_goodbye_ || closed()) return;  // cancelled, or re-armed by a pong
  if (awaiting_pong_) {
    end_session(hub().transport_stats().ws.pong_timeouts, close_no_pong,
                fmt::format("no pong within wsPongTimeoutMs ({} ms)", settings_.pong_timeout.count()),
                hub().slow_client_warnings());
    return;
  }
  if (busy_ != in_flight::none) {
    // After the frame in flight. If it never completes, the stuck timer ends the session.
    ping_wanted_ = true;
    return;
  }
  start_ping();
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::start_ping() {
  busy_ = in_flight::ping;
  awaiting_pong_ = true;
  arm_ping_timer(settings_.pong_timeout);
  ws_.async_ping({}, [self = self()](const error_code& ec) { self->on_ping(ec); });
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_ping(const error_code& ec) {
  busy_ = in_flight::none;
  if (ec) fail(ec, "ping");
  if (start_waiting_control()) return;
  if (write_waiting_) {
    write_waiting_ = false;
    if (registered()) written(0, ec);  // 0 bytes: try the write again (or, on error, close)
  }
}

template <class NextLayer>
bool basic_ws_client_session<NextLayer>::start_waiting_control() {
  if (!beast::get_lowest_layer(ws_).is_open()) return false;  // closed meanwhile (the close linger passed)
  if (goodbye_code_) {
    start_close();
    return true;
  }
  if (ping_wanted_ && !said_goodbye_ && !closed()) {
    ping_wanted_ = false;
    start_ping();
    return true;
  }
  ping_wanted_ = false;
  return false;
}

// --- Writing -------------------------------------------------------------------------------

// `bytes` are whole lines, each "payload\n". The frame is the longest run of whole lines that
// fits max_frame_bytes (at least one line), without its last '\n'; written() is told of
// them all, that '\n' included.
template <class NextLayer>
std::size_t basic_ws_client_session<NextLayer>::write(std::span<const char> bytes, bool& pending, error_code&) {
  pending = true;
  if (busy_ != in_flight::none) {
    write_waiting_ = true;  // behind a ping: on_ping calls written(0) and the base writes again
    return 0;
  }
  const std::size_t frame = whole_lines_within(std::string_view(bytes.data(), bytes.size()), max_frame_bytes);
  // A copy: deliver() may append to the base's queue, and move it, while the frame is in flight.
  out_.assign(bytes.data(), frame - 1);
  busy_ = in_flight::frame;
  ws_.async_write(asio::buffer(out_), [self = self(), frame](const error_code& ec, std::size_t) {
    self->on_frame_written(ec, frame);
  });
  return 0;
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_frame_written(const error_code& ec, std::size_t frame) {
  busy_ = in_flight::none;
  if (ec) fail(ec, "write");
  if (out_.capacity() > keep_frame_capacity) std::string().swap(out_);
  start_waiting_control();  // a ping or the close goes before the next frame
  if (registered()) written(ec ? 0 : frame, ec);
}

// --- Closing -------------------------------------------------------------------------------

template <class NextLayer>
void basic_ws_client_session<NextLayer>::goodbye(std::uint16_t code, std::string_view reason) {
  if (!accepted_ || said_goodbye_ || !beast::get_lowest_layer(ws_).is_open()) return;
  said_goodbye_ = true;
  ping_timer_.cancel();
  goodbye_code_ = code;
  goodbye_reason_.assign(reason.substr(0, 123));  // what a close frame holds at most
  if (busy_ == in_flight::none) start_close();
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::start_close() {
  busy_ = in_flight::close;
  websocket::close_reason reason(*goodbye_code_);
  reason.reason.assign(goodbye_reason_.data(), goodbye_reason_.size());
  goodbye_code_.reset();
  ws_.async_close(reason, [self = self()](const error_code& ec) { self->on_close(ec); });
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::on_close(const error_code& ec) {
  busy_ = in_flight::none;
  if (ec) fail(ec, "close");
  hard_close();  // the closing handshake is over (Beast has closed the socket) or failed
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::close_transport(bool graceful) {
  ping_timer_.cancel();
  if (graceful) goodbye(close_going_away, "shutting down");  // a shutdown, the queue flushed
  if (!said_goodbye_) {
    hard_close();
    return;
  }
  // The close frame is on its way (or waits for the frame in flight); the peer's answer ends
  // our read. Either way the socket is closed within close_linger.
  deadline_.expires_after(close_linger);
  deadline_.async_wait([self = self()](const error_code& ec) {
    if (!ec) self->hard_close();
  });
}

template <class NextLayer>
void basic_ws_client_session<NextLayer>::hard_close() {
  deadline_.cancel();
  ping_timer_.cancel();
  auto& socket = beast::get_lowest_layer(ws_);
  if (!socket.is_open()) return;
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

template class basic_ws_client_session<tcp::socket>;
template class basic_ws_client_session<tls_socket>;

}  // namespace eventserver
