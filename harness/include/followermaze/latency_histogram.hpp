#pragma once
// A log-linear histogram of non-negative integer values (the harness records nanoseconds):
// values below 128 each have their own bucket; above, every power of two is cut into 128
// equal buckets, so a reported percentile is at most 1/128 (< 0.8%) above the true value.
// Fixed size (7424 counters, ~58 KiB), O(1) record, no allocation after construction: it
// replaces a per-notification vector of samples.

#include <array>
#include <cstddef>
#include <cstdint>

namespace followermaze {

class latency_histogram {
 public:
  static constexpr unsigned sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_buckets = 1ULL << sub_bucket_bits;  // 128
  static constexpr std::size_t bucket_count = (64 - sub_bucket_bits + 1) * sub_buckets;

  void record(std::uint64_t value) noexcept;
  void merge(const latency_histogram& other) noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const noexcept { return max_; }

  // The smallest bucket bound at or below which at least `percent`% of the values lie (the
  // nearest-rank definition, rank = ceil(percent/100 * count), at least 1), reported as the
  // bucket's highest value and never above the exact maximum. 0 when empty.
  std::uint64_t percentile(double percent) const noexcept;

  static std::size_t bucket_of(std::uint64_t value) noexcept;
  static std::uint64_t bucket_lowest(std::size_t bucket) noexcept;
  static std::uint64_t bucket_highest(std::size_t bucket) noexcept;

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~0ULL;
  std::uint64_t max_ = 0;
};

}  // namespace followermaze
