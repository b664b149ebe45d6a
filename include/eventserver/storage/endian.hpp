#pragma once
// Fixed-width little-endian integers in byte buffers: every on-disk number of the storage
// formats goes through these, so the files read the same on any host.

#include <bit>
#include <cstdint>
#include <cstring>

namespace eventserver::storage {

template <typename T>
constexpr T to_little_endian(T value) noexcept {
  if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
    return value;
  } else if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(value));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(value));
  } else {
    return static_cast<T>(__builtin_bswap64(value));
  }
}

template <typename T>
inline void store_le(char* at, T value) noexcept {
  const T le = to_little_endian(value);
  std::memcpy(at, &le, sizeof le);
}

template <typename T>
inline T load_le(const char* at) noexcept {
  T le;
  std::memcpy(&le, at, sizeof le);
  return to_little_endian(le);  // the swap is its own inverse
}

}  // namespace eventserver::storage
