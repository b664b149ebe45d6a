#pragma once
// A client's handshake (docs/protocol.md): which user, whether it resumes, and its token.
//
//   2932                  the classic handshake: user 2932, live from now
//   2932|41785            resume after sequence number 41785 of the current epoch
//   2932|41785|3          resume after 41785 of epoch 3
//   2932|41785|3 <token>  any of these, then a space and a JSON Web Token
//
// Numbers are unsigned 64-bit decimals (no sign, no spaces); nothing else is accepted.

#include <cstdint>
#include <optional>
#include <string_view>

#include "eventserver/core/event.hpp"

namespace eventserver {

struct registration {
  user_id user = 0;
  std::optional<sequence_number> last;  // set: the client resumes after this number
  std::optional<stream_epoch> epoch;    // of `last`; unset: the current epoch
  std::string_view token;               // empty: none given (a view into the parsed line)

  bool resumes() const noexcept { return last.has_value(); }
};

// nullopt for anything but the forms above (a token may not be empty or hold a space).
std::optional<registration> parse_registration(std::string_view line) noexcept;

}  // namespace eventserver
