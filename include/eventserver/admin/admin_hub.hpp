#pragma once
// What an admin HTTP session may ask of the daemon (the server implements it). Each answer is
// built from the state at that instant on the io thread.

#include <cstdint>
#include <string>

#include "eventserver/admin/admin_views.hpp"

namespace eventserver {

class admin_session;

class admin_hub {
 public:
  virtual void admin_opened(admin_session& session) = 0;
  virtual void admin_closed(admin_session& session) = 0;
  virtual server_snapshot snapshot() const = 0;
  // Empty when ready; otherwise why not.
  virtual std::string readiness_problem() const = 0;
  // Adds to `build` the next connections of its page, at most `max_connections` of them;
  // true once the answer is complete (its tail written).
  virtual bool connz_slice(connz_build& build, std::size_t max_connections) const = 0;
  virtual bool stopping() const noexcept = 0;
  // The bearer token every request must carry (adminTokenFile); empty: none is required.
  virtual const std::string& admin_token() const = 0;
  // Requests refused for a missing or wrong token. The admin sessions count; the hub keeps the
  // number, since sessions come and go.
  virtual std::uint64_t& admin_unauthorized() = 0;
  // Connections closed for sending no authorized request within the first-request deadline.
  virtual std::uint64_t& admin_first_request_timeouts() = 0;

 protected:
  ~admin_hub() = default;
};

}  // namespace eventserver
