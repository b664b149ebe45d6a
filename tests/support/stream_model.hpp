#pragma once
// A model of what the daemon must deliver, kept apart from the daemon's own code: a seeded
// random stream of events and, for a user and a range of sequence numbers, the exact
// notifications that user is owed (SPEC.md, "Semantics"). Tests that resume clients, restart
// the daemon or damage its log compare what arrives with this, byte for byte.

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace eventserver::test_support {

struct model_event {
  char type = 'B';  // F U B P S
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::string payload;  // as sent, without "\r\n"
};

class stream_model {
 public:
  // Every number divisible by this is a broadcast: a stream cut there ends with a line every
  // client is owed, so a reader knows where it ends without waiting for silence.
  static constexpr std::uint64_t broadcast_every = 100;

  // `count` events numbered 1..count among users 1..users. Ids are written with up to `pad`
  // leading zeros (the payload is passed through byte for byte, so the padding shows in the
  // notification). Follows and unfollows are balanced, so the graph keeps changing rather than
  // filling up.
  stream_model(std::uint64_t seed, std::uint64_t count, std::uint64_t users = 40, unsigned pad = 40) {
    std::mt19937_64 random(seed);
    const auto user = [&] { return std::uniform_int_distribution<std::uint64_t>(1, users)(random); };
    const auto padded = [&](std::uint64_t id) {
      return std::string(std::uniform_int_distribution<unsigned>(0, pad)(random), '0') + std::to_string(id);
    };
    events_.reserve(count);
    for (std::uint64_t seq = 1; seq <= count; ++seq) {
      model_event e;
      const auto roll = std::uniform_int_distribution<int>(0, 99)(random);
      e.type = roll < 15 ? 'F' : roll < 30 ? 'U' : roll < 35 ? 'B' : roll < 65 ? 'P' : 'S';
      if (seq % broadcast_every == 0) e.type = 'B';  // a mark every client reads up to
      const std::string number = std::to_string(seq);
      switch (e.type) {
        case 'B':
          e.payload = number + "|B";
          break;
        case 'S':
          e.from = user();
          e.payload = number + "|S|" + padded(e.from);
          break;
        default:  // F U P: two different users
          e.from = user();
          do e.to = user(); while (e.to == e.from);
          e.payload = number + "|" + e.type + "|" + padded(e.from) + "|" + std::to_string(e.to);
          break;
      }
      events_.push_back(std::move(e));
    }
  }

  std::uint64_t size() const noexcept { return events_.size(); }
  const model_event& at(std::uint64_t seq) const { return events_.at(seq - 1); }

  // The payloads of first..last, for the producer.
  std::vector<std::string> payloads(std::uint64_t first, std::uint64_t last) const {
    std::vector<std::string> out;
    for (std::uint64_t seq = first; seq <= last; ++seq) out.push_back(at(seq).payload);
    return out;
  }

  // Every notification `user` is owed for the events first..last, in order: broadcasts, its
  // private messages, follows of it, and status updates of whomever it follows at that point
  // (the graph after every event before it, from the stream's start).
  std::vector<std::string> notifications(std::uint64_t user, std::uint64_t first, std::uint64_t last) const {
    std::vector<std::string> out;
    std::set<std::uint64_t> following;
    for (std::uint64_t seq = 1; seq <= last && seq <= size(); ++seq) {
      const model_event& e = at(seq);
      if (seq >= first) {
        const bool owed = e.type == 'B' || ((e.type == 'P' || e.type == 'F') && e.to == user) ||
                          (e.type == 'S' && following.count(e.from) != 0);
        if (owed) out.push_back(e.payload);
      }
      if (e.type == 'F' && e.from == user) following.insert(e.to);
      if (e.type == 'U' && e.from == user) following.erase(e.to);
    }
    return out;
  }

 private:
  std::vector<model_event> events_;
};

}  // namespace eventserver::test_support
