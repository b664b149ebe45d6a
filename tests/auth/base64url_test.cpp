// base64url as JWS uses it: RFC 4648 section 5 vectors, no padding, and exactly one accepted
// spelling per value.

#include "eventserver/auth/base64url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace eventserver {
namespace {

// RFC 4648 section 10, in the URL alphabet and without the '=' padding.
TEST(Base64url, EncodesTheRfcVectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64url, UsesTheUrlAlphabet) {
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_"), std::string("\xfb\xff\xbf"));
}

TEST(Base64url, DecodesTheRfcVectors) {
  EXPECT_EQ(base64url_decode(""), std::string());
  EXPECT_EQ(base64url_decode("Zg"), std::string("f"));
  EXPECT_EQ(base64url_decode("Zm8"), std::string("fo"));
  EXPECT_EQ(base64url_decode("Zm9v"), std::string("foo"));
  EXPECT_EQ(base64url_decode("Zm9vYg"), std::string("foob"));
  EXPECT_EQ(base64url_decode("Zm9vYmE"), std::string("fooba"));
  EXPECT_EQ(base64url_decode("Zm9vYmFy"), std::string("foobar"));
}

TEST(Base64url, RoundTripsEveryByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (std::size_t size = 0; size <= bytes.size(); ++size) {
    const auto text = base64url_encode(bytes.substr(0, size));
    EXPECT_EQ(text.size(), (size * 4 + 2) / 3);
    EXPECT_EQ(base64url_decode(text), bytes.substr(0, size));
  }
}

TEST(Base64url, RefusesPaddingAndTheStandardAlphabet) {
  EXPECT_EQ(base64url_decode("Zg=="), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm8="), std::nullopt);
  EXPECT_EQ(base64url_decode("+/+/"), std::nullopt);
}

TEST(Base64url, RefusesWhitespaceAndBytesOutsideTheAlphabet) {
  for (const std::string text : {" Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n", "Zm9v\r\n", "Zm9\tv", "Zm9.", "Zm9v!",
                                 "Zm9\x80", "Zm9\xff", "Zm9\x80Zm9v"}) {
    EXPECT_EQ(base64url_decode(text), std::nullopt) << text;
  }
  EXPECT_EQ(base64url_decode(std::string("Zm9\0", 4)), std::nullopt);
}

TEST(Base64url, RefusesALengthOfOneModFour) {
  EXPECT_EQ(base64url_decode("Z"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9vY"), std::nullopt);
}

// "Zg" is f; "Zh".."Zv" carry the same byte with non-zero spare bits: a second spelling.
TEST(Base64url, RefusesNonZeroSpareBits) {
  EXPECT_EQ(base64url_decode("Zh"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zv"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9"), std::nullopt);  // "fo" is Zm8: 9 sets a spare bit
  EXPECT_EQ(base64url_decode("Zm-"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zw"), std::string("g"));
}

TEST(Base64url, DecodedSizeIsExactForWellFormedText) {
  EXPECT_EQ(base64url_decoded_size(0), 0u);
  EXPECT_EQ(base64url_decoded_size(2), 1u);
  EXPECT_EQ(base64url_decoded_size(3), 2u);
  EXPECT_EQ(base64url_decoded_size(4), 3u);
  EXPECT_EQ(base64url_decoded_size(6), 4u);
  EXPECT_EQ(base64url_decoded_size(8192), 6144u);
}

}  // namespace
}  // namespace eventserver
