// The closest stored pair of a coreset, one type for the CPU and the CUDA backends.
#pragma once

#include <cstdint>

namespace seqcore {

/// Closest pair (i < j) with its canonical squared distance (distance.hpp; ties per
/// docs/design.md §2); (-1, -1, +inf) below 2 points.
struct MinPair {
  std::int64_t i;
  std::int64_t j;
  double sqdist;
};

}  // namespace seqcore
