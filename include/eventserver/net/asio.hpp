#pragma once
// The one place that says which Asio the project uses.

#include <boost/asio.hpp>

namespace eventserver {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
}  // namespace eventserver
