#include "eventserver/core/user_filter.hpp"

#include <algorithm>

namespace eventserver {

user_filter::user_filter(user_id user, std::vector<user_id> following) : user_(user), following_(std::move(following)) {
  std::sort(following_.begin(), following_.end());
  following_.erase(std::unique(following_.begin(), following_.end()), following_.end());
}

bool user_filter::notifies(const event& ev) {
  switch (ev.type) {
    case event_type::follow:
      if (ev.from == user_) {
        const auto at = std::lower_bound(following_.begin(), following_.end(), ev.to);
        if (at == following_.end() || *at != ev.to) following_.insert(at, ev.to);
      }
      return ev.to == user_;
    case event_type::unfollow:
      if (ev.from == user_) {
        const auto at = std::lower_bound(following_.begin(), following_.end(), ev.to);
        if (at != following_.end() && *at == ev.to) following_.erase(at);
      }
      return false;
    case event_type::broadcast:
      return true;
    case event_type::private_message:
      return ev.to == user_;
    case event_type::status_update:
      return std::binary_search(following_.begin(), following_.end(), ev.from);
    case event_type::no_op:
      return false;
  }
  return false;
}

}  // namespace eventserver
