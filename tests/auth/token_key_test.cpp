// token_verifier::load: the key file read at start-up and reload, and every way it can be
// unusable. Each error is an auth_error whose message names the file.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <tuple>

#include "auth/auth_support.hpp"

namespace eventserver {
namespace {

using namespace auth_test;
using ::testing::AllOf;
using ::testing::HasSubstr;

// The message of the auth_error that loading `settings` throws ("" if it does not throw).
std::string load_error(const token_settings& settings) {
  try {
    (void)token_verifier::load(settings);
  } catch (const auth_error& e) {
    return e.what();
  }
  return "";
}

token_settings file_settings(token_algorithm algorithm, const std::string& path) {
  auto settings = settings_for(algorithm);
  settings.key_file = path;
  return settings;
}

std::string good_token(token_algorithm algorithm, const std::string& key) {
  return token_signer::from_key(algorithm, key).sign(good_claims().dump());
}

TEST(TokenKey, LoadsEachAlgorithmsKeyFromAFile) {
  const temp_dir dir;
  const std::string secret_path = dir.write("secret", secret);
  const std::string rsa_path = dir.write("rsa.pub", rsa_key().public_pem);
  const std::string ec_path = dir.write("ec.pub", ec_key().public_pem);
  for (const auto& [algorithm, path, signing_key] :
       {std::tuple{token_algorithm::hs256, secret_path, secret},
        std::tuple{token_algorithm::rs256, rsa_path, rsa_key().private_pem},
        std::tuple{token_algorithm::es256, ec_path, ec_key().private_pem}}) {
    const auto verifier = token_verifier::load(file_settings(algorithm, path));
    EXPECT_EQ(verifier.algorithm(), algorithm);
    const auto result = verifier.verify(good_token(algorithm, signing_key), now);
    ASSERT_TRUE(result.has_value()) << to_string(algorithm) << ": " << to_string(result.error());
    EXPECT_EQ(result->user, 42u);
  }
}

// `echo "$SECRET" > file` leaves a newline the backend does not sign with.
TEST(TokenKey, DropsOneLineEndFromTheSecret) {
  const temp_dir dir;
  for (const std::string ending : {"\n", "\r\n"}) {
    const auto verifier = token_verifier::load(file_settings(token_algorithm::hs256, dir.write("secret", secret + ending)));
    EXPECT_TRUE(verifier.verify(good_token(token_algorithm::hs256, secret), now).has_value());
  }
  // Only one: the rest is part of the secret.
  const auto verifier = token_verifier::load(file_settings(token_algorithm::hs256, dir.write("secret", secret + "\n\n")));
  EXPECT_EQ(verifier.verify(good_token(token_algorithm::hs256, secret), now).error(), token_refusal::bad_signature);
  EXPECT_TRUE(verifier.verify(good_token(token_algorithm::hs256, secret + "\n"), now).has_value());
}

TEST(TokenKey, FollowsASymbolicLink) {
  // Mounted secrets (Kubernetes, Docker) are symbolic links to the current version.
  const temp_dir dir;
  const auto target = dir.write("secret-v1", secret);
  const auto link = dir.file("secret");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(load_error(file_settings(token_algorithm::hs256, link)), "");
}

TEST(TokenKey, RefusesAMissingFile) {
  const temp_dir dir;
  const auto path = dir.file("absent");
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, path)),
              AllOf(HasSubstr(path), HasSubstr("No such file or directory")));
}

TEST(TokenKey, RefusesNoFileAtAll) {
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, "")), HasSubstr("no key file"));
}

TEST(TokenKey, RefusesADirectory) {
  const temp_dir dir;
  const auto path = dir.write("placeholder", "x");
  const auto directory = path.substr(0, path.rfind('/'));
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, directory)),
              AllOf(HasSubstr(directory), HasSubstr("not a regular file")));
}

// Opening a FIFO for reading would wait for a writer: start-up must not hang on a mistake.
TEST(TokenKey, RefusesAFifoWithoutWaiting) {
  const temp_dir dir;
  const auto path = dir.file("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THAT(load_error(file_settings(token_algorithm::rs256, path)), AllOf(HasSubstr(path), HasSubstr("not a regular file")));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(TokenKey, RefusesADevice) {
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, "/dev/zero")),
              AllOf(HasSubstr("/dev/zero"), HasSubstr("not a regular file")));
}

TEST(TokenKey, RefusesAFileOverTheBound) {
  const temp_dir dir;
  const auto path = dir.write("big", std::string(token_verifier::max_key_file_bytes + 1, 'k'));
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, path)), AllOf(HasSubstr(path), HasSubstr("larger than 65536")));
  // At the bound it is read (a very long secret is still a secret).
  const auto at_bound = dir.write("at-bound", std::string(token_verifier::max_key_file_bytes, 'k'));
  EXPECT_EQ(load_error(file_settings(token_algorithm::hs256, at_bound)), "");
}

