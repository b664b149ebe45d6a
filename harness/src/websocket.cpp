#include "followermaze/websocket.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

namespace followermaze {

namespace {

// RFC 6455 section 1.3.
constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// `Connection: keep-alive, Upgrade` holds the token "upgrade".
bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (equals_ignoring_case(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void random_bytes(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    // The CSPRNG failing is not a reason to stop a load test; a predictable key only weakens
    // what RFC 6455 guards against (cache poisoning by intermediaries), of which there are none.
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<unsigned char>(i * 131 + 7);
  }
}

}  // namespace

std::string base64(std::span<const unsigned char> bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t rest = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    if (rest > 1) n |= std::uint32_t{bytes[i + 1]} << 8;
    if (rest > 2) n |= bytes[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest > 1 ? alphabet[(n >> 6) & 63] : '=';
    out += rest > 2 ? alphabet[n & 63] : '=';
  }
  return out;
}

std::string ws_accept_for(std::string_view key) {
  std::string input(key);
  input += accept_guid;
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return base64(digest);
}

std::string ws_new_key() {
  std::array<unsigned char, 16> nonce{};
  random_bytes(nonce.data(), nonce.size());
  return base64(nonce);
}

std::array<unsigned char, 4> ws_new_mask() {
  std::array<unsigned char, 4> mask{};
  random_bytes(mask.data(), mask.size());
  return mask;
}

std::string ws_target(user_id user, std::optional<std::uint64_t> last, std::uint64_t epoch, std::string_view token) {
  std::string target = "/users/" + std::to_string(user);
  char separator = '?';
  const auto add = [&](std::string_view name, std::string_view value) {
    target += separator;
    target += name;
    target += '=';
    target += value;
    separator = '&';
  };
  if (last) {
    add("last", std::to_string(*last));
    if (epoch != 0) add("epoch", std::to_string(epoch));
  }
  // A compact JWS is base64url and dots: nothing in it needs percent-encoding.
  if (!token.empty()) add("token", token);
  return target;
}

std::string ws_upgrade_request(std::string_view host_header, std::string_view target, std::string_view key,
                               std::string_view bearer) {
  std::string request;
  request.reserve(256 + target.size() + bearer.size());
  request += "GET ";
  request += target;
  request += " HTTP/1.1\r\nHost: ";
  request += host_header;
  request += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  request += key;
  request += "\r\nSec-WebSocket-Version: 13\r\n";
  if (!bearer.empty()) {
    request += "Authorization: Bearer ";
    request += bearer;
    request += "\r\n";
  }
  request += "\r\n";
  return request;
}

ws_upgrade_response parse_upgrade_response(std::string_view received, std::string_view key) {
  using outcome = ws_upgrade_response::outcome;
  ws_upgrade_response response;
  const auto end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (received.size() > max_upgrade_response_bytes) {
      response.result = outcome::invalid;
      response.error = "no end of the response header within " + std::to_string(max_upgrade_response_bytes) + " bytes";
    }
    return response;
  }
  response.header_bytes = end + 4;
  std::string_view header = received.substr(0, end + 2);  // every line with its "\r\n"
  const auto take_line = [&header] {
    const auto line_end = header.find("\r\n");
    const std::string_view line = header.substr(0, line_end);
    header.remove_prefix(line_end + 2);
    return line;
  };

  const std::string_view status_line = take_line();
  constexpr std::string_view version = "HTTP/1.1 ";
  if (!status_line.starts_with(version) || status_line.size() < version.size() + 3 ||
      (status_line.size() > version.size() + 3 && status_line[version.size() + 3] != ' ')) {
    response.result = outcome::invalid;
    response.error = "not an HTTP/1.1 status line: '" + printable(status_line) + "'";
    return response;
  }
  const auto code = parse_u64(status_line.substr(version.size(), 3));
  if (!code) {
    response.result = outcome::invalid;
    response.error = "not an HTTP/1.1 status line: '" + printable(status_line) + "'";
    return response;
  }
  response.status = static_cast<int>(*code);
  if (response.status != 101) {
    response.result = outcome::refused;
    response.error = printable(status_line);
    return response;
  }

