// What one client may cost, the kernel included, and that a client cut off releases it at
// once (issue 22): the send buffer the daemon sets bounds a stuck client's kernel memory; a
// client cut off for a policy is reset, so its socket leaves no orphan behind and the client
// learns of it; "stuck" means the peer took no byte, not that no write completed. In-process
// daemons over real loopback sockets; the kernel's view of the daemon's sockets comes from
// /proc/net/tcp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

#include "support/daemon.hpp"

namespace eventserver {
namespace {

using namespace test_support;

lines privates_to(user_id to, sequence_number first, sequence_number last, std::size_t every = 1,
                  std::size_t pad = 400) {
  lines out;
  for (sequence_number seq = first; seq <= last; seq += every) {
    out.push_back(std::to_string(seq) + "|P|" + std::string(pad, '0') + "7|" + std::to_string(to));
  }
  return out;
}

std::uint16_t local_port(const connection& conn) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(conn.fd(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// The kernel's socket from local port `local` to remote port `remote` on 127.0.0.1, as
// /proc/net/tcp shows it: its state and the bytes in its send queue (sent and not
// acknowledged, or not sent yet). nullopt once the socket is gone.
struct kernel_socket {
  int state = 0;  // 1 established, 4 FIN-WAIT-1, ...
  std::uint64_t send_queue = 0;
};

std::optional<kernel_socket> find_socket(std::uint16_t local, std::uint16_t remote) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local_address, remote_address, state, queues;
    fields >> slot >> local_address >> remote_address >> state >> queues;
    const auto port_of = [](const std::string& address) {
      return static_cast<std::uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    if (port_of(local_address) != local || port_of(remote_address) != remote) continue;
    return kernel_socket{std::stoi(state, nullptr, 16), std::stoull(queues.substr(0, queues.find(':')), nullptr, 16)};
  }
  return std::nullopt;
}

config small_queues() {
  config c = test_config();
  c.max_client_queue_bytes = 4096;
  c.client_write_batch_bytes = 1024;
  return c;
}

// A client that never reads holds what its socket's send buffer takes, and no more: the
// daemon sets SO_SNDBUF (clientSendBufferBytes), and the kernel charges at most twice that.
// Left to autotuning, the same socket grew to megabytes.
TEST(ClientCost, AStuckClientHoldsAtMostTwiceTheSendBufferInTheKernel) {
  config c = small_queues();
  c.client_send_buffer_bytes = 16 * 1024;
  c.client_write_timeout = 0ms;  // never cut off: the buffer stays full for the test to look at
  test_daemon d(c);
  auto stuck = d.connect_user(2, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  std::jthread feed([&source] { source.send_lines(privates_to(2, 1, 8000)); });  // 3.3 MB for user 2
  // Over its queue bound even after a write: the socket took all it would.
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().catch_up_entered >= 1; }));
  const auto daemon_side = find_socket(d.client_port(), local_port(stuck));
  ASSERT_TRUE(daemon_side);
  EXPECT_GT(daemon_side->send_queue, 0u);
  EXPECT_LE(daemon_side->send_queue, 2 * c.client_send_buffer_bytes);
}

// Cut off as stuck: the daemon's socket is gone at once (reset, no orphan in FIN-WAIT-1
// holding the unsent bytes), and the client, reading now, learns it was cut off (ECONNRESET)
// instead of reading on and meeting an ordinary end.
TEST(ClientCost, AClientCutOffAsStuckIsResetAndLeavesNoOrphan) {
  config c = small_queues();
  c.client_write_timeout = 300ms;
  test_daemon d(c);
  auto fine = d.connect_user(1);
  auto stuck = d.connect_user(2, /*receive_buffer=*/4096);
  const std::uint16_t stuck_port = local_port(stuck);
  auto source = d.connect_source();
  std::jthread feed([&source] {
    source.send_lines(privates_to(2, 1, 8000));
    source.send_lines({"8001|B"});
  });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().clients_disconnected_stuck == 1; }));
  EXPECT_TRUE(d.logs().contains("(user 2) disconnected: stuck")) << d.logs().dump();
  EXPECT_TRUE(d.wait_for_client_sessions(1));
  // The client has still read nothing: a graceful close would leave the daemon's socket in
  // FIN-WAIT-1 with its send queue until it does.
  for (int i = 0; i < 200 && find_socket(d.client_port(), stuck_port); ++i) std::this_thread::sleep_for(10ms);
  const auto left = find_socket(d.client_port(), stuck_port);
  EXPECT_FALSE(left) << "state " << left->state << ", " << left->send_queue << " bytes queued";
  EXPECT_EQ(stuck.wait_closed(), read_status::reset);
  EXPECT_EQ(fine.read_lines(1), (lines{"8001|B"}));
}

