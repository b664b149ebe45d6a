#pragma once
// Owning handles for the OpenSSL objects the auth layer uses, and the one way it turns an
// OpenSSL failure at start-up into an auth_error.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "eventserver/auth/token.hpp"

namespace eventserver::auth_detail {

template <typename T, void (*free_function)(T*)>
struct openssl_free {
  void operator()(T* p) const noexcept { free_function(p); }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_free<EVP_PKEY, EVP_PKEY_free>>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, openssl_free<EVP_MD_CTX, EVP_MD_CTX_free>>;
using md_ptr = std::unique_ptr<EVP_MD, openssl_free<EVP_MD, EVP_MD_free>>;
using mac_ptr = std::unique_ptr<EVP_MAC, openssl_free<EVP_MAC, EVP_MAC_free>>;
using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, openssl_free<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, openssl_free<ECDSA_SIG, ECDSA_SIG_free>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_free<BIGNUM, BN_free>>;
inline void bio_free(BIO* bio) { BIO_free(bio); }  // BIO_free returns int
using bio_ptr = std::unique_ptr<BIO, openssl_free<BIO, bio_free>>;

// Throws auth_error("<context>: <OpenSSL's reason>") and empties the thread's error queue,
// which the TLS code on the same thread reads.
[[noreturn]] inline void throw_openssl_error(const std::string& context) {
  const unsigned long code = ERR_peek_last_error();
  std::string message = context;
  if (code != 0) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    message += " (";
    message += reason;
    message += ")";
  }
  ERR_clear_error();
  throw auth_error(message);
}

// An HMAC-SHA256 keyed once: each use duplicates it, so the key schedule is not redone per
// message and the template itself is never written after construction.
mac_ctx_ptr make_hmac_sha256(std::string_view key);

// SHA-256, fetched once rather than on every signature.
md_ptr fetch_sha256();

// Clears the thread's OpenSSL error queue on every path out of a scope: a refused token
// leaves reasons there that would otherwise be mistaken for a later TLS failure.
class error_queue_guard {
 public:
  error_queue_guard() noexcept { ERR_set_mark(); }
  error_queue_guard(const error_queue_guard&) = delete;
  error_queue_guard& operator=(const error_queue_guard&) = delete;
  ~error_queue_guard() { ERR_pop_to_mark(); }
};

}  // namespace eventserver::auth_detail
