// The upgrade request's rules, without a socket: which targets register whom, which are refused
// (and as what), and which origins pass.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eventserver/ws/upgrade_request.hpp"

namespace eventserver {
namespace {

using outcome = users_target::outcome;

TEST(UsersTarget, ThePlainAndTheResumingForms) {
  auto t = parse_users_target("/users/2932");
  ASSERT_EQ(t.result, outcome::ok);
  EXPECT_EQ(t.who.user, 2932u);
  EXPECT_FALSE(t.who.resumes());
  EXPECT_FALSE(t.who.epoch);
  EXPECT_TRUE(t.who.token.empty());

  t = parse_users_target("/users/2932?last=41785");
  ASSERT_EQ(t.result, outcome::ok);
  EXPECT_EQ(t.who.last, 41785u);
  EXPECT_FALSE(t.who.epoch);

  t = parse_users_target("/users/2932?last=0&epoch=3&token=aGVhZA.cGF5bG9hZA.c2ln-_");
  ASSERT_EQ(t.result, outcome::ok);
  EXPECT_EQ(t.who.last, 0u);
  EXPECT_EQ(t.who.epoch, 3u);
  EXPECT_EQ(t.who.token, "aGVhZA.cGF5bG9hZA.c2ln-_");

  t = parse_users_target("/users/1?epoch=2&last=5");  // any order
  ASSERT_EQ(t.result, outcome::ok);
  EXPECT_EQ(t.who.last, 5u);
  EXPECT_EQ(t.who.epoch, 2u);

  t = parse_users_target("/users/18446744073709551615?token=x");
  ASSERT_EQ(t.result, outcome::ok);
  EXPECT_EQ(t.who.user, 18446744073709551615u);
  EXPECT_EQ(parse_users_target("/users/1?").result, outcome::ok);  // an empty query
}

TEST(UsersTarget, OtherPathsAreNotFound) {
  for (const char* target : {"/", "/users", "/user/1", "/users/1/", "/users/1/x", "http://host/users/1", "/Users/1"}) {
    EXPECT_EQ(parse_users_target(target).result, outcome::not_found) << target;
  }
}

TEST(UsersTarget, BadNumbersAndParametersAreRefused) {
  for (const char* target :
       {"/users/", "/users/abc", "/users/-1", "/users/+1", "/users/1%32", "/users/18446744073709551616",
        "/users/1?last", "/users/1?last=", "/users/1?last=-1", "/users/1?last=1&last=2", "/users/1?epoch=1",
        "/users/1?last=1&epoch=0", "/users/1?last=1&epoch=x", "/users/1?token=", "/users/1?token=a%20b",
        "/users/1?token=a&token=b", "/users/1?since=3", "/users/1?last=1&&epoch=1", "/users/1?&"}) {
    const auto t = parse_users_target(target);
    EXPECT_EQ(t.result, outcome::bad) << target;
    EXPECT_FALSE(t.problem.empty()) << target;
  }
}

TEST(Origins, AnEmptyListAllowsAny) {
  EXPECT_TRUE(origin_allowed("https://evil.example.net", {}));
  EXPECT_TRUE(origin_allowed("", {}));
}

TEST(Origins, AListAllowsItsOwnAndRequestsWithoutAnOrigin) {
  const std::vector<std::string> allowed{"https://app.example.com", "http://localhost:8080"};
  EXPECT_TRUE(origin_allowed("https://app.example.com", allowed));
  EXPECT_TRUE(origin_allowed("HTTPS://APP.EXAMPLE.COM", allowed));
  EXPECT_TRUE(origin_allowed("http://localhost:8080", allowed));
  EXPECT_TRUE(origin_allowed("", allowed));
  EXPECT_FALSE(origin_allowed("http://app.example.com", allowed));
  EXPECT_FALSE(origin_allowed("https://app.example.com:8443", allowed));
  EXPECT_FALSE(origin_allowed("http://localhost:8081", allowed));
  EXPECT_FALSE(origin_allowed("null", allowed));
}

TEST(Origins, WhatTheConfigAccepts) {
  for (const char* ok : {"https://example.com", "http://localhost:3000", "https://[::1]:8443", "http://10.0.0.1"}) {
    EXPECT_TRUE(valid_origin(ok)) << ok;
  }
  for (const char* bad : {"", "example.com", "https://", "https://example.com/", "https://example.com/app",
                          "ftp://example.com", "https://exa mple.com", "https://user@example.com", "*", "null",
                          "https://:443"}) {
    EXPECT_FALSE(valid_origin(bad)) << bad;
  }
}

TEST(WebSocketKey, OnlyBase64OfSixteenBytesIsAKey) {
  EXPECT_TRUE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));  // RFC 6455's example
  EXPECT_TRUE(valid_websocket_key("AAECAwQFBgcICQoLDA0ODw=="));
  EXPECT_TRUE(valid_websocket_key("+/+/+/+/+/+/+/+/+/+/+w=="));
  EXPECT_FALSE(valid_websocket_key(""));
  EXPECT_FALSE(valid_websocket_key("abc"));
  EXPECT_FALSE(valid_websocket_key("AAECAwQFBgc="));                  // 8 bytes
  EXPECT_FALSE(valid_websocket_key("AAECAwQFBgcICQoLDA0ODxA="));      // 17 bytes
  EXPECT_FALSE(valid_websocket_key("AAECAwQFBgcICQoLDA0ODw"));        // no padding
  EXPECT_FALSE(valid_websocket_key("AAECAwQFBgcICQoLDA0O*w=="));      // not base64
  EXPECT_FALSE(valid_websocket_key("AAECAwQFBgcICQoLDA0ODx=="));      // bits past the 16 bytes
  EXPECT_FALSE(valid_websocket_key("AAECAwQFBgcICQoLDA0ODw==\r"));
}

}  // namespace
}  // namespace eventserver