// Without history a client over its queue bound is cut off as slow: reset as well.
TEST(ClientCost, AClientCutOffAsSlowIsReset) {
  config c = small_queues();
  c.history_bytes = 0;
  test_daemon d(c);
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  std::jthread feed([&source] { source.send_lines(privates_to(2, 1, 4000)); });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().clients_disconnected_slow == 1; }));
  EXPECT_EQ(slow.wait_closed(), read_status::reset);
}

// Past maxClients the new connection is reset at once.
TEST(ClientCost, AConnectionOverTheLimitIsReset) {
  config c = test_config();
  c.max_clients = 1;
  test_daemon d(c);
  auto first = d.connect_user(1);
  auto second = connection::open(d.client_port());
  EXPECT_EQ(second.wait_closed(), read_status::reset);
  EXPECT_EQ(d.stats().clients_rejected_limit, 1u);
}

// "Stuck" is about bytes the client took. A reader that drains its socket at a tenth of the
// rate its stream comes in, behind a send buffer of megabytes (which turns writable again only
// once a third of it is drained, seconds at this pace), is never cut off with a timeout of
// 300 ms; a reader beside it that takes nothing is.
TEST(ClientCost, AReaderAtATenthOfItsRateIsNeverStuckButOneThatTakesNothingIs) {
  config c = small_queues();
  c.client_send_buffer_bytes = 512 * 1024;
  c.client_write_timeout = 300ms;
  c.history_bytes = 64 << 20;
  test_daemon d(c);
  auto slow = d.connect_user(2, /*receive_buffer=*/4096);
  auto stuck = d.connect_user(3, /*receive_buffer=*/4096);
  auto source = d.connect_source();
  // 4.3 MB each, as fast as the daemon takes it.
  lines stream;
  for (sequence_number seq = 1; seq <= 20000; ++seq) {
    stream.push_back(std::to_string(seq) + "|P|" + std::string(400, '0') + "7|" + (seq % 2 ? "2" : "3"));
  }
  std::jthread feed([&source, &stream] { source.send_lines(stream); });
  // At most 200 KB/s, all along: one read of its 4 KiB buffer every 20 ms. The stream comes in
  // at well over 2 MB/s.
  std::atomic<std::size_t> taken{0};
  std::atomic<bool> open{true};
  std::jthread reader([&slow, &taken, &open](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const std::size_t got = slow.read_bytes(1, 1s).size() + slow.take_buffered().size();  // one recv
      if (slow.status() == read_status::eof || slow.status() == read_status::reset) {
        open = false;
        return;
      }
      taken += got;
      std::this_thread::sleep_for(20ms);
    }
  });
  ASSERT_TRUE(d.wait_until([](server& s) { return s.stats().clients_disconnected_stuck >= 1; }));
  EXPECT_TRUE(d.logs().contains("(user 3) disconnected: stuck")) << d.logs().dump();
  // Another 128 KiB read at this pace, more than half a second: timeouts pass meanwhile.
  const std::size_t then = taken;
  for (int i = 0; i < 1000 && open && taken < then + 128 * 1024; ++i) std::this_thread::sleep_for(10ms);
  reader.request_stop();
  reader.join();
  EXPECT_TRUE(open);
  EXPECT_GE(taken, then + 128 * 1024);
  EXPECT_EQ(d.stats().clients_disconnected_stuck, 1u);
  EXPECT_FALSE(d.logs().contains("(user 2) disconnected")) << d.logs().dump();
}

}  // namespace
}  // namespace eventserver
