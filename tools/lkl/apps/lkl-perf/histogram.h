// Latency histogram with bounded memory: exact below 256 ns, then 128 buckets per power of two
// (under 0.8 % relative error), so a run of any length costs the same 60 KiB.
#ifndef LKL_PERF_HISTOGRAM_H
#define LKL_PERF_HISTOGRAM_H

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

namespace perf {

class Histogram {
 public:
  void add(uint64_t ns) {
    counts_[index(ns)]++;
    count_++;
    sum_ += static_cast<double>(ns);
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }

  uint64_t count() const { return count_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }

  // The value below which a fraction q (0..1) of the samples lie: the middle of its bucket,
  // kept within [min, max].
  uint64_t quantile(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); i++) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(middle(i), min_, max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 7;  // 128 buckets per power of two
  static constexpr uint64_t kExact = uint64_t{2} << kSubBits;
  static constexpr size_t kBuckets = kExact + (64 - kSubBits - 1) * (size_t{1} << kSubBits);

  static size_t index(uint64_t v) {
    if (v < kExact) return static_cast<size_t>(v);
    const unsigned msb = 63 - static_cast<unsigned>(std::countl_zero(v));
    const unsigned shift = msb - kSubBits;
    const uint64_t top = v >> shift;  // in [2^kSubBits, 2^(kSubBits+1))
    return kExact + (shift - 1) * (size_t{1} << kSubBits) + (top - (uint64_t{1} << kSubBits));
  }

  static uint64_t middle(size_t i) {
    if (i < kExact) return i;
    const size_t k = i - kExact;
    const unsigned shift = static_cast<unsigned>(k >> kSubBits) + 1;
    const uint64_t top = (uint64_t{1} << kSubBits) + (k & ((size_t{1} << kSubBits) - 1));
    return (top << shift) + (uint64_t{1} << (shift - 1));
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace perf

#endif  // LKL_PERF_HISTOGRAM_H
