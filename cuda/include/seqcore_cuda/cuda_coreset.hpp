// CUDA backend of the sequential coreset (docs/design.md §2): the same decisions and method
// names as seqcore::SequentialCoreset (coreset.hpp), with the whole state (points, K x K
// canonical distances, row minima, global minimum pair) in device memory of one GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "seqcore/min_pair.hpp"

namespace seqcore::cuda {

/// Number of visible CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count() noexcept;
/// Marketing name of a device ("NVIDIA H100 80GB HBM3").
std::string device_name(int device);

/// Counters of the offer loop since construction (for benchmarks and tuning).
struct OfferStats {
  long long replacements;
  long long rounds;       // decide-and-replace rounds that examined candidates
  long long exact;        // candidates settled with canonical float64 distances
  long long recomputed;   // candidates whose screened minimum was recomputed after a replacement
};

/// Sequential coreset on one GPU: seqcore::SequentialCoreset's methods, plus *_device
/// variants that read float32 row-major device memory in place. Not thread-safe.
class SequentialCoreset {
 public:
  /// Throws std::invalid_argument on capacity/dim 0 or a bad device, std::runtime_error on
  /// CUDA errors (out of memory included).
  SequentialCoreset(std::size_t capacity, std::size_t dim, int device);
  ~SequentialCoreset();
  SequentialCoreset(const SequentialCoreset&) = delete;
  SequentialCoreset& operator=(const SequentialCoreset&) = delete;

  std::size_t capacity() const noexcept;
  std::size_t dim() const noexcept;
  std::size_t size() const noexcept;
  int device() const noexcept;

  /// Copy of the stored points, row-major size() x dim().
  std::vector<float> points() const;
  MinPair min_pair() const;
  /// Canonical squared distances between the stored points, size() x size(), +inf diagonal.
  std::vector<double> sqdist_matrix() const;
  OfferStats stats() const;

  /// Offers count host candidates in order (decisions identical to the CPU core); returns the
  /// number of replacements. With nearest/slot (host arrays of count, or both null) the
  /// per-candidate float32 distance to the nearest stored point (not squared, unlike the CPU
  /// core's double output) and the slot stored in (-1 when rejected) are written.
  std::size_t offer_batch(const float* candidates, std::size_t count, float* nearest = nullptr,
                          std::int64_t* slot = nullptr);
  /// offer_batch on candidates in device memory (nearest/slot are still host arrays).
  std::size_t offer_batch_device(const float* candidates, std::size_t count, float* nearest = nullptr,
                                 std::int64_t* slot = nullptr);

  /// Nearest stored point of each host query: float32 distance and index into host arrays,
  /// chunk_size queries at a time.
  void query(const float* queries, std::size_t count, float* distance, std::int64_t* index,
             std::size_t chunk_size = 2048) const;
  /// query on queries in device memory (distance/index are host arrays).
  void query_device(const float* queries, std::size_t count, float* distance, std::int64_t* index,
                    std::size_t chunk_size = 2048) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

/// Nearest bank row of each query (Euclidean; float32 distance, int64 index) on one GPU.
/// queries/bank are float32 row-major; on the host (copied) or on the device.
void nearest_neighbors(const float* queries, std::size_t n_queries, const float* bank, std::size_t n_bank,
                       std::size_t dim, std::size_t chunk, bool on_device, int device, float* distance,
                       std::int64_t* index);

/// Returns true when all count floats are finite (device memory).
bool device_all_finite(const float* data, std::size_t count, int device);

}  // namespace seqcore::cuda
