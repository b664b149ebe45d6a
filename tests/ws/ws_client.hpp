#pragma once
// Test clients for the WebSocket listener.
//
// ws_client: Beast's websocket::stream<tcp::socket> on an io_context of its own that the test
// thread drives, so every wait is bounded (run_one_for up to a deadline) and nothing runs
// unless the test is waiting: a client the test does not wait on reads nothing, exactly like
// a slow or stuck reader. One read is kept outstanding, as a browser does; Beast answers the
// daemon's pings during it.
//
// raw_upgrade / raw_frames: the handshake and the frame format by hand over a plain
// connection, for what Beast will not do (not answer a ping, send a malformed request).

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "support/daemon.hpp"

namespace eventserver::test_support {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

class ws_client {
 public:
  struct options {
    std::string origin;       // empty: no Origin header
    int receive_buffer = 0;   // > 0: SO_RCVBUF before connecting (a slow reader)
  };

  // Connects to 127.0.0.1:port and upgrades with GET `target`. Throws when the connection or
  // the upgrade fails; a refused upgrade's message names the status.
  static std::unique_ptr<ws_client> open(std::uint16_t port, const std::string& target, const options& opts) {
    auto client = std::unique_ptr<ws_client>(new ws_client());
    client->connect(port, target, opts);
    return client;
  }
  static std::unique_ptr<ws_client> open(std::uint16_t port, const std::string& target) {
    return open(port, target, options{});
  }

  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;
  ~ws_client() {
    error_code ignored;
    ws_.next_layer().close(ignored);
    io_.restart();
    io_.run_for(std::chrono::seconds(1));  // the aborted handlers, which refer to this
  }

  // The next `n` lines (frames split on '\n'); fewer when the daemon closes or `timeout` passes.
  lines read_lines(std::size_t n, milliseconds timeout = wait_bound) {
    run_until([&] { return lines_.size() >= n; }, timeout);
    lines result;
    while (!lines_.empty() && result.size() < n) {
      result.push_back(std::move(lines_.front()));
      lines_.pop_front();
    }
    return result;
  }

  // Every line received within `quiet` (or already buffered); empty when the daemon stays silent.
  lines expect_no_more(milliseconds quiet = 150ms) {
    run_until([] { return false; }, quiet);
    lines result(std::make_move_iterator(lines_.begin()), std::make_move_iterator(lines_.end()));
    lines_.clear();
    return result;
  }

  // Every frame as received, in order (the lines above come from these).
  const std::vector<std::string>& frames() const noexcept { return frames_; }

  // Reads until the daemon closes. The close code it sent (nullopt: the connection ended
  // without a close frame, or `timeout` passed).
  std::optional<std::uint16_t> wait_closed(milliseconds timeout = wait_bound) {
    run_until([&] { return read_done_; }, timeout);
    if (!read_done_ || read_error_ != websocket::error::closed) return std::nullopt;
    return static_cast<std::uint16_t>(ws_.reason().code);
  }
  bool closed() const noexcept { return read_done_; }
  error_code read_error() const noexcept { return read_error_; }

  // Sends one message; false if it could not be sent within `timeout`.
  bool send(const std::string& message, bool text = true, milliseconds timeout = wait_bound) {
    bool done = false;
    error_code result;
    ws_.text(text);
    ws_.async_write(asio::buffer(message), [&](const error_code& ec, std::size_t) {
      result = ec;
      done = true;
    });
    run_until([&] { return done; }, timeout);
    return done && !result;
  }

  // Runs the client (reads, Beast's pongs) for `time` without expecting anything.
  void pump(milliseconds time) { run_until([] { return false; }, time); }

  // Pings from the daemon so far (Beast answers each with a pong while a read is outstanding).
  std::size_t pings() const noexcept { return pings_; }
  // Runs the client until the daemon has sent `n` pings in all; false if it has not within
  // `timeout` or the connection ended.
  bool wait_for_pings(std::size_t n, milliseconds timeout = wait_bound) {
    run_until([&] { return pings_ >= n || read_done_; }, timeout);
    return pings_ >= n;
  }

  tcp::socket& socket() { return ws_.next_layer(); }

 private:
  ws_client() : ws_(io_) {}

