#pragma once
// The client side of RFC 6455 as the harness speaks it to the daemon's WebSocket listener
// (docs/protocol.md, "WebSocket"), written here rather than taken from Beast so that the
// verifier does not share the daemon's library stack: the upgrade request, the check of the
// 101 response (Sec-WebSocket-Accept: SHA-1 and base64 from libcrypto), masked client frames,
// and an incremental reader of the daemon's frames. No sockets: client_pool drives it.
//
// What the reader hands on is the notification stream in the line protocol's shape: each text
// message's payload with every "\n" turned into "\r\n" and "\r\n" appended at its end, so a
// WebSocket client is checked by exactly the code, against exactly the bytes, that check a TCP
// client. A message that breaks the framing rule ("one or more whole lines separated by \n,
// without \r and without a trailing \n") turns into a line no expectation matches: a trailing
// "\n" gives an empty line, a "\r" a line ending "\r\r\n".

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "followermaze/wire.hpp"

namespace followermaze {

// Standard base64 with padding (the Sec-WebSocket-Key / -Accept alphabet).
std::string base64(std::span<const unsigned char> bytes);

// The Sec-WebSocket-Accept a server must answer `key` with (RFC 6455 section 4.2.2).
std::string ws_accept_for(std::string_view key);

// A fresh Sec-WebSocket-Key: 16 random bytes (RAND_bytes), base64.
std::string ws_new_key();
// A fresh masking key (section 5.3: unpredictable, so RAND_bytes too).
std::array<unsigned char, 4> ws_new_mask();

// The request target of a client: `/users/<user>`, then `last=<last>` (and `epoch=<epoch>` when
// not 0) when it resumes, and `token=<token>` when the token goes in the query.
std::string ws_target(user_id user, std::optional<std::uint64_t> last, std::uint64_t epoch, std::string_view token);

// The upgrade request; `bearer` non-empty adds `Authorization: Bearer <bearer>`.
std::string ws_upgrade_request(std::string_view host_header, std::string_view target, std::string_view key,
                               std::string_view bearer);

// What the bytes received after the request say, once their header is complete.
struct ws_upgrade_response {
  enum class outcome : std::uint8_t {
    incomplete,  // no blank line yet: read more
    accepted,    // 101 with the right Upgrade, Connection and Sec-WebSocket-Accept
    refused,     // any other status (`status`, `error` holds the status line)
    invalid,     // not HTTP/1.1, or a 101 that breaks RFC 6455 section 4.1 (`error` says how)
  };
  outcome result = outcome::incomplete;
  std::size_t header_bytes = 0;  // accepted / refused: bytes through the blank line
  int status = 0;
  std::string error;
};
inline constexpr std::size_t max_upgrade_response_bytes = 16 * 1024;
ws_upgrade_response parse_upgrade_response(std::string_view received, std::string_view key);

enum class ws_opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Appends a client frame (FIN set, masked with `mask`) to `out`.
void append_client_frame(std::string& out, ws_opcode opcode, std::string_view payload,
                         const std::array<unsigned char, 4>& mask);
// A close frame's payload: the code, big-endian, then the reason.
std::string ws_close_payload(std::uint16_t code, std::string_view reason);
// What docs/protocol.md says a close code from the daemon means; empty for codes it does not list.
std::string_view ws_close_meaning(std::uint16_t code) noexcept;

// Reads the daemon's frames as they arrive, in pieces of any size.
class ws_frame_reader {
 public:
  struct control {
    ws_opcode opcode = ws_opcode::ping;
    std::string payload;
  };
  struct close_frame {
    std::uint16_t code = 1005;  // 1005: the frame carried no code
    std::string reason;
  };

  // Decodes data[0, size): text message payloads go to `lines` (see the top of this file),
  // pings and pongs to `controls` in order, a close frame to close(). After a close frame the
  // rest is ignored. False on a protocol violation (error() says which); the reader is then
  // spent.
  bool feed(const char* data, std::size_t size, std::vector<char>& lines, std::vector<control>& controls);

  const std::string& error() const noexcept { return error_; }
  const std::optional<close_frame>& close() const noexcept { return close_; }
  std::uint64_t frames() const noexcept { return frames_; }
  std::uint64_t messages() const noexcept { return messages_; }
  std::uint64_t fragmented_messages() const noexcept { return fragmented_; }

 private:
  bool fail(std::string message);
  bool on_header();
  bool on_frame_end(std::vector<char>& lines, std::vector<control>& controls);
  void text(const char* data, std::size_t size, std::vector<char>& lines);

  std::array<unsigned char, 14> header_{};
  std::size_t header_have_ = 0;
  std::size_t header_need_ = 2;
  bool in_payload_ = false;
  std::uint64_t payload_left_ = 0;
  ws_opcode opcode_ = ws_opcode::continuation;  // of the current frame
  bool fin_ = false;
  std::string control_payload_;
  bool in_message_ = false;          // a text message awaits its continuation frames
  std::uint64_t message_frames_ = 0;
  std::optional<close_frame> close_;
  std::string error_;
  std::uint64_t frames_ = 0;
  std::uint64_t messages_ = 0;
  std::uint64_t fragmented_ = 0;
};

}  // namespace followermaze