  bool upgrade = false;
  bool connection = false;
  std::optional<std::string_view> accept;
  std::string problem;
  while (!header.empty()) {
    const std::string_view line = take_line();
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      problem = "a header line without a name: '" + printable(line) + "'";
      break;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_ignoring_case(name, "Upgrade")) {
      upgrade = equals_ignoring_case(value, "websocket");
    } else if (equals_ignoring_case(name, "Connection")) {
      connection = has_token(value, "upgrade");
    } else if (equals_ignoring_case(name, "Sec-WebSocket-Accept")) {
      accept = value;
    } else if (equals_ignoring_case(name, "Sec-WebSocket-Extensions") ||
               equals_ignoring_case(name, "Sec-WebSocket-Protocol")) {
      // Section 4.1: the client asked for none, so the server may select none.
      problem = "the 101 selects '" + printable(line) + "', which the client did not offer";
    }
  }
  const std::string expected = ws_accept_for(key);
  if (problem.empty() && !upgrade) problem = "the 101 lacks 'Upgrade: websocket'";
  if (problem.empty() && !connection) problem = "the 101 lacks 'Connection: Upgrade'";
  if (problem.empty() && !accept) problem = "the 101 lacks Sec-WebSocket-Accept";
  if (problem.empty() && *accept != expected) {
    problem = "Sec-WebSocket-Accept is '" + printable(*accept) + "', expected '" + expected + "' for the key '" +
              std::string(key) + "'";
  }
  if (!problem.empty()) {
    response.result = outcome::invalid;
    response.error = std::move(problem);
    return response;
  }
  response.result = outcome::accepted;
  return response;
}

void append_client_frame(std::string& out, ws_opcode opcode, std::string_view payload,
                         const std::array<unsigned char, 4>& mask) {
  out += static_cast<char>(0x80 | static_cast<unsigned>(opcode));
  const std::uint64_t size = payload.size();
  if (size < 126) {
    out += static_cast<char>(0x80 | size);
  } else if (size <= 0xffff) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>((size >> 8) & 0xff);
    out += static_cast<char>(size & 0xff);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xff);
  }
  for (const unsigned char m : mask) out += static_cast<char>(m);
  const std::size_t start = out.size();
  out += payload;
  for (std::size_t i = 0; i < payload.size(); ++i) out[start + i] = static_cast<char>(out[start + i] ^ mask[i % 4]);
}

std::string ws_close_payload(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xff);
  payload += reason;
  return payload;
}

std::string_view ws_close_meaning(std::uint16_t code) noexcept {
  switch (code) {
    case 1001: return "the daemon is shutting down";
    case 1003: return "the client sent data";
    case 1008: return "authentication refused";
    case 1009: return "client message too big";
    case 4000: return "token expired";
    case 4001: return "no pong within wsPongTimeoutMs";
    case 4002: return "stuck: nothing written for clientWriteTimeoutMs";
    case 4003: return "slow: fell out of history";
    default: return {};
  }
}

