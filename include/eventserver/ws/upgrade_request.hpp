#pragma once
// What a WebSocket client asks for in its upgrade request (docs/protocol.md, "WebSocket"):
//
//   GET /users/<user>                          live notifications from now on
//   GET /users/<user>?last=<seq>               resume after <seq> of the current epoch
//   GET /users/<user>?last=<seq>&epoch=<e>     resume after <seq> of epoch <e>
//   ...&token=<jwt> (or ?token=<jwt>)          a JSON Web Token, as after the TCP id line
//
// The same registration as the TCP handshake line (core/registration.hpp), with the same
// numbers: unsigned 64-bit decimals, no sign, no spaces, no percent-encoding; each parameter
// at most once, `epoch` only with `last`; anything else is refused. Plain functions of
// strings, so every refusal is unit-tested without a socket.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "eventserver/core/registration.hpp"

namespace eventserver {

struct users_target {
  enum class outcome : std::uint8_t {
    ok,         // `who` is the registration
    not_found,  // not /users/<something>: 404
    bad,        // /users/... with a bad id, number or parameter: 400
  };
  outcome result = outcome::bad;
  registration who;          // ok: who.token is a view into the target (empty: none given)
  std::string_view problem;  // not ok: what was wrong, for the log (a static string)
};

users_target parse_users_target(std::string_view target) noexcept;

// Whether a page of `origin` may open a WebSocket here: always when `allowed` is empty, else
// when `origin` is one of them (ASCII case-insensitively). A request without an Origin
// header is not from a browser, and anything outside a browser can send whatever Origin it
// likes: the list protects browsers' users from other sites' pages, so it lets such a
// request through.
bool origin_allowed(std::string_view origin, std::span<const std::string> allowed) noexcept;

// Whether a Sec-WebSocket-Key is base64 of 16 bytes (RFC 6455 4.2.1, point 5): 22 characters
// of the base64 alphabet, the last carrying only zero bits, then "==". Anything else is a 400.
bool valid_websocket_key(std::string_view key) noexcept;

// A well-formed wsAllowedOrigins entry: "http://" or "https://", a host, an optional port,
// and nothing else (no path, not even a trailing '/'): what a browser sends as Origin.
bool valid_origin(std::string_view origin) noexcept;

}  // namespace eventserver
