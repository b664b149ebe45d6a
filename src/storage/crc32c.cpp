#include "eventserver/storage/crc32c.hpp"

#include <cstring>

#include <boost/crc.hpp>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define EVENTSERVER_CRC32C_X86 1
#endif

namespace eventserver::storage {

namespace detail {

namespace {
std::uint32_t reverse_bits(std::uint32_t v) noexcept {
  v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
  v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
  v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(v);
}
}  // namespace

std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  // The running register of a finished CRC is the CRC with the final xor undone; Boost takes
  // an initial remainder in unreflected bit order, hence the reversal for this reflected CRC.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> engine(reverse_bits(crc ^ 0xFFFFFFFFu));
  engine.process_bytes(data, n);
  return engine.checksum();
}

#if defined(EVENTSERVER_CRC32C_X86)

bool crc32c_hardware_available() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}

__attribute__((target("sse4.2"))) std::uint32_t crc32c_extend_hardware(std::uint32_t crc, const void* data,
                                                                      std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t state = ~crc;
  // Byte steps up to an 8-byte boundary, then the 8-byte instruction, then the rest.
  while (n > 0 && (reinterpret_cast<std::uintptr_t>(p) & 7u) != 0) {
    state = _mm_crc32_u8(state, *p++);
    --n;
  }
  std::uint64_t wide = state;
  while (n >= 32) {
    std::uint64_t words[4];
    std::memcpy(words, p, sizeof words);
    wide = _mm_crc32_u64(wide, words[0]);
    wide = _mm_crc32_u64(wide, words[1]);
    wide = _mm_crc32_u64(wide, words[2]);
    wide = _mm_crc32_u64(wide, words[3]);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    wide = _mm_crc32_u64(wide, word);
    p += 8;
    n -= 8;
  }
  state = static_cast<std::uint32_t>(wide);
  while (n > 0) {
    state = _mm_crc32_u8(state, *p++);
    --n;
  }
  return ~state;
}

#else

bool crc32c_hardware_available() noexcept { return false; }

std::uint32_t crc32c_extend_hardware(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  return crc32c_extend_portable(crc, data, n);
}

#endif

}  // namespace detail

namespace {
using crc32c_function = std::uint32_t (*)(std::uint32_t, const void*, std::size_t) noexcept;

crc32c_function choose_crc32c() noexcept {
  return detail::crc32c_hardware_available() ? &detail::crc32c_extend_hardware : &detail::crc32c_extend_portable;
}
}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  static const crc32c_function chosen = choose_crc32c();
  return chosen(crc, data, n);
}

}  // namespace eventserver::storage
