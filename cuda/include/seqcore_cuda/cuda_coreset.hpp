// CUDA backend of the sequential coreset (docs/design.md §2): the same decisions as
// seqcore::SequentialCoreset, with the whole state (points, K x K canonical distances, row
// minima, global minimum pair) in device memory of one GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace seqcore::cuda {

/// Number of visible CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count() noexcept;
/// Marketing name of a device ("NVIDIA H100 80GB HBM3").
std::string device_name(int device);

/// Closest stored pair (i < j) and its canonical squared distance; (-1, -1, +inf) below 2 points.
struct CudaMinPair {
  std::int64_t i;
  std::int64_t j;
  double sqdist;
};

/// Counters of the offer loop since construction (for benchmarks and tuning).
struct CudaOfferStats {
  long long replacements;
  long long rounds;       // decide-and-replace rounds that examined candidates
  long long exact;        // candidates settled with canonical float64 distances
  long long recomputed;   // candidates whose screened minimum was recomputed after a replacement
};

/// Sequential coreset on one GPU. Candidate and query pointers may live on the host or the
/// device (the *_device methods take float32 row-major device memory). Not thread-safe.
class CudaCoreset {
 public:
  /// Throws std::invalid_argument on capacity/dim 0 or a bad device, std::runtime_error on
  /// CUDA errors (out of memory included).
  CudaCoreset(std::size_t capacity, std::size_t dim, int device);
  ~CudaCoreset();
  CudaCoreset(const CudaCoreset&) = delete;
  CudaCoreset& operator=(const CudaCoreset&) = delete;

  std::size_t capacity() const noexcept;
  std::size_t dim() const noexcept;
  std::size_t size() const noexcept;
  int device() const noexcept;

  std::vector<float> points() const;          // size x dim, row-major
  CudaMinPair min_pair() const;
  std::vector<double> sqdist_matrix() const;  // size x size canonical squared distances
  CudaOfferStats stats() const;

  /// Offers count candidates in order (decisions identical to the CPU core); returns the
  /// number of replacements. With nearest/slot (host arrays of count, or both null) the
  /// per-candidate float32 distance to the nearest stored point (exact canonical value)
  /// and the slot stored in (-1 when rejected) are written.
  std::size_t offer_host(const float* candidates, std::size_t count, float* nearest, std::int64_t* slot);
  std::size_t offer_device(const float* candidates, std::size_t count, float* nearest, std::int64_t* slot);

  /// Nearest stored point of each query: float32 distance and index into host arrays.
  void query_host(const float* queries, std::size_t count, std::size_t chunk, float* distance,
                  std::int64_t* index) const;
  void query_device(const float* queries, std::size_t count, std::size_t chunk, float* distance,
                    std::int64_t* index) const;

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
