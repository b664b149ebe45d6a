#pragma once
// The admin port's bearer token (RFC 6750): whether a request may be answered. Plain
// functions over strings, so the rules are unit-tested without a socket.
//
// With a token configured, a request is answered when it carries `Authorization: Bearer
// <token>`. A browser cannot put that header on a page it navigates to, nor on an EventSource
// or a <script src>, so the status page and the two resources it loads (`/`, `/events`,
// `/static/chart.js`) also take the token as the query parameter `token=`: the operator opens
// `/?token=...` once and the page passes the token on to its own two requests. Every other
// endpoint (/metrics, /connz, ...) takes the header only, so a token never has to appear in a
// scraper's URL or in a proxy's access log of them.

#include <optional>
#include <string>
#include <string_view>

#include "eventserver/net/bearer.hpp"  // bearer_credentials

namespace eventserver {

// Equality for secrets: the time taken depends on the lengths, never on where the contents
// differ, so a timing probe cannot guess a token byte by byte.
bool secrets_equal(std::string_view expected, std::string_view given) noexcept;

// The value of `name` in a query string ("a=1&token=x"), percent-decoded; nullopt when absent
// or badly encoded. '+' stays '+': a token holds no spaces, and base64 tokens hold '+'.
std::optional<std::string> query_parameter(std::string_view query, std::string_view name);

// Whether the admin port may answer a request to `path`. `token` empty: always.
bool admin_authorized(std::string_view token, std::string_view path, std::string_view query,
                      std::string_view authorization);

// The paths that accept the token in the query (the status page and what it loads).
bool accepts_query_token(std::string_view path) noexcept;

}  // namespace eventserver
