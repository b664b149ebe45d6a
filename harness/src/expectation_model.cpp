#include "followermaze/expectation_model.hpp"

#include <stdexcept>

namespace followermaze {

expectation_model::expectation_model(user_id max_user)
    : graph_(max_user),
      connected_followers_(static_cast<std::size_t>(max_user) + 1),
      first_connection_(static_cast<std::size_t>(max_user) + 1, none) {}

connection_index expectation_model::add_connection(user_id user) {
  if (user >= first_connection_.size()) throw std::out_of_range("expectation_model: user id past max_user");
  if (graph_.edge_count() != 0) throw std::logic_error("expectation_model: connections come before the first event");
  const auto index = static_cast<connection_index>(connection_user_.size());
  connection_user_.push_back(user);
  next_connection_.push_back(none);
  // Append to the end of the user's chain so its connections come out in registration order.
  if (first_connection_[user] == none) {
    first_connection_[user] = index;
  } else {
    connection_index c = first_connection_[user];
    while (next_connection_[c] != none) c = next_connection_[c];
    next_connection_[c] = index;
  }
  return index;
}

void expectation_model::forget_connected_follower(user_id follower, user_id followed) noexcept {
  auto& list = connected_followers_[followed];
  for (auto& f : list) {
    if (f == follower) {
      f = list.back();
      list.pop_back();
      return;
    }
  }
}

}  // namespace followermaze
