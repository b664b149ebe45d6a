#include "openssl.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>

namespace eventserver::auth_detail {

mac_ctx_ptr make_hmac_sha256(std::string_view key) {
  const mac_ptr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!hmac) throw_openssl_error("HMAC unavailable");
  mac_ctx_ptr context(EVP_MAC_CTX_new(hmac.get()));
  if (!context) throw_openssl_error("HMAC context");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  // A null key means "keep the previous one" to EVP_MAC_init: an empty secret needs a pointer.
  static const unsigned char no_bytes[1] = {0};
  const auto* bytes = key.empty() ? no_bytes : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(context.get(), bytes, key.size(), params) != 1) throw_openssl_error("HMAC-SHA256 key");
  return context;
}

md_ptr fetch_sha256() {
  md_ptr sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  if (!sha256) throw_openssl_error("SHA-256 unavailable");
  return sha256;
}

}  // namespace eventserver::auth_detail
