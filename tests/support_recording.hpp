#pragma once
// A recipient that records what it is given, for driving the router without sockets.

#include <string>
#include <string_view>
#include <vector>

#include "eventserver/router.hpp"

namespace eventserver::testing {

class recording_recipient final : public recipient {
 public:
  void deliver(sequence_number, std::string_view payload) override { lines.emplace_back(payload); }
  std::vector<std::string> lines;
};

}  // namespace eventserver::testing
