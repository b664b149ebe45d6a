#include "eventserver/net/client_socket.hpp"

namespace eventserver {

void prepare_client_socket(tcp::socket& socket, std::size_t send_buffer_bytes) {
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (send_buffer_bytes != 0) {
    socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(send_buffer_bytes)), ignored);
  }
}

void reset_on_close(tcp::socket& socket) {
  error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
}

void reset_now(tcp::socket& socket) {
  reset_on_close(socket);
  error_code ignored;
  socket.close(ignored);
}

}  // namespace eventserver
