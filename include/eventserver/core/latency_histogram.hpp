#pragma once
// A latency histogram the daemon keeps about itself, shown on /metrics as a Prometheus
// histogram: fixed buckets from 100 us to 10 s on a 1-2-5 scale, so histogram_quantile() can
// place a p50 or a p99 anywhere in that range within one bucket. Plain integers, written on
// the event thread only; an observation is a clock difference, a short search and two adds.
// The buckets are counted apart (not cumulatively); /metrics adds them up.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace eventserver {

class latency_histogram {
 public:
  using duration = std::chrono::steady_clock::duration;

  // Upper bounds (Prometheus `le`), in seconds; a slower observation lands in +Inf.
  static constexpr std::array<double, 16> bounds_seconds{0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                         0.05,   0.1,    0.2,    0.5,   1.0,   2.0,   5.0,  10.0};

  // `weight` observations of the same latency at once (the events of one batch).
  void observe(duration latency, std::uint64_t weight = 1) noexcept {
    const auto ns = latency.count() < 0 ? 0 : static_cast<std::uint64_t>(std::chrono::nanoseconds(latency).count());
    std::size_t i = 0;
    while (i < bounds_ns.size() && ns > bounds_ns[i]) ++i;
    buckets_[i] += weight;
    count_ += weight;
    sum_ns_ += ns * weight;
  }

  std::uint64_t count() const noexcept { return count_; }
  double sum_seconds() const noexcept { return static_cast<double>(sum_ns_) / 1e9; }
  // Observations at most bounds_seconds[i] (i < bounds_seconds.size()); the last one, +Inf, is count().
  std::uint64_t cumulative(std::size_t i) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t j = 0; j <= i && j < buckets_.size(); ++j) total += buckets_[j];
    return total;
  }

 private:
  static constexpr std::array<std::uint64_t, 16> bounds_ns{100'000,        200'000,       500'000,       1'000'000,
                                                           2'000'000,      5'000'000,     10'000'000,    20'000'000,
                                                           50'000'000,     100'000'000,   200'000'000,   500'000'000,
                                                           1'000'000'000,  2'000'000'000, 5'000'000'000, 10'000'000'000};
  std::array<std::uint64_t, bounds_ns.size() + 1> buckets_{};  // the last: over 10 s
  std::uint64_t count_ = 0;
  std::uint64_t sum_ns_ = 0;  // 584 years of latency before it wraps
};

}  // namespace eventserver
