// Canonical distance shared by every backend (CPU, CUDA, NumPy reference).
//
// Replacement decisions compare distances, so all backends must compute the SAME
// numbers, bit for bit, wherever a decision depends on them. The canonical squared
// distance between two float32 vectors is the sequential double sum over k = 0..d-1 of
// (double(a[k]) - double(b[k]))^2, each product and sum rounded separately (no fused
// multiply-add; compile with -ffp-contract=off, use __dmul_rn/__dadd_rn on CUDA).
// Fast backends may screen with cheaper float32 arithmetic, but must fall back to this
// function whenever the screen cannot decide with certainty. Decisions compare these
// squared values directly (d_p^2 > d_m^2, ties per docs/design.md §2), never their square roots.
#pragma once

#include <cstddef>

namespace seqcore {

/// Canonical squared Euclidean distance of two float32 vectors of length d.
inline double canonical_sqdist(const float* a, const float* b, std::size_t d) noexcept {
  double s = 0.0;
  for (std::size_t k = 0; k < d; ++k) {
    const double t = static_cast<double>(a[k]) - static_cast<double>(b[k]);
    const double t2 = t * t;  // separate rounding: no contraction into an FMA
    s = s + t2;
  }
  return s;
}

}  // namespace seqcore
