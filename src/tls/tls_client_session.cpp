#include "eventserver/tls/tls_client_session.hpp"

namespace eventserver {

template class basic_line_client_session<tls_socket>;

}  // namespace eventserver
