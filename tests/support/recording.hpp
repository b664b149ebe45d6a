#pragma once
// A recipient that records what it is given, for driving the router without sockets.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "eventserver/core/router.hpp"

namespace eventserver::testing {

// The payload of a notification, which must end with "\r\n".
inline std::string payload_of(std::string_view notification) {
  EXPECT_TRUE(notification.ends_with("\r\n")) << notification;
  notification.remove_suffix(std::min<std::size_t>(2, notification.size()));
  return std::string(notification);
}

class recording_recipient final : public recipient {
 public:
  void deliver(sequence_number, line_ref notification) override {
    // The maker's promise: `readable` bytes may be read, at least the notification's. Reading
    // the last of them makes an over-promise an error under AddressSanitizer.
    EXPECT_GE(notification.readable(), notification.size());
    if (notification.readable() != 0) last_readable_byte = notification.data()[notification.readable() - 1];
    lines.push_back(payload_of(notification));
  }
  void begin_stream(stream_epoch epoch) override { epochs.push_back(epoch); }
  char last_readable_byte = 0;
  std::vector<std::string> lines;  // payloads
  std::vector<stream_epoch> epochs;  // new streams it was told of
};

}  // namespace eventserver::testing
