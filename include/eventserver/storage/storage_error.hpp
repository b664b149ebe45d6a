#pragma once
// The one exception of the storage layer: start-up (opening, recovering, repairing a data
// directory) throws it with a message naming the file, the offset and what to do. Everything
// on the daemon's running path returns std::error_code instead.

#include <stdexcept>

namespace eventserver::storage {

class storage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace eventserver::storage
