#pragma once
// The fixture of the cluster tests: a single nats-server with JetStream of its own, started on
// an ephemeral loopback port for each test, and stream settings pointing at it.

#include <chrono>

#include <gtest/gtest.h>

#include "eventserver/cluster/jetstream_stream.hpp"
#include "support/nats_server.hpp"

namespace eventserver::cluster::testing {

class nats_test : public ::testing::Test {
 protected:
  void SetUp() override {
    EVENTSERVER_REQUIRE_NATS_SERVER();
    ASSERT_TRUE(server_.start()) << server_.error();
    settings_.servers = server_.url();
    settings_.timeout = std::chrono::milliseconds(1500);
  }

  test_support::nats_server server_;
  stream_settings settings_;
};

}  // namespace eventserver::cluster::testing
