// Scoring against a fixed memory bank (docs/design.md §4): nearest-point queries without the
// coreset's K x K distance matrix, for production lines that only predict.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace seqcore {

/// Read-only copy of count d-dimensional float32 points, laid out for fast float32
/// screening. Holds count x dim floats; building it costs one copy (no pairwise work).
class PointIndex {
 public:
  /// Copies count row-major points; throws std::invalid_argument when dim is 0.
  PointIndex(const float* points, std::size_t count, std::size_t dim);

  std::size_t size() const noexcept { return count_; }
  std::size_t dim() const noexcept { return dim_; }

  /// Nearest point of each query (float32 Euclidean distance, index; +inf/-1 when empty),
  /// computed chunk_size queries at a time so that temporary memory stays bounded.
  void query(const float* queries, std::size_t count, float* distance, std::int64_t* index,
             std::size_t chunk_size = 2048) const;

 private:
  std::size_t count_;
  std::size_t dim_;
  std::vector<float> panels_;
};

}  // namespace seqcore
