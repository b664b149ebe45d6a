#pragma once
// The socket options every client connection gets, whatever its transport (TCP, TLS,
// WebSocket): set in one place so that what a client may cost the kernel is the same for all.

#include <cstddef>

#include "eventserver/net/asio.hpp"

namespace eventserver {

// TCP_NODELAY (writes are already coalesced) and, unless `send_buffer_bytes` is 0,
// SO_SNDBUF: the kernel then keeps at most about twice that for the socket, instead of
// autotuning a stuck client's buffer up to tcp_wmem's maximum.
void prepare_client_socket(tcp::socket& socket, std::size_t send_buffer_bytes);

// SO_LINGER 0: closing the socket then resets the connection (RST) and frees its buffers at
// once. Without it a socket closed with unsent data stays an orphan in FIN-WAIT-1, holding
// them, until the peer reads everything or TCP gives up; and the peer, which reads nothing,
// is never told. Only an explicit close() resets: Asio clears the linger before the close in
// a socket's destructor, so that the destructor never blocks.
void reset_on_close(tcp::socket& socket);
// reset_on_close, then close(): the connection is reset now.
void reset_now(tcp::socket& socket);

}  // namespace eventserver
