// Sequential coreset (docs/design.md §2): a bounded memory bank of feature vectors that keeps
// replacing one point of its closest pair by any candidate farther from the bank than
// that pair is apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "seqcore/min_pair.hpp"

namespace seqcore {

/// Coreset of capacity K over d-dimensional float32 points (docs/design.md §2). The CUDA
/// backend (seqcore::cuda::SequentialCoreset) has the same methods and decisions.
///
/// Keeps a dense K x K matrix of canonical squared distances (distance.hpp), row minima and
/// the global minimum pair. Candidates are screened with float32 distances and a rigorous
/// error bound; every decision that the screen cannot settle uses the canonical distance,
/// so decisions are bit-for-bit those of the canonical rule. In the full phase, a candidate
/// for which a random 16-d projection points at a stored point provably within the closest
/// pair's distance is rejected without the full screen. Not thread-safe.
class SequentialCoreset {
 public:
  /// Throws std::invalid_argument when capacity or dim is 0.
  SequentialCoreset(std::size_t capacity, std::size_t dim);

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t dim() const noexcept { return dim_; }
  std::size_t size() const noexcept { return size_; }

  /// Row-major pointer to point i (i < size()).
  const float* point(std::size_t i) const noexcept { return points_.data() + i * dim_; }
  /// Copy of the stored points, row-major size() x dim().
  std::vector<float> points() const;
  MinPair min_pair() const noexcept { return min_pair_; }
  /// Canonical squared distance between stored points i and j (+inf when i == j).
  double sqdist(std::size_t i, std::size_t j) const noexcept { return dist_[i * capacity_ + j]; }
  /// All of them: row-major size() x size(), +inf diagonal.
  std::vector<double> sqdist_matrix() const;

  /// Offers one candidate (dim() floats); true when it was stored (appended or replaced).
  /// Optional outputs: canonical squared distance to the nearest stored point before the
  /// offer (+inf when empty) and the slot it was stored in (-1 when rejected).
  bool offer(const float* p, double* nearest_sqdist = nullptr, std::int64_t* slot = nullptr);

  /// Offers count row-major candidates in order, with exactly the decisions of repeated
  /// offer(); returns the number of replacements (fill-phase appends are not counted).
  /// nearest_sqdist / slot (each count long, may be null) receive per-candidate outputs.
  std::size_t offer_batch(const float* candidates, std::size_t count,
                          double* nearest_sqdist = nullptr, std::int64_t* slot = nullptr);

  /// Nearest stored point of each query (float32 Euclidean distance, index; +inf/-1 when
  /// empty), computed chunk_size queries at a time so that temporary memory stays bounded.
  void query(const float* queries, std::size_t count, float* distance, std::int64_t* index,
             std::size_t chunk_size = 2048) const;

 private:
  void append(const float* p, double* row);
  void replace(std::size_t r, const float* p, double* row);
  void canonical_row(const float* p, double* row) const;
  void store_point(std::size_t slot, const float* p);
  void rescan_row(std::size_t k);
  void update_min_pair();
  bool decide(const float* p, const float* screen_row, bool need_nearest, double* nearest) const;
  void find_witnesses(const float* candidates, std::size_t count, std::int64_t* witness) const;
  std::size_t offer_chunk(const float* chunk, std::size_t count, double* nearest_sqdist, std::int64_t* slot);

  std::size_t capacity_;
  std::size_t dim_;
  std::size_t size_ = 0;
  std::vector<float> points_;       // capacity x dim, row-major
  std::vector<float> panels_;       // the points again, in 16-point panels (screening layout)
  std::vector<float> projection_;   // dim x 16 Gaussian matrix; empty when dim is small
  std::vector<float> projected_;    // projected points, in 16-point panels
  std::vector<double> dist_;        // capacity x capacity canonical squared distances
  std::vector<double> row_min_;     // per-row minimum of dist_
  std::vector<std::int64_t> row_arg_;  // its smallest column index, -1 when none
  MinPair min_pair_{-1, -1, 0.0};
};

/// Melds point sets (base first) into a coreset of the given capacity (docs/design.md §2): offers all
/// points in turn, repeated until a pass makes no replacement (at most max_passes passes).
/// Each source is a row-major count x dim array.
struct PointSet {
  const float* data;
  std::size_t count;
};
SequentialCoreset meld(const std::vector<PointSet>& sources, std::size_t dim, std::size_t capacity,
                       std::size_t max_passes = 100);

}  // namespace seqcore
