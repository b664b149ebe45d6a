#include "followermaze/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace followermaze {

std::size_t latency_histogram::bucket_of(std::uint64_t value) noexcept {
  if (value < sub_buckets) return static_cast<std::size_t>(value);
  // msb >= 7; keep the 8 leading bits (128..255) as the sub-bucket of that power of two.
  const auto msb = static_cast<unsigned>(std::bit_width(value) - 1);
  const auto shift = msb - sub_bucket_bits;
  const std::uint64_t sub = (value >> shift) - sub_buckets;
  return static_cast<std::size_t>((static_cast<std::uint64_t>(msb - sub_bucket_bits + 1) << sub_bucket_bits) + sub);
}

std::uint64_t latency_histogram::bucket_lowest(std::size_t bucket) noexcept {
  if (bucket < sub_buckets) return bucket;
  const auto shift = static_cast<unsigned>((bucket >> sub_bucket_bits) - 1);
  const std::uint64_t sub = (bucket & (sub_buckets - 1)) + sub_buckets;
  return sub << shift;
}

std::uint64_t latency_histogram::bucket_highest(std::size_t bucket) noexcept {
  if (bucket < sub_buckets) return bucket;
  const auto shift = static_cast<unsigned>((bucket >> sub_bucket_bits) - 1);
  return bucket_lowest(bucket) + ((1ULL << shift) - 1);
}

void latency_histogram::record(std::uint64_t value) noexcept {
  ++counts_[bucket_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::uint64_t latency_histogram::percentile(double percent) const noexcept {
  if (count_ == 0) return 0;
  const double exact_rank = std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(exact_rank));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_highest(i), max_);
  }
  return max_;
}

}  // namespace followermaze
