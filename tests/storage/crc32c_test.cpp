#include "eventserver/storage/crc32c.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace eventserver::storage {
namespace {

// RFC 3720 (iSCSI) B.4 and the usual check value.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);

  std::array<unsigned char, 32> bytes{};
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x8A9136AAu);
  bytes.fill(0xFF);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x62A8AB43u);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x46DD794Eu);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(31 - i);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x113FDB5Cu);
}

TEST(Crc32c, PortableKnownVectors) {
  EXPECT_EQ(detail::crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
  std::array<unsigned char, 32> zeros{};
  EXPECT_EQ(detail::crc32c_extend_portable(0, zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Crc32c, ExtendEqualsWhole) {
  const std::string_view text = "hello, follower maze";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    const std::uint32_t head = crc32c(text.data(), split);
    EXPECT_EQ(crc32c_extend(head, text.data() + split, text.size() - split), crc32c(text.data(), text.size()))
        << "split " << split;
    EXPECT_EQ(detail::crc32c_extend_portable(detail::crc32c_extend_portable(0, text.data(), split), text.data() + split,
                                             text.size() - split),
              crc32c(text.data(), text.size()));
  }
}

TEST(Crc32c, MaskRoundTripsAndChangesTheValue) {
  for (const std::uint32_t crc : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu, 0x80000000u}) {
    EXPECT_EQ(crc32c_unmask(crc32c_mask(crc)), crc);
    EXPECT_NE(crc32c_mask(crc), crc);
    EXPECT_NE(crc32c_mask(crc32c_mask(crc)), crc32c_mask(crc));
  }
  EXPECT_EQ(crc32c_mask(0), 0xA282EAD8u);
}

// Every length 0..300 at every alignment 0..7: the SSE4.2 path (head bytes, 32- and 8-byte
// steps, tail bytes) against the table-driven one.
TEST(Crc32c, HardwareMatchesPortable) {
  if (!detail::crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937_64 rng(42);
  std::vector<unsigned char> data(300 + 8);
  for (auto& byte : data) byte = static_cast<unsigned char>(rng());
  for (std::size_t misalign = 0; misalign < 8; ++misalign) {
    for (std::size_t n = 0; n <= 300; ++n) {
      const unsigned char* p = data.data() + misalign;
      ASSERT_EQ(detail::crc32c_extend_hardware(0, p, n), detail::crc32c_extend_portable(0, p, n))
          << "length " << n << " misalignment " << misalign;
      ASSERT_EQ(detail::crc32c_extend_hardware(0x12345678u, p, n), detail::crc32c_extend_portable(0x12345678u, p, n))
          << "length " << n << " misalignment " << misalign << " extended";
    }
  }
}

}  // namespace
}  // namespace eventserver::storage
