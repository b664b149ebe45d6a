#pragma once
// Reads a key file at start-up or reload: bounded, and never blocking on something that is
// not a regular file (a FIFO, a device) named by mistake.

#include <cstddef>
#include <string>

namespace eventserver::auth_detail {

// The whole content of `path`, a regular file of at most `max_bytes` (symbolic links are
// followed: mounted secrets are links). Throws auth_error naming the file.
std::string read_key_file(const std::string& path, std::size_t max_bytes);

}  // namespace eventserver::auth_detail