bool ws_frame_reader::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool ws_frame_reader::on_header() {
  const unsigned char first = header_[0];
  const unsigned char second = header_[1];
  if ((first & 0x70) != 0) return fail("a frame with reserved bits set (no extension was negotiated)");
  if ((second & 0x80) != 0) return fail("a masked frame from the server (RFC 6455 section 5.1)");
  fin_ = (first & 0x80) != 0;
  const unsigned op = first & 0x0f;
  const std::uint64_t length7 = second & 0x7f;
  if (header_have_ == 2 && length7 >= 126) {
    header_need_ = length7 == 126 ? 4 : 10;  // the extended length follows
    return true;
  }
  std::uint64_t length = length7;
  if (length7 == 126) {
    length = (std::uint64_t{header_[2]} << 8) | header_[3];
  } else if (length7 == 127) {
    length = 0;
    for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | header_[i];
    if ((length >> 63) != 0) return fail("a frame length with its most significant bit set");
  }
  switch (op) {
    case 0:
      if (!in_message_) return fail("a continuation frame outside a fragmented message");
      break;
    case 1:
      if (in_message_) return fail("a text frame inside a fragmented message");
      break;
    case 2: return fail("a binary frame (the daemon sends text frames)");
    case 8:
    case 9:
    case 10:
      if (!fin_) return fail("a fragmented control frame");
      if (length > 125) return fail("a control frame longer than 125 bytes");
      break;
    default: return fail("a frame with the reserved opcode " + std::to_string(op));
  }
  opcode_ = static_cast<ws_opcode>(op);
  payload_left_ = length;
  in_payload_ = true;
  ++frames_;
  control_payload_.clear();
  if (opcode_ == ws_opcode::text) {
    in_message_ = true;
    message_frames_ = 0;
  }
  if (opcode_ == ws_opcode::text || opcode_ == ws_opcode::continuation) ++message_frames_;
  return true;
}

void ws_frame_reader::text(const char* data, std::size_t size, std::vector<char>& lines) {
  const char* const end = data + size;
  while (data < end) {
    const auto* newline = static_cast<const char*>(std::memchr(data, '\n', static_cast<std::size_t>(end - data)));
    const char* const stop = newline != nullptr ? newline : end;
    lines.insert(lines.end(), data, stop);
    if (newline == nullptr) break;
    lines.push_back('\r');
    lines.push_back('\n');
    data = newline + 1;
  }
}

bool ws_frame_reader::on_frame_end(std::vector<char>& lines, std::vector<control>& controls) {
  in_payload_ = false;
  header_have_ = 0;
  header_need_ = 2;
  switch (opcode_) {
    case ws_opcode::text:
    case ws_opcode::continuation:
      if (fin_) {
        lines.push_back('\r');
        lines.push_back('\n');
        in_message_ = false;
        ++messages_;
        if (message_frames_ > 1) ++fragmented_;
      }
      return true;
    case ws_opcode::close: {
      close_frame frame;
      if (control_payload_.size() == 1) return fail("a close frame with a one-byte payload");
      if (control_payload_.size() >= 2) {
        frame.code = static_cast<std::uint16_t>((static_cast<unsigned char>(control_payload_[0]) << 8) |
                                                static_cast<unsigned char>(control_payload_[1]));
        frame.reason = control_payload_.substr(2);
      }
      close_ = std::move(frame);
      return true;
    }
    case ws_opcode::ping:
    case ws_opcode::pong:
      controls.push_back({opcode_, control_payload_});
      return true;
    case ws_opcode::binary: break;
  }
  return true;
}

bool ws_frame_reader::feed(const char* data, std::size_t size, std::vector<char>& lines,
                           std::vector<control>& controls) {
  if (!error_.empty()) return false;
  const char* const end = data + size;
  while (data < end && !close_) {
    if (!in_payload_) {
      const auto take = std::min<std::size_t>(header_need_ - header_have_, static_cast<std::size_t>(end - data));
      std::memcpy(header_.data() + header_have_, data, take);
      header_have_ += take;
      data += take;
      if (header_have_ < header_need_) break;
      if (!on_header()) return false;
      if (!in_payload_) continue;  // the extended length is still to come
      if (payload_left_ == 0 && !on_frame_end(lines, controls)) return false;
      continue;
    }
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, static_cast<std::uint64_t>(end - data)));
    if (opcode_ == ws_opcode::text || opcode_ == ws_opcode::continuation) {
      text(data, take, lines);
    } else {
      control_payload_.append(data, take);
    }
    data += take;
    payload_left_ -= take;
    if (payload_left_ == 0 && !on_frame_end(lines, controls)) return false;
  }
  return true;
}

}  // namespace followermaze
