#pragma once
// What the daemon's security settings name on disk (docs/security.md): the TLS certificate,
// key and client CA, the JWT key, the admin token. Read (each a regular file of bounded
// size) and built into what the sessions use, at start-up and again on SIGHUP. Loading
// blocks on the filesystem, so a reload runs on the helper thread and hands the result to
// the event thread, which swaps it in: connections keep what they started with.

#include <memory>
#include <string>
#include <string_view>

#include "eventserver/app/config.hpp"
#include "eventserver/auth/token_verifier.hpp"
#include "eventserver/tls/tls_context.hpp"

namespace eventserver {

struct credentials {
  std::shared_ptr<ssl::context> tls;                // null without clientTls and wsTls
  std::shared_ptr<const token_verifier> verifier;   // null under clientAuth none
  std::string admin_token;                          // empty without adminTokenFile
};

// Throws config_error naming the file and what is wrong with it.
credentials load_credentials(const config& settings);

// What SIGHUP re-reads (main.cpp): the log settings, and the files load_credentials reads.
// Every other key needs a restart. The README, docs/configuration.md and docs/operations.md
// each name all of them where they describe SIGHUP (tests/app/config_test.cpp checks).
inline constexpr std::string_view reloaded_on_sighup[] = {"logLevel",        "logFile",    "tlsCertFile",   "tlsKeyFile",
                                                          "tlsClientCaFile", "jwtKeyFile", "adminTokenFile"};

// The longest admin token file read, and the shortest token taken: a guessable token is no
// protection.
inline constexpr std::size_t max_admin_token_bytes = 4096;
inline constexpr std::size_t min_admin_token_bytes = 16;

}  // namespace eventserver
