#include "followermaze/websocket.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace followermaze {
namespace {

// A server frame (unmasked), as the daemon sends it.
std::string server_frame(std::uint8_t first_byte, std::string_view payload) {
  std::string frame(1, static_cast<char>(first_byte));
  if (payload.size() < 126) {
    frame += static_cast<char>(payload.size());
  } else if (payload.size() <= 0xffff) {
    frame += static_cast<char>(126);
    frame += static_cast<char>(payload.size() >> 8);
    frame += static_cast<char>(payload.size() & 0xff);
  } else {
    frame += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((payload.size() >> shift) & 0xff);
  }
  frame += payload;
  return frame;
}
constexpr std::uint8_t fin = 0x80;
constexpr std::uint8_t text = 0x1;

struct decoded {
  std::string lines;
  std::vector<ws_frame_reader::control> controls;
  bool ok = true;
};

// Feeds `bytes` in pieces of `piece` bytes.
decoded feed(ws_frame_reader& reader, std::string_view bytes, std::size_t piece = 0) {
  decoded out;
  std::vector<char> lines;
  if (piece == 0) piece = bytes.size() + 1;
  for (std::size_t i = 0; i < bytes.size() && out.ok; i += piece) {
    const auto part = bytes.substr(i, piece);
    out.ok = reader.feed(part.data(), part.size(), lines, out.controls);
  }
  out.lines.assign(lines.begin(), lines.end());
  return out;
}

TEST(WebSocket, AcceptOfRfc6455Section1_3) {
  EXPECT_EQ(ws_accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, Base64PadsLikeRfc4648) {
  const auto b64 = [](std::string_view s) {
    return base64(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(s.data()), s.size()));
  };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
}

TEST(WebSocket, KeysAndMasksAreFreshSixteenAndFourBytes) {
  const auto a = ws_new_key();
  EXPECT_EQ(a.size(), 24U);  // 16 bytes in base64
  EXPECT_TRUE(a.ends_with("=="));
  EXPECT_NE(a, ws_new_key());
  EXPECT_NE(ws_new_mask(), ws_new_mask());  // 2^-32 to fail
}

TEST(WebSocket, TargetsAndTheUpgradeRequest) {
  EXPECT_EQ(ws_target(2932, std::nullopt, 0, ""), "/users/2932");
  EXPECT_EQ(ws_target(2932, std::nullopt, 0, "a.b.c"), "/users/2932?token=a.b.c");
  EXPECT_EQ(ws_target(2932, 41785, 0, ""), "/users/2932?last=41785");
  EXPECT_EQ(ws_target(2932, 41785, 3, "a.b.c"), "/users/2932?last=41785&epoch=3&token=a.b.c");
  EXPECT_EQ(ws_target(7, 0, 1, ""), "/users/7?last=0&epoch=1");
  EXPECT_EQ(ws_upgrade_request("127.0.0.1:9098", "/users/7", "dGhlIHNhbXBsZSBub25jZQ==", ""),
            "GET /users/7 HTTP/1.1\r\nHost: 127.0.0.1:9098\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_NE(ws_upgrade_request("h:1", "/users/7", "k", "t.o.k").find("\r\nAuthorization: Bearer t.o.k\r\n\r\n"),
            std::string::npos);
}

constexpr std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";
using outcome = ws_upgrade_response::outcome;

TEST(WebSocket, AcceptsARightUpgradeResponseInAnyCase) {
  const std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n"
      "Sec-WebSocket-Accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\nServer: x\r\n\r\n";
  const auto parsed = parse_upgrade_response(response + "\x81\x01" "1", key);
  EXPECT_EQ(parsed.result, outcome::accepted) << parsed.error;
  EXPECT_EQ(parsed.header_bytes, response.size());  // the frame after it is not the header's
  EXPECT_EQ(parsed.status, 101);
  // Byte by byte, it is incomplete until the blank line.
  for (std::size_t i = 0; i + 1 < response.size(); ++i) {
    EXPECT_EQ(parse_upgrade_response(response.substr(0, i), key).result, outcome::incomplete) << i;
  }
}

TEST(WebSocket, RefusesAWrongUpgradeResponse) {
  const std::string good_headers = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  const auto result = [&](const std::string& response) { return parse_upgrade_response(response, key); };
  auto r = result("HTTP/1.1 101 OK\r\n" + good_headers + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n");
  EXPECT_EQ(r.result, outcome::invalid);
  EXPECT_NE(r.error.find("Sec-WebSocket-Accept"), std::string::npos) << r.error;
  r = result("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  EXPECT_EQ(r.result, outcome::invalid);
  EXPECT_NE(r.error.find("Upgrade: websocket"), std::string::npos) << r.error;
  r = result("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  EXPECT_EQ(r.result, outcome::invalid);
  r = result("HTTP/1.1 101 OK\r\n" + good_headers + "\r\n");
  EXPECT_EQ(r.result, outcome::invalid);
  r = result("HTTP/1.1 101 OK\r\n" + good_headers +
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
  EXPECT_EQ(r.result, outcome::invalid);
  EXPECT_NE(r.error.find("permessage-deflate"), std::string::npos) << r.error;
  r = result("HTTP/1.0 101 OK\r\n\r\n");
  EXPECT_EQ(r.result, outcome::invalid);
  r = result("SSH-2.0-OpenSSH\r\n\r\n");
  EXPECT_EQ(r.result, outcome::invalid);
  r = result(std::string(max_upgrade_response_bytes + 1, 'x'));
  EXPECT_EQ(r.result, outcome::invalid);
}

TEST(WebSocket, AnErrorStatusIsARefusal) {
  const std::string response = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  const auto r = parse_upgrade_response(response, key);
  EXPECT_EQ(r.result, outcome::refused);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error, "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(r.header_bytes, response.size());
}

TEST(WebSocket, ClientFramesAreMaskedWithMinimalLengths) {
  const std::array<unsigned char, 4> mask{0x37, 0xfa, 0x21, 0x3d};
  std::string out;
  append_client_frame(out, ws_opcode::text, "Hello", mask);
  // RFC 6455 section 5.7: a masked "Hello".
  EXPECT_EQ(out, std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  out.clear();
  append_client_frame(out, ws_opcode::pong, "", mask);
  EXPECT_EQ(out, std::string("\x8a\x80\x37\xfa\x21\x3d", 6));
  out.clear();
  append_client_frame(out, ws_opcode::text, std::string(126, 'a'), mask);
  EXPECT_EQ(out.substr(0, 4), std::string("\x81\xfe\x00\x7e", 4));
  EXPECT_EQ(out.size(), 4U + 4U + 126U);
  out.clear();
  append_client_frame(out, ws_opcode::text, std::string(70000, 'a'), mask);
  EXPECT_EQ(out.substr(0, 10), std::string("\x81\xff\x00\x00\x00\x00\x00\x01\x11\x70", 10));
  EXPECT_EQ(ws_close_payload(1000, "bye"), std::string("\x03\xe8" "bye", 5));
}

TEST(WebSocket, TextFramesBecomeLinesEndingInCrLf) {
  ws_frame_reader reader;
  const auto out = feed(reader, server_frame(fin | text, "1|B\n2|P|3|4") + server_frame(fin | text, "resumed|1|0|complete"));
  ASSERT_TRUE(out.ok) << reader.error();
  EXPECT_EQ(out.lines, "1|B\r\n2|P|3|4\r\nresumed|1|0|complete\r\n");
  EXPECT_EQ(reader.frames(), 2U);
  EXPECT_EQ(reader.messages(), 2U);
}

TEST(WebSocket, BrokenFramingRulesShowAsLinesNothingExpects) {
  ws_frame_reader reader;
  // A trailing "\n" gives an empty line; a "\r" stays and doubles; an empty message is an empty line.
  const auto out = feed(reader, server_frame(fin | text, "1|B\n") + server_frame(fin | text, "2|B\r") +
                                    server_frame(fin | text, ""));
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.lines, "1|B\r\n\r\n2|B\r\r\n\r\n");
}

TEST(WebSocket, FragmentedMessagesInAnyPiecesWithControlFramesBetween) {
  // One message in three frames, a line split across two of them, a ping in the middle; then
  // 300- and 70000-byte messages (16- and 64-bit lengths). Fed whole, then a byte at a time.
  const std::string long_line(298, 'x');
  const std::string huge_line(69998, 'y');
  const std::string bytes = server_frame(text, "1|B\n2|") + server_frame(0x89, "ping!") + server_frame(0x0, "S|3\n3") +
                            server_frame(fin | 0x0, "|B") + server_frame(fin | text, long_line + "\nz") +
                            server_frame(fin | text, huge_line + "\nw");
  for (const std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    ws_frame_reader reader;
    const auto out = feed(reader, bytes, piece);
    ASSERT_TRUE(out.ok) << reader.error();
    EXPECT_EQ(out.lines, "1|B\r\n2|S|3\r\n3|B\r\n" + long_line + "\r\nz\r\n" + huge_line + "\r\nw\r\n") << piece;
    ASSERT_EQ(out.controls.size(), 1U);
    EXPECT_EQ(out.controls[0].opcode, ws_opcode::ping);
    EXPECT_EQ(out.controls[0].payload, "ping!");
    EXPECT_EQ(reader.messages(), 3U);
    EXPECT_EQ(reader.fragmented_messages(), 1U);
    EXPECT_EQ(reader.frames(), 6U);
  }
}

TEST(WebSocket, ACloseFrameEndsTheStream) {
  ws_frame_reader reader;
  const auto out = feed(reader, server_frame(fin | text, "1|B") + server_frame(0x88, std::string("\x0f\xa3slow", 6)) +
                                    server_frame(fin | text, "2|B"));
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.lines, "1|B\r\n");  // nothing after the close
  ASSERT_TRUE(reader.close().has_value());
  EXPECT_EQ(reader.close()->code, 4003);
  EXPECT_EQ(reader.close()->reason, "slow");
  EXPECT_EQ(ws_close_meaning(4003), "slow: fell out of history");
  ws_frame_reader empty;
  ASSERT_TRUE(feed(empty, server_frame(0x88, "")).ok);
  EXPECT_EQ(empty.close()->code, 1005);  // no code given
}

TEST(WebSocket, ProtocolViolations) {
  const auto error_of = [](const std::string& bytes) {
    ws_frame_reader reader;
    EXPECT_FALSE(feed(reader, bytes).ok);
    // Spent: nothing more is decoded.
    std::vector<char> lines;
    std::vector<ws_frame_reader::control> controls;
    EXPECT_FALSE(reader.feed("\x81\x01" "1", 3, lines, controls));
    return reader.error();
  };
  EXPECT_NE(error_of(std::string("\x81\x81\x00\x00\x00\x00" "1", 7)).find("masked"), std::string::npos);
  EXPECT_NE(error_of(server_frame(fin | 0x40 | text, "1")).find("reserved bits"), std::string::npos);
  EXPECT_NE(error_of(server_frame(fin | 0x2, "1")).find("binary"), std::string::npos);
  EXPECT_NE(error_of(server_frame(fin | 0x3, "1")).find("opcode 3"), std::string::npos);
  EXPECT_NE(error_of(server_frame(fin | 0x0, "1")).find("continuation"), std::string::npos);
  EXPECT_NE(error_of(server_frame(text, "1") + server_frame(fin | text, "2")).find("inside a fragmented"),
            std::string::npos);
  EXPECT_NE(error_of(server_frame(0x09, "p")).find("fragmented control"), std::string::npos);
  EXPECT_NE(error_of(server_frame(0x89, std::string(126, 'p'))).find("longer than 125"), std::string::npos);
  EXPECT_NE(error_of(server_frame(0x88, "x")).find("one-byte"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10)).find("most significant"),
            std::string::npos);
}

}  // namespace
}  // namespace followermaze
