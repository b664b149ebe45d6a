// How many tokens the event thread can verify per second: each algorithm on a good token
// (the handshake cost), and the refusals an attacker can make it compute (a forged
// signature, garbage). Keys are generated at start-up.

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "eventserver/auth/token_signer.hpp"
#include "eventserver/auth/token_verifier.hpp"

namespace {

using eventserver::token_algorithm;
using eventserver::token_signer;
using eventserver::token_verifier;

const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
const std::string claims = R"({"sub":"2932","exp":1700000600,"iat":1700000000,"aud":"eventserver"})";

struct key_pair {
  std::string private_pem;
  std::string public_pem;
};

key_pair generate(token_algorithm algorithm) {
  if (algorithm == token_algorithm::hs256) return {"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"};
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      algorithm == token_algorithm::rs256 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) throw std::runtime_error("key generation failed");
  key_pair pair;
  for (const bool private_part : {true, false}) {
    const std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new(BIO_s_mem()), BIO_free_all);
    if (private_part) {
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio.get(), key.get());
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    (private_part ? pair.private_pem : pair.public_pem).assign(data, static_cast<std::size_t>(size));
  }
  return pair;
}

struct fixture {
  token_verifier verifier;
  token_signer signer;
  std::string token;
};

const fixture& fixture_for(token_algorithm algorithm) {
  static const auto make = [](token_algorithm a) {
    const auto keys = generate(a);
    eventserver::token_settings settings;
    settings.algorithm = a;
    settings.key_file = "bench";
    settings.audience = "eventserver";
    auto signer = token_signer::from_key(a, keys.private_pem);
    auto token = signer.sign(claims);
    return fixture{token_verifier::from_key(settings, keys.public_pem), std::move(signer), std::move(token)};
  };
  static const fixture hs = make(token_algorithm::hs256);
  static const fixture rs = make(token_algorithm::rs256);
  static const fixture es = make(token_algorithm::es256);
  return algorithm == token_algorithm::hs256 ? hs : algorithm == token_algorithm::rs256 ? rs : es;
}

void verify_good(benchmark::State& state, token_algorithm algorithm) {
  const auto& f = fixture_for(algorithm);
  for (auto _ : state) {
    auto result = f.verifier.verify(f.token, now);
    if (!result) state.SkipWithError("refused");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}

// The most an attacker can make the daemon compute: a well-formed token whose signature fails.
void verify_forged(benchmark::State& state, token_algorithm algorithm) {
  const auto& f = fixture_for(algorithm);
  std::string forged = f.token;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  for (auto _ : state) {
    auto result = f.verifier.verify(forged, now);
    if (result || result.error() != eventserver::token_refusal::bad_signature) state.SkipWithError("not bad_signature");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}

void verify_garbage(benchmark::State& state) {
  const auto& f = fixture_for(token_algorithm::hs256);
  const std::string garbage(1000, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(f.verifier.verify(garbage, now));
  state.SetItemsProcessed(state.iterations());
}

void sign(benchmark::State& state, token_algorithm algorithm) {
  const auto& f = fixture_for(algorithm);
  for (auto _ : state) benchmark::DoNotOptimize(f.signer.sign(claims));
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(verify_good, hs256, token_algorithm::hs256);
BENCHMARK_CAPTURE(verify_good, rs256, token_algorithm::rs256);
BENCHMARK_CAPTURE(verify_good, es256, token_algorithm::es256);
BENCHMARK_CAPTURE(verify_forged, hs256, token_algorithm::hs256);
BENCHMARK_CAPTURE(verify_forged, rs256, token_algorithm::rs256);
BENCHMARK_CAPTURE(verify_forged, es256, token_algorithm::es256);
BENCHMARK(verify_garbage);
BENCHMARK_CAPTURE(sign, hs256, token_algorithm::hs256);
BENCHMARK_CAPTURE(sign, rs256, token_algorithm::rs256);
BENCHMARK_CAPTURE(sign, es256, token_algorithm::es256);

}  // namespace

BENCHMARK_MAIN();
