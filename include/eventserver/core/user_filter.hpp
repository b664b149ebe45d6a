#pragma once
// Which events of the stream notify one user, decided as the router decides them, for a client
// reading history: a follow of the user, a private message to it, a broadcast, a status update
// of someone it follows at that point of the stream. The users it follows are tracked from
// the follow and unfollow events it reads, starting from the set it followed before the first.

#include <span>
#include <vector>

#include "eventserver/core/event.hpp"

namespace eventserver {

class user_filter {
 public:
  // `following`: whom the user followed before the first event it will be shown (any order).
  user_filter(user_id user, std::vector<user_id> following);

  // True when `ev` notifies the user; a follow or unfollow by the user updates the set.
  bool notifies(const event& ev);

  user_id user() const noexcept { return user_; }
  std::span<const user_id> following() const noexcept { return following_; }

 private:
  user_id user_;
  std::vector<user_id> following_;  // sorted
};

}  // namespace eventserver
