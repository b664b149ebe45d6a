#pragma once
// A recipient that records what it is given, for driving the router without sockets.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/router.hpp"

namespace eventserver::testing {

class recording_recipient final : public recipient {
 public:
  // Keeps each notification without its "\r\n", which every one must end with.
  void deliver(sequence_number, std::string_view notification) override {
    EXPECT_TRUE(notification.ends_with("\r\n")) << notification;
    notification.remove_suffix(std::min<std::size_t>(2, notification.size()));
    lines.emplace_back(notification);
  }
  std::vector<std::string> lines;  // payloads
};

}  // namespace eventserver::testing