TEST(TokenKey, RefusesAShortOrEmptySecret) {
  const temp_dir dir;
  const auto empty = dir.write("empty", "");
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, empty)), AllOf(HasSubstr(empty), HasSubstr("0 bytes")));
  const auto newline_only = dir.write("newline", "\n");
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, newline_only)), HasSubstr("0 bytes"));
  const auto short_secret = dir.write("short", secret.substr(1) + "\n");
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, short_secret)),
              AllOf(HasSubstr(short_secret), HasSubstr("31 bytes"), HasSubstr("at least 32")));
}

// The key-confusion set-up, made by the operator: a public key as the HMAC secret. Anyone
// who has the public key could then sign tokens.
TEST(TokenKey, RefusesAPemFileAsTheHs256Secret) {
  const temp_dir dir;
  const auto path = dir.write("rsa.pub", rsa_key().public_pem);
  EXPECT_THAT(load_error(file_settings(token_algorithm::hs256, path)), AllOf(HasSubstr(path), HasSubstr("PEM")));
}

TEST(TokenKey, RefusesAFileThatHoldsNoPublicKey) {
  const temp_dir dir;
  for (const auto& content : {std::string("not a key at all\n"), std::string(""), secret,
                                    std::string("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
                                    std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    const auto path = dir.write("key.pem", content);
    for (const auto algorithm : {token_algorithm::rs256, token_algorithm::es256}) {
      EXPECT_THAT(load_error(file_settings(algorithm, path)), AllOf(HasSubstr(path), HasSubstr("no PEM public key")))
          << content;
    }
  }
}

TEST(TokenKey, RefusesAPrivateKeyAndSaysWhy) {
  const temp_dir dir;
  const auto path = dir.write("rsa.pem", rsa_key().private_pem);
  EXPECT_THAT(load_error(file_settings(token_algorithm::rs256, path)), AllOf(HasSubstr(path), HasSubstr("private key")));
}

TEST(TokenKey, RefusesAKeyOfTheWrongType) {
  const temp_dir dir;
  const auto ec_path = dir.write("ec.pub", ec_key().public_pem);
  const auto rsa_path = dir.write("rsa.pub", rsa_key().public_pem);
  EXPECT_THAT(load_error(file_settings(token_algorithm::rs256, ec_path)), AllOf(HasSubstr(ec_path), HasSubstr("not an RSA")));
  EXPECT_THAT(load_error(file_settings(token_algorithm::es256, rsa_path)), AllOf(HasSubstr(rsa_path), HasSubstr("P-256")));
}

TEST(TokenKey, RefusesAnEcKeyOnAnotherCurve) {
  const temp_dir dir;
  const auto path = dir.write("p384.pub", make_ec_key("P-384").public_pem);
  EXPECT_THAT(load_error(file_settings(token_algorithm::es256, path)), AllOf(HasSubstr(path), HasSubstr("P-256")));
}

TEST(TokenKey, RefusesAShortRsaKey) {
  const temp_dir dir;
  const auto path = dir.write("rsa1024.pub", make_rsa_key(1024).public_pem);
  EXPECT_THAT(load_error(file_settings(token_algorithm::rs256, path)),
              AllOf(HasSubstr(path), HasSubstr("1024 bits"), HasSubstr("at least 2048")));
}

TEST(TokenKey, RefusesANegativeLeeway) {
  auto settings = settings_for(token_algorithm::hs256);
  settings.leeway = std::chrono::seconds(-1);
  EXPECT_THROW((void)token_verifier::from_key(settings, secret), auth_error);
}

TEST(TokenKey, ReloadReplacesTheKey) {
  const temp_dir dir;
  const std::string new_secret = "a new secret, rotated, 32+ bytes long";
  auto verifier = token_verifier::load(file_settings(token_algorithm::hs256, dir.write("secret", secret)));
  verifier = token_verifier::load(file_settings(token_algorithm::hs256, dir.write("secret", new_secret)));
  EXPECT_EQ(verifier.verify(good_token(token_algorithm::hs256, secret), now).error(), token_refusal::bad_signature);
  EXPECT_TRUE(verifier.verify(good_token(token_algorithm::hs256, new_secret), now).has_value());
}

TEST(TokenSigner, RefusesAKeyThatDoesNotFitTheAlgorithm) {
  EXPECT_THROW((void)token_signer::from_key(token_algorithm::rs256, "not a key"), auth_error);
  EXPECT_THROW((void)token_signer::from_key(token_algorithm::rs256, ec_key().private_pem), auth_error);
  EXPECT_THROW((void)token_signer::from_key(token_algorithm::es256, rsa_key().private_pem), auth_error);
  EXPECT_THROW((void)token_signer::from_key(token_algorithm::es256, make_ec_key("P-384").private_pem), auth_error);
  EXPECT_THROW((void)token_signer::from_key(token_algorithm::rs256, rsa_key().public_pem), auth_error);
}

}  // namespace
}  // namespace eventserver
