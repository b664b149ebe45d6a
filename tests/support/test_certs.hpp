#pragma once
// Test certificates in a temporary directory of their own (make_test_certificates, see
// temp_directory.hpp), with the server's material read back as tls_material.

#include <string>

#include "eventserver/tls/tls_context.hpp"
#include "support/temp_directory.hpp"

namespace eventserver::test_support {

class test_certs : public temp_directory {
 public:
  test_certs() : temp_directory("eventserver-tls") { make_test_certificates(path()); }

  // The path of `name` inside (what config keys and file APIs take).
  std::string path(const std::string& name) const { return file(name); }
  using temp_directory::path;

  // The server's material: <name>.pem and <name>.key.
  tls_material server(const std::string& name = "server") const {
    tls_material m;
    m.certificate_chain = read(name + ".pem");
    m.private_key = read(name + ".key");
    m.certificate_file = file(name + ".pem");
    m.key_file = file(name + ".key");
    return m;
  }
};

}  // namespace eventserver::test_support
