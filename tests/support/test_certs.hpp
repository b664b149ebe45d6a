#pragma once
// Certificates for a TLS test, made fresh by tests/support/make_test_certs.sh (Debian's openssl
// command) into a temporary directory that is removed afterwards; see that script for the names.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "eventserver/tls/tls_context.hpp"

namespace eventserver::test_support {

class test_certs {
 public:
  test_certs() {
    std::string pattern = (std::filesystem::temp_directory_path() / "eventserver-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    const std::string command = "sh " EVENTSERVER_SOURCE_DIR "/tests/support/make_test_certs.sh " + dir_.string();
    if (std::system(command.c_str()) != 0) throw std::runtime_error("make_test_certs.sh failed");
  }
  ~test_certs() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  test_certs(const test_certs&) = delete;
  test_certs& operator=(const test_certs&) = delete;

  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The server's material: <name>.pem and <name>.key.
  tls_material server(const std::string& name = "server") const {
    tls_material m;
    m.certificate_chain = read(name + ".pem");
    m.private_key = read(name + ".key");
    m.certificate_file = path(name + ".pem");
    m.key_file = path(name + ".key");
    return m;
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace eventserver::test_support
