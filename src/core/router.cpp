#include "eventserver/core/router.hpp"

#include <algorithm>

namespace eventserver {

const router::connection_list* router::find_online(user_id user) const {
  const auto it = online_.find(user);
  return it == online_.end() ? nullptr : &it->second;
}

void router::connect(user_id user, recipient& connection) {
  auto& list = online_[user];
  const bool comes_online = list.empty();
  list.push_back(&connection);
  ++connections_;
  for (const user_id followed : graph_.following(user)) {
    auto& followers = audiences_[followed];
    followers.connected.push_back(&connection);
    if (comes_online) ++followers.online_followers;
  }
}

void router::disconnect(user_id user, recipient& connection) {
  const auto it = online_.find(user);
  if (it == online_.end()) return;
  auto& list = it->second;
  const auto at = std::find(list.begin(), list.end(), &connection);
  if (at == list.end()) return;  // not this user's connection: leave the others alone
  list.erase(at);
  --connections_;
  const bool goes_offline = list.empty();
  if (goes_offline) online_.erase(it);
  for (const user_id followed : graph_.following(user)) {
    auto& followers = audiences_[followed];
    remove_connection(followers, &connection);
    if (goes_offline) --followers.online_followers;
  }
}

void router::apply(const event& ev, line_ref notification) {
  switch (ev.type) {
    case event_type::follow:
      if (graph_.follow(ev.from, ev.to)) {
        if (changes_ != nullptr) changes_->record(ev.seq, ev.from, ev.to, true);
        auto& followed = audiences_[ev.to];
        ++followed.followers;
        if (const connection_list* follower = find_online(ev.from)) {
          followed.connected.insert(followed.connected.end(), follower->begin(), follower->end());
          ++followed.online_followers;
        }
      }
      notify(ev.to, ev, notification);
      break;
    case event_type::unfollow:
      if (graph_.unfollow(ev.from, ev.to)) {
        if (changes_ != nullptr) changes_->record(ev.seq, ev.from, ev.to, false);
        const auto it = audiences_.find(ev.to);  // there: the edge was counted in it
        if (const connection_list* follower = find_online(ev.from)) {
          for (const recipient* connection : *follower) remove_connection(it->second, connection);
          --it->second.online_followers;
        }
        if (--it->second.followers == 0) audiences_.erase(it);
      }
      break;
    case event_type::broadcast:
      broadcast(ev, notification);
      break;
    case event_type::private_message:
      notify(ev.to, ev, notification);
      break;
    case event_type::status_update:
      if (const auto it = audiences_.find(ev.from); it != audiences_.end()) {
        const audience& followed = it->second;
        notify(followed.connected, ev, notification);
        stats_.notifications_dropped_offline += followed.followers - followed.online_followers;
      }
      break;
    case event_type::no_op:
      break;
  }
}

void router::notify(user_id user, const event& ev, line_ref notification) {
  if (const connection_list* connections = find_online(user)) {
    notify(*connections, ev, notification);
  } else {
    ++stats_.notifications_dropped_offline;
  }
}

// Every connection, thousands of them: each deliver() starts with a cache miss on its
// connection (a heap object of its own), so the list is taken from the map first and each
// connection is prefetched a few deliveries ahead of its turn.
void router::broadcast(const event& ev, line_ref notification) {
  everyone_.clear();
  for (const auto& [id, connections] : online_) everyone_.insert(everyone_.end(), connections.begin(), connections.end());
  constexpr std::size_t ahead = 8;
  const std::size_t count = everyone_.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (i + ahead < count) {
      const auto* next = reinterpret_cast<const char*>(everyone_[i + ahead]);
      __builtin_prefetch(next);
      __builtin_prefetch(next + 64);
    }
    everyone_[i]->deliver(ev.seq, notification);
  }
}

template <class List>
void router::notify(const List& connections, const event& ev, line_ref notification) {
  for (recipient* connection : connections) connection->deliver(ev.seq, notification);
}

void router::remove_connection(audience& followed, const recipient* connection) {
  auto& list = followed.connected;
  const auto at = std::find(list.begin(), list.end(), connection);
  if (at == list.end()) return;
  *at = list.back();  // order among followers is irrelevant: each gets its own copy
  list.pop_back();
}

void router::begin_stream(stream_epoch epoch) {
  graph_.clear();
  audiences_.clear();
  if (changes_ != nullptr) changes_->reset(0);
  for (const auto& [user, connections] : online_) {
    for (recipient* connection : connections) connection->begin_stream(epoch);
  }
}

void router::install_graph(follower_graph graph) {
  graph_ = std::move(graph);
  audiences_.clear();
  graph_.for_each([this](user_id user, std::span<const user_id> followed) {
    const connection_list* connections = find_online(user);
    for (const user_id f : followed) {
      auto& followers = audiences_[f];
      ++followers.followers;
      if (connections != nullptr) {
        followers.connected.insert(followers.connected.end(), connections->begin(), connections->end());
        ++followers.online_followers;
      }
    }
  });
}

std::size_t router::connections_of(user_id user) const {
  const connection_list* connections = find_online(user);
  return connections == nullptr ? 0 : connections->size();
}

std::size_t router::follower_count(user_id user) const {
  const auto it = audiences_.find(user);
  return it == audiences_.end() ? 0 : it->second.followers;
}

std::size_t router::connected_followers_of(user_id user) const {
  const auto it = audiences_.find(user);
  return it == audiences_.end() ? 0 : it->second.connected.size();
}

}  // namespace eventserver