  void connect(std::uint16_t port, const std::string& target, const options& opts) {
    auto& socket = ws_.next_layer();
    socket.open(tcp::v4());
    if (opts.receive_buffer > 0) socket.set_option(asio::socket_base::receive_buffer_size(opts.receive_buffer));
    socket.connect({asio::ip::address_v4::loopback(), port});  // loopback: at once or refused
    if (!opts.origin.empty()) {
      ws_.set_option(websocket::stream_base::decorator(
          [origin = opts.origin](websocket::request_type& request) { request.set(beast::http::field::origin, origin); }));
    }
    bool done = false;
    error_code result;
    websocket::response_type response;
    ws_.async_handshake(response, "127.0.0.1:" + std::to_string(port), target, [&](const error_code& ec) {
      result = ec;
      done = true;
    });
    run_until([&] { return done; }, wait_bound);
    if (!done) throw std::runtime_error("WebSocket upgrade of " + target + ": no answer within the wait bound");
    if (result) {
      throw std::runtime_error("WebSocket upgrade of " + target + " refused: " + result.message() + " (status " +
                               std::to_string(response.result_int()) + ")");
    }
    ws_.read_message_max(64 * 1024 * 1024);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) ++pings_;
    });
    start_reading();
  }

  void start_reading() {
    ws_.async_read(buffer_, [this](const error_code& ec, std::size_t) {
      if (ec) {
        read_error_ = ec;
        read_done_ = true;
        return;
      }
      std::string frame = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      for (std::size_t at = 0;;) {
        const auto end = frame.find('\n', at);
        lines_.push_back(frame.substr(at, end == std::string::npos ? std::string::npos : end - at));
        if (end == std::string::npos) break;
        at = end + 1;
      }
      frames_.push_back(std::move(frame));
      start_reading();
    });
  }

  template <class Done>
  void run_until(Done done, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return;
      if (io_.stopped()) io_.restart();
      if (io_.run_one_for(deadline - now) == 0 && io_.stopped()) {
        // Out of work (the connection is over): nothing more can happen.
        if (!done()) std::this_thread::sleep_for(1ms);
        if (read_done_) return;
      }
    }
  }

  asio::io_context io_{1};
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> lines_;
  std::vector<std::string> frames_;
  error_code read_error_;
  bool read_done_ = false;
  std::size_t pings_ = 0;
};

// --- By hand --------------------------------------------------------------------------------

// RFC 6455's sample key and the accept value it requires (section 1.3).
inline constexpr std::string_view sample_key = "dGhlIHNhbXBsZSBub25jZQ==";
inline constexpr std::string_view sample_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// "GET <target> HTTP/1.1" with the upgrade headers and `extra` (each "Name: value\r\n").
inline std::string upgrade_request(std::string_view target, std::string_view extra = "",
                                   std::string_view method = "GET") {
  return std::string(method) + " " + std::string(target) +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " +
         std::string(sample_key) + "\r\nSec-WebSocket-Version: 13\r\n" + std::string(extra) + "\r\n";
}

struct http_answer {
  int status = 0;  // 0: no response
  std::string head;  // status line and headers
  std::string body;
};

// Sends `request` on a fresh connection and reads the answer to the end of its header (and
// the body a refusal carries: the daemon closes after it). For a 101, the connection is left
// open in `conn` with any frame bytes that followed still buffered.
inline http_answer send_upgrade(std::uint16_t port, std::string_view request, connection& conn) {
  conn = connection::open(port);
  conn.send(request);
  http_answer answer;
  std::string received;
  for (;;) {
    const auto end = received.find("\r\n\r\n");
    if (end != std::string::npos) {
      answer.head = received.substr(0, end);
      received.erase(0, end + 4);
      break;
    }
    const std::string more = conn.read_bytes(1, 5s);
    if (more.empty()) return answer;
    received += more;
  }
  if (answer.head.size() >= 12) answer.status = std::stoi(answer.head.substr(9, 3));
  if (answer.status != 101) {
    conn.wait_closed(5s);
    answer.body = received + conn.take_buffered();
  }
  return answer;
}

inline http_answer send_upgrade(std::uint16_t port, std::string_view request) {
  connection conn;
  return send_upgrade(port, request, conn);
}

// One frame from the daemon (server frames are never masked).
struct raw_frame {
  std::uint8_t opcode = 0;
  bool fin = false;
  std::string payload;
};

// The next frame on `conn`; nullopt when it does not arrive in full within `timeout`.
inline std::optional<raw_frame> read_raw_frame(connection& conn, milliseconds timeout = wait_bound) {
  const std::string head = conn.read_bytes(2, timeout);
  if (head.size() < 2) return std::nullopt;
  raw_frame frame;
  frame.fin = (static_cast<unsigned char>(head[0]) & 0x80) != 0;
  frame.opcode = static_cast<std::uint8_t>(head[0] & 0x0f);
  std::uint64_t length = static_cast<unsigned char>(head[1]) & 0x7f;
  const std::size_t extended = length == 126 ? 2 : length == 127 ? 8 : 0;
  if (extended != 0) {
    const std::string bytes = conn.read_bytes(extended, timeout);
    if (bytes.size() < extended) return std::nullopt;
    length = 0;
    for (const char c : bytes) length = (length << 8) | static_cast<unsigned char>(c);
  }
  frame.payload = conn.read_bytes(static_cast<std::size_t>(length), timeout);
  if (frame.payload.size() < length) return std::nullopt;
  return frame;
}

// A client frame (masked, as RFC 6455 requires of clients; with a zero mask the payload
// goes as it is).
inline std::string client_frame(std::uint8_t opcode, std::string_view payload) {
  std::string frame;
  frame += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    frame += static_cast<char>(0x80 | payload.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>((payload.size() >> 8) & 0xff);
    frame += static_cast<char>(payload.size() & 0xff);
  }
  frame.append(4, '\0');
  frame += payload;
  return frame;
}

// A close frame's code (1005 when it carries none).
inline std::uint16_t close_code_of(const raw_frame& frame) {
  if (frame.payload.size() < 2) return 1005;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(frame.payload[0]) << 8) |
                                    static_cast<unsigned char>(frame.payload[1]));
}

}  // namespace eventserver::test_support
