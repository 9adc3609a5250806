// Float32 screening of candidate-to-point squared distances (internal to seqcore_core).
//
// The screen is fast but inexact; ScreenBound turns a screened value into an interval that
// provably contains the canonical squared distance (distance.hpp), so that decisions are
// taken on the screen only when the interval settles them.
#pragma once

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace seqcore::detail {

/// Points per panel of the screening layout: point k, coordinate j is stored at
/// panels[(k / kPanel) * dim * kPanel + j * kPanel + k % kPanel], so that a tile of 16 points
/// is one contiguous, sequentially read block.
inline constexpr std::size_t kPanel = 16;

/// out[c * out_stride + k] = float32 squared distance between candidate c (row-major,
/// count x dim) and point k of `panels`, for c < count and k < n. Uses all OpenMP threads
/// when the work is large.
void screen_block(const float* candidates, std::size_t count, std::size_t dim, const float* panels,
                  std::size_t n, float* out, std::size_t out_stride);

/// Writes point p (dim floats) as point k of a panel layout with `dim` coordinates per point.
inline void store_in_panels(float* panels, std::size_t k, const float* p, std::size_t dim) noexcept {
  float* out = panels + (k / kPanel) * dim * kPanel + k % kPanel;
  for (std::size_t j = 0; j < dim; ++j) out[j * kPanel] = p[j];
}

/// The screening layout of n row-major points (zero-padded to whole panels).
std::vector<float> pack_panels(const float* points, std::size_t n, std::size_t dim);

/// Nearest of the n panel-packed points for each of count queries, by float32 screen
/// distance (distance = its square root; +inf/-1 when n is 0), chunk queries at a time.
/// Throws std::invalid_argument when chunk is 0.
void nearest_in_panels(const float* queries, std::size_t count, std::size_t dim, const float* panels,
                       std::size_t n, float* distance, std::int64_t* index, std::size_t chunk);

/// out[c * 16 + q] = sum_j rows[c * dim + j] * matrix[j * 16 + q]: 16-dimensional
/// projections of count row-major vectors (float32, any order).
void project_rows(const float* rows, std::size_t count, std::size_t dim, const float* matrix, float* out);

/// Float32 squared distance of two vectors (any summation order; same bound as the block).
float screen_pair(const float* a, const float* b, std::size_t dim);

/// Rigorous interval for the canonical squared distance given a float32 screen value s.
///
/// Each float32 term fl(x - p)^2 and the sum carry relative error <= (dim + 5) u,
/// u = 2^-24, plus at most 2^-150 absolute per operation in the subnormal range; the
/// canonical double sum is within (dim + 2) 2^-53 of the exact value. The constants
/// below double these bounds for margin.
class ScreenBound {
 public:
  explicit ScreenBound(std::size_t dim)
      : rel_(static_cast<double>(2 * dim + 10) * 0x1p-24),
        abs_(static_cast<double>(2 * dim + 10) * 0x1p-149),
        canon_(static_cast<double>(2 * dim + 10) * 0x1p-53),
        usable_(rel_ < 0.25) {}

  /// Upper bound of the canonical squared distance.
  double upper(float s) const noexcept {
    if (!usable_ || !(s <= FLT_MAX)) return std::numeric_limits<double>::infinity();
    return (static_cast<double>(s) + abs_) / (1.0 - rel_) * (1.0 + canon_);
  }
  /// Lower bound of the canonical squared distance.
  double lower(float s) const noexcept {
    if (!usable_) return 0.0;
    const double v = s <= FLT_MAX ? static_cast<double>(s) : static_cast<double>(FLT_MAX);
    const double lo = (v - abs_) / (1.0 + rel_) * (1.0 - canon_);
    return lo > 0.0 ? lo : 0.0;
  }

 private:
  double rel_;
  double abs_;
  double canon_;
  bool usable_;
};

}  // namespace seqcore::detail
