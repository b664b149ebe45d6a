#include "followermaze/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace followermaze {
namespace {

// Two lines of a real /proc/net/tcp: a listener on 127.0.0.1:9099 and the daemon's end of a
// client connection from port 40000 (0x9C40), closed with bytes unsent (04: FIN_WAIT1).
constexpr const char* table =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:2383 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n"
    "   1: 0100007F:2383 0100007F:9C40 04 0000C000:00000000 01:00000014 00000000  1000        0 0 3 0 20 4 30 10 -1\n"
    "   2: 0100007F:2383 0100007F:9C41 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0 20 4 30 10 -1\n"
    "   3: 0100007F:9C41 0100007F:2383 01 00000000:00000000 00:00000000 00000000  1000        0 4244 1 0 20 4 30 10 -1";

TEST(Net, FindsThePeersEndOfAConnection) {
  constexpr const char* wildcard = "00000000:2383";
  EXPECT_EQ(tcp_table(table).find("0100007F:2383", "0100007F:9C40", wildcard), peer_end::closed);
  EXPECT_EQ(tcp_table(table).find("0100007F:2383", "0100007F:9C41", wildcard), peer_end::open);  // last line, no '\n'
  // Not there while the port it was accepted on listens here: gone.
  EXPECT_EQ(tcp_table(table).find("0100007F:2383", "0100007F:9C42", wildcard), peer_end::closed);
  // Not there, and nothing listens on that port here: another host, or another namespace.
  EXPECT_EQ(tcp_table(table).find("0100007F:2384", "0100007F:9C42", "00000000:2384"), peer_end::unknown);
  EXPECT_EQ(tcp_table(table).find("0100007F:9C40", "0100007F:2383", "00000000:9C40"), peer_end::unknown);
  EXPECT_EQ(tcp_table("").find("0100007F:2383", "0100007F:9C40", wildcard), peer_end::unknown);
  // A listener on the any-address counts too.
  constexpr const char* any =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000:2383 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0\n";
  EXPECT_EQ(tcp_table(any).find("0100007F:2383", "0100007F:9C40", wildcard), peer_end::closed);
}

TEST(Net, SeesALoopbackPeerOpenThenClosed) {
  std::ifstream probe("/proc/net/tcp");
  if (!probe) GTEST_SKIP() << "no /proc/net/tcp";
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t size = sizeof address;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size), 0);
  const auto client = connect_tcp("127.0.0.1", ntohs(address.sin_port), 1000);
  ASSERT_GE(client.fd, 0) << client.error;
  const int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  const int fds[] = {client.fd};
  EXPECT_EQ(peer_ends(fds).front(), peer_end::open);
  close(server);  // nothing unsent: FIN_WAIT2 once the client's kernel acknowledges the FIN
  EXPECT_EQ(peer_ends(fds).front(), peer_end::closed);
  close(listener);  // FIN_WAIT2 still: the state, not the listener, says so
  EXPECT_EQ(peer_ends(fds).front(), peer_end::closed);
  close(client.fd);
}

}  // namespace
}  // namespace followermaze
