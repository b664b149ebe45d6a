#include "eventserver/core/user_filter.hpp"

#include <algorithm>

namespace eventserver {

user_filter::user_filter(user_id user, std::vector<user_id> following) : user_(user), following_(std::move(following)) {
  std::sort(following_.begin(), following_.end());
  following_.erase(std::unique(following_.begin(), following_.end()), following_.end());
  remark();
}

void user_filter::remark() noexcept {
  std::fill(maybe_.get(), maybe_.get() + maybe_words, std::uint64_t{0});
  for (const user_id whom : following_) mark(whom);
}

bool user_filter::notifies(const event& ev) {
  switch (ev.type) {
    case event_type::follow:
      if (ev.from == user_) followed(ev.to);
      return ev.to == user_;
    case event_type::unfollow:
      if (ev.from == user_) unfollowed(ev.to);
      return false;
    case event_type::broadcast:
      return true;
    case event_type::private_message:
      return ev.to == user_;
    case event_type::status_update:
      return follows(ev.from);
    case event_type::no_op:
      return false;
  }
  return false;
}

bool user_filter::notifies_line(std::string_view line, sequence_number seq) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const parse_result parsed = parse_event(line);
  return parsed.status == parse_status::ok && notifies(event{seq, parsed.ev.type, parsed.ev.from, parsed.ev.to});
}

void user_filter::followed(user_id whom) {
  const auto at = std::lower_bound(following_.begin(), following_.end(), whom);
  if (at == following_.end() || *at != whom) following_.insert(at, whom);
  mark(whom);
}

void user_filter::unfollowed(user_id whom) {
  const auto at = std::lower_bound(following_.begin(), following_.end(), whom);
  if (at != following_.end() && *at == whom) {
    following_.erase(at);
    remark();  // rare: only the user's own unfollows
  }
}

// Most events a client in catch-up reads are status updates of random senders: each step of
// this search is a conditional move, where std::binary_search would mispredict about every
// other step (follower_graph does the same).
bool user_filter::search(user_id whom) const noexcept {
  std::size_t n = following_.size();
  if (n == 0) return false;
  const user_id* base = following_.data();
  while (n > 1) {
    const std::size_t half = n / 2;
    base = base[half] <= whom ? base + half : base;
    n -= half;
  }
  return *base == whom;
}

}  // namespace eventserver
