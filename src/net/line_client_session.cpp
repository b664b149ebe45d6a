#include "eventserver/net/line_client_session.hpp"

namespace eventserver {

template class basic_line_client_session<tcp::socket>;

}  // namespace eventserver
