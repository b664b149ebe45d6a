#pragma once
// What the peer of a TCP socket has taken: the bytes it acknowledged (TCP_INFO's
// tcpi_bytes_acked, Linux 4.1+). A write the kernel accepted is not a byte the client took:
// with a send buffer of megabytes the socket turns writable again only after the reader has
// drained a third of it, so the stuck-client rule asks the kernel this instead. Kept apart
// from Asio: <linux/tcp.h>, which has the field, clashes with <netinet/tcp.h>, which Asio uses.

#include <cstdint>
#include <optional>

namespace eventserver {

// Bytes of the connection on `fd` the peer has acknowledged since it opened (a counter that
// only grows); nullopt when the kernel cannot tell (not a TCP socket, or an older kernel).
std::optional<std::uint64_t> tcp_bytes_acked(int fd) noexcept;

}  // namespace eventserver
