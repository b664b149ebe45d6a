#pragma once
// A client over WebSocket (docs/protocol.md, "WebSocket"): the same client as over TCP
// (client_session: registration, queue and its bound, catch-up and resume, the stuck-client
// timeout, counters, /connz), carried by Beast's websocket::stream.
//
// Upgrade: the HTTP request is read with a Beast parser (headers at most 8 KiB, no body)
// within clientHandshakeTimeoutMs, checked (method, upgrade headers, /users/<id> target,
// Origin) and refused with its own status and counter, or accepted; the registration comes
// from the target (ws/upgrade_request.hpp) once the 101 is sent.
//
// Delivery: the base queues "payload\n" per notification (line_format::lf); each write() sends
// what is queued as ONE text frame without its last '\n', so a frame holds one or more whole
// lines separated by '\n': one frame per flush, not per notification. A frame holds at most
// max_frame_bytes (or one longer line): see write().
// A client's message is read into a small array (see discard_); under clientAuth jwt a text
// message is a fresh token, collected in message_ (at most max_client_message).
//
// Beast allows one write-type operation at a time from us; this session keeps to it: a ping
// or the close frame waits for the frame in flight, and the next frame waits for them.
//
// Liveness: a ping every wsPingIntervalMs; no pong within wsPongTimeoutMs closes with 4001.
// The base's stuck timer (clientWriteTimeoutMs: no byte acknowledged by the peer's TCP that
// long) is the write timeout: Beast has none. Reads: one async_read stays outstanding for the
// whole session; it answers pings, sees pongs and the peer's close, and a message over 4 KiB
// (1009, sent by Beast) or any data message (1003) ends the session.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "eventserver/core/warning_limiter.hpp"
#include "eventserver/core/registration.hpp"
#include "eventserver/net/asio.hpp"
#include "eventserver/net/client_session.hpp"
#include "eventserver/net/session_hub.hpp"
#include "eventserver/tls/tls_context.hpp"
#include "eventserver/tls/tls_socket.hpp"
#include "eventserver/ws/ws_settings.hpp"

namespace eventserver {

// NextLayer: tcp::socket (ws://) or tls_socket (wss://, wsTls: the TLS
// handshake comes first, within the same clientHandshakeTimeoutMs).
template <class NextLayer>
class basic_ws_client_session final : public client_session {
 public:
  static constexpr bool secure = !std::is_same_v<NextLayer, tcp::socket>;

  // The largest message a client may send (a pong's payload; under clientAuth jwt, a fresh
  // token of up to 8 KiB): bigger closes with 1009.
  static constexpr std::size_t max_client_message = 4 * 1024;
  // The upgrade request's header: browsers send cookies and a long User-Agent, and a token
  // may ride in the target or in Authorization; more is refused with 431.
  static constexpr std::uint32_t max_request_header = 8 * 1024;
  // What one frame carries at most (unless a single line is longer): it bounds the copy in
  // flight and how long a ping or our close waits behind a frame.
  static constexpr std::size_t max_frame_bytes = 64 * 1024;

  // `context`: for wss, the one in force when the connection was accepted (null for ws).
  basic_ws_client_session(tcp::socket socket, client_hub& hub, const ws_settings& settings,
                          std::shared_ptr<ssl::context> context = nullptr);
  void start() override;

 private:
  using request_parser = boost::beast::http::request_parser<boost::beast::http::empty_body>;
  using websocket_stream = boost::beast::websocket::stream<NextLayer, /*deflateSupported=*/false>;
  static websocket_stream make_stream(tcp::socket socket, ssl::context* context);
  // What of ours Beast is writing: at most one at a time.
  enum class in_flight : std::uint8_t { none, frame, ping, close };

  std::shared_ptr<basic_ws_client_session> self() {
    return std::static_pointer_cast<basic_ws_client_session>(shared_from_this());
  }
  // Every completion's error check starts here (see the .cpp).
  void fail(const error_code& ec, const char* what);

  // --- The HTTP upgrade ------------------------------------------------------------------
  void read_request();
  void on_request(const error_code& ec);
  void on_handshake_timeout(const error_code& ec);
  void refuse_upgrade(boost::beast::http::status status, std::uint64_t& counter, std::string why);
  void on_refusal_written();
  void on_accept(const error_code& ec);

  // --- The WebSocket ---------------------------------------------------------------------
  void do_read();
  void on_read(const error_code& ec, std::size_t bytes);
  void on_control(boost::beast::websocket::frame_type kind);
  // The client broke the protocol, or answered no ping: counted, warned of (rate-limited by
  // `warnings`), told `code` (0: Beast has told it already) and closed.
  void end_session(std::uint64_t& counter, std::uint16_t code, std::string_view reason, warning_limiter& warnings);
  void arm_ping_timer(std::chrono::milliseconds after);
  void on_ping_timer(const error_code& ec);
  void start_ping();
  void on_ping(const error_code& ec);
  void start_close();
  void on_close(const error_code& ec);
  void on_frame_written(const error_code& ec, std::size_t frame);
  // After one of our writes: the close or a ping that waited for it; false when none did.
  bool start_waiting_control();
  // Closes the socket now: every pending operation ends with operation_aborted.
  void hard_close();

  std::size_t write(std::span<const char> bytes, bool& pending, error_code& ec) override;
  void close_transport(bool graceful) override;
  void goodbye(std::uint16_t code, std::string_view reason) override;
  tcp::socket& lowest_socket() override { return boost::beast::get_lowest_layer(ws_); }

  // What only the upgrade needs, given back once it is answered: an idle WebSocket costs the
  // daemon its socket, Beast's stream state (about 2.5 KiB) and this session.
  struct upgrade_state {
    boost::beast::flat_buffer buffer;  // the request (max_request_header and a little room)
    request_parser parser;
    // A refused upgrade (counted when decided): the response being written, then refused().
    std::optional<boost::beast::http::response<boost::beast::http::string_body>> refusal;
    std::string refused_why;
    explicit upgrade_state(std::size_t buffer_limit) : buffer(buffer_limit) {}
  };

  std::shared_ptr<ssl::context> context_;  // wss: outlives ws_, which uses it
  websocket_stream ws_;
  const ws_settings& settings_;
  asio::steady_timer deadline_;    // the upgrade (clientHandshakeTimeoutMs), then the close handshake
  asio::steady_timer ping_timer_;  // the next ping, or the pong awaited
  std::unique_ptr<upgrade_state> upgrade_;
  registration who_;  // from the target, registered once the 101 is sent
  std::string out_;   // the frame in flight: the base's queue may move meanwhile
  // Where a client's message would go: any data ends the session, so the first bytes are
  // enough (read_message_max still applies to the whole message: over it, 1009).
  std::array<char, 64> discard_{};
  std::string message_;  // clientAuth jwt: the text message being read (a fresh token)

  in_flight busy_ = in_flight::none;
  bool write_waiting_ = false;  // write() was called while a ping or the close was in flight
  bool ping_wanted_ = false;    // the ping timer fired while a frame was in flight
  bool awaiting_pong_ = false;
  bool accepted_ = false;       // the 101 is sent: WebSocket from here
  bool said_goodbye_ = false;   // a close frame is sent or waits to be (goodbye_)
  std::optional<std::uint16_t> goodbye_code_;  // the close frame that waits for the frame in flight
  std::string goodbye_reason_;
};

using ws_client_session = basic_ws_client_session<tcp::socket>;
using wss_client_session = basic_ws_client_session<tls_socket>;

}  // namespace eventserver
