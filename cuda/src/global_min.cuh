// Block-wide search of the global minimum pair from the row minima (docs/design.md §2 tie rule:
// smallest distance, then smallest min(i, j), then smallest max(i, j)).
#pragma once

#include "device_utils.cuh"
#include "kernels.hpp"

namespace seqcore::cuda {

struct PairMin {
  double value;
  int lo, hi;
};

__device__ __forceinline__ bool pair_less(const PairMin& a, const PairMin& b) {
  if (a.value != b.value) return a.value < b.value;
  if (a.lo != b.lo) return a.lo < b.lo;
  return a.hi < b.hi;
}

/// Every thread of the block calls it; thread 0 writes dm, gi, gj into state.
__device__ inline void block_global_min(const double* __restrict__ row_val, const int* __restrict__ row_idx,
                                        int n, LoopState* state) {
  __shared__ double sv[32];
  __shared__ int sl[32], sh[32];
  const double inf = __longlong_as_double(0x7ff0000000000000ll);
  PairMin best{inf, 0x7fffffff, 0x7fffffff};
  if (n >= 2) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const int j = row_idx[i];
      const PairMin c{row_val[i], i < j ? i : j, i < j ? j : i};
      if (pair_less(c, best)) best = c;
    }
  }
  for (int off = 16; off > 0; off >>= 1) {
    const PairMin o{__shfl_xor_sync(0xffffffffu, best.value, off), __shfl_xor_sync(0xffffffffu, best.lo, off),
                    __shfl_xor_sync(0xffffffffu, best.hi, off)};
    if (pair_less(o, best)) best = o;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) {
    sv[warp] = best.value;
    sl[warp] = best.lo;
    sh[warp] = best.hi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int nwarps = (blockDim.x + 31) >> 5;
    for (int w = 1; w < nwarps; ++w) {
      const PairMin o{sv[w], sl[w], sh[w]};
      if (pair_less(o, best)) best = o;
    }
    if (n >= 2) {
      state->dm = best.value;
      state->gi = best.lo;
      state->gj = best.hi;
    } else {
      state->dm = inf;
      state->gi = -1;
      state->gj = -1;
    }
  }
  __syncthreads();
}

}  // namespace seqcore::cuda
