#pragma once
// The credentials of an HTTP Authorization header (RFC 6750): what the admin port checks its
// bearer token against, and where a WebSocket client may put its JSON Web Token.

#include <optional>
#include <string_view>

namespace eventserver {

// "Bearer <token>" (the scheme in any case, spaces or tabs around the token): the token;
// nullopt for another scheme or no token.
std::optional<std::string_view> bearer_credentials(std::string_view authorization) noexcept;

}  // namespace eventserver
