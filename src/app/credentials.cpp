#include "eventserver/app/credentials.hpp"

#include <algorithm>

namespace eventserver {

namespace {
// A file's content without the one line end an editor adds.
std::string without_line_end(std::string text) {
  if (text.ends_with("\r\n")) {
    text.resize(text.size() - 2);
  } else if (text.ends_with('\n')) {
    text.pop_back();
  }
  return text;
}

std::shared_ptr<ssl::context> load_tls(const config& settings) {
  // A PEM chain or key is a few KiB; a CA bundle may be a few hundred.
  constexpr std::size_t max_pem_bytes = 1024 * 1024;
  tls_material material;
  material.certificate_file = settings.tls_cert_file;
  material.key_file = settings.tls_key_file;
  material.client_ca_file = settings.tls_client_ca_file;
  material.min_version = settings.tls_min_version;
  material.certificate_chain = read_small_file(settings.tls_cert_file, max_pem_bytes, "tlsCertFile");
  material.private_key = read_small_file(settings.tls_key_file, max_pem_bytes, "tlsKeyFile");
  if (!settings.tls_client_ca_file.empty()) {
    material.client_ca = read_small_file(settings.tls_client_ca_file, max_pem_bytes, "tlsClientCaFile");
  }
  try {
    return make_server_context(material);
  } catch (const tls_error& e) {
    throw config_error(e.what());
  }
}

std::shared_ptr<const token_verifier> load_verifier(const config& settings) {
  token_settings token;
  token.algorithm = settings.jwt_algorithm;
  token.key_file = settings.jwt_key_file;
  token.audience = settings.jwt_audience;
  token.issuer = settings.jwt_issuer;
  try {
    // Read with the same bound as every other small file, then built from the bytes.
    return std::make_shared<const token_verifier>(token_verifier::from_key(
        token, read_small_file(settings.jwt_key_file, token_verifier::max_key_file_bytes, "jwtKeyFile")));
  } catch (const auth_error& e) {
    throw config_error(std::string("jwtKeyFile: ") + e.what());
  }
}

std::string load_admin_token(const config& settings) {
  std::string token =
      without_line_end(read_small_file(settings.admin_token_file, max_admin_token_bytes, "adminTokenFile"));
  const bool printable = std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 127; });
  if (token.size() < min_admin_token_bytes || !printable) {
    throw config_error(settings.admin_token_file + ": adminTokenFile must hold one token of at least " +
                       std::to_string(min_admin_token_bytes) +
                       " printable characters without spaces (for example: openssl rand -hex 32)");
  }
  return token;
}
}  // namespace

credentials load_credentials(const config& settings) {
  credentials loaded;
  if (settings.client_tls || settings.ws_tls) loaded.tls = load_tls(settings);
  if (settings.client_auth == client_auth_mode::jwt) loaded.verifier = load_verifier(settings);
  if (!settings.admin_token_file.empty()) loaded.admin_token = load_admin_token(settings);
  return loaded;
}

}  // namespace eventserver
