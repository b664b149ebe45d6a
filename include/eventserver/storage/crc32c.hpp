#pragma once
// CRC-32C (Castagnoli), the checksum of every batch and snapshot chunk. SSE4.2's crc32
// instruction when the CPU has it (checked once at run time), else a table-driven Boost CRC;
// both give the same values (tests/storage/crc32c_test.cpp).

#include <cstddef>
#include <cstdint>

namespace eventserver::storage {

// The CRC of the bytes covered by `crc` followed by data[0, n): crc32c_extend(crc32c(a), b)
// == crc32c(a + b).
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n) noexcept;

inline std::uint32_t crc32c(const void* data, std::size_t n) noexcept { return crc32c_extend(0, data, n); }

// Stored CRCs are masked (LevelDB's rotation plus a constant): the CRC of bytes that embed
// their own unmasked CRC is degenerate, and a file of CRCs is exactly that.
inline constexpr std::uint32_t crc32c_mask_delta = 0xa282ead8u;

constexpr std::uint32_t crc32c_mask(std::uint32_t crc) noexcept {
  return ((crc >> 15) | (crc << 17)) + crc32c_mask_delta;
}

constexpr std::uint32_t crc32c_unmask(std::uint32_t masked) noexcept {
  const std::uint32_t rotated = masked - crc32c_mask_delta;
  return (rotated >> 17) | (rotated << 15);
}

// The two implementations, for the tests and the benchmark.
namespace detail {
bool crc32c_hardware_available() noexcept;
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t n) noexcept;
// Only when crc32c_hardware_available().
std::uint32_t crc32c_extend_hardware(std::uint32_t crc, const void* data, std::size_t n) noexcept;
}  // namespace detail

}  // namespace eventserver::storage
