// Small device helpers shared by the kernels.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqcore::cuda {

constexpr unsigned long long kEmptyBest = ~0ull;

/// Clamps a screened squared distance for packing: negatives -> 0, NaN -> +inf.
__device__ __forceinline__ float clamp_screen(float g) {
  if (g != g) return __int_as_float(0x7f800000);
  return g > 0.f ? g : 0.f;
}

/// Packs (value >= 0, index) so that unsigned 64-bit order is value first, then index.
__device__ __forceinline__ unsigned long long pack_best(float value, int index) {
  return (static_cast<unsigned long long>(__float_as_uint(value)) << 32) | static_cast<unsigned>(index);
}
__device__ __forceinline__ float best_value(unsigned long long packed) {
  return __uint_as_float(static_cast<unsigned>(packed >> 32));
}
__device__ __forceinline__ int best_index(unsigned long long packed) {
  return static_cast<int>(static_cast<unsigned>(packed & 0xffffffffu));
}

__device__ __forceinline__ unsigned long long warp_min_u64(unsigned long long v) {
  for (int off = 16; off > 0; off >>= 1) {
    const unsigned long long o = __shfl_xor_sync(0xffffffffu, v, off);
    v = o < v ? o : v;
  }
  return v;
}

/// Block-wide minimum of a packed value; every thread must call it; result in all threads.
__device__ __forceinline__ unsigned long long block_min_u64(unsigned long long v) {
  __shared__ unsigned long long partial[32];
  v = warp_min_u64(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int nwarps = (blockDim.x + 31) >> 5;
  v = lane < nwarps ? partial[lane] : kEmptyBest;
  return warp_min_u64(v);
}

/// (value, index) pair ordered by value then index: minimum of a row of D.
struct RowMin {
  double value;
  int index;
};
__device__ __forceinline__ bool row_less(const RowMin& a, const RowMin& b) {
  return a.value < b.value || (a.value == b.value && a.index < b.index);
}
__device__ __forceinline__ RowMin warp_min_row(RowMin v) {
  for (int off = 16; off > 0; off >>= 1) {
    RowMin o{__shfl_xor_sync(0xffffffffu, v.value, off), __shfl_xor_sync(0xffffffffu, v.index, off)};
    if (row_less(o, v)) v = o;
  }
  return v;
}
/// Block-wide row minimum; every thread must call it; result valid in all threads.
__device__ __forceinline__ RowMin block_min_row(RowMin v) {
  __shared__ double pv[32];
  __shared__ int pi[32];
  v = warp_min_row(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) {
    pv[warp] = v.value;
    pi[warp] = v.index;
  }
  __syncthreads();
  const int nwarps = (blockDim.x + 31) >> 5;
  RowMin w{__longlong_as_double(0x7ff0000000000000ll), 0x7fffffff};
  if (lane < nwarps) w = RowMin{pv[lane], pi[lane]};
  return warp_min_row(w);
}

}  // namespace seqcore::cuda

#include <cuda_pipeline.h>

namespace seqcore::cuda {

// Column streaming: per-pair sums over d run in one thread each (the canonical sum must be
// sequential), so each thread keeps kStages * Step elements of its column in flight with
// asynchronous copies into shared memory; the sum then waits on arithmetic, not on memory.
constexpr int kStages = 8;
constexpr int kChunk = 1024;  // floats of a query point staged in shared memory at a time
// Per-round kernels (latency-bound) and fill kernels (throughput-bound) may use different shapes.
constexpr int kLatThreads = 64, kLatStep = 8, kLatStepD = 8;
constexpr int kFillThreads = 128, kFillStepD = 4;
template <class T, int Threads, int Step>
using StageBuffer = T[kStages][Step][Threads];

/// Calls step(j, t, col[j * ld]) for j = 0..len-1 in order (t = j % Step, a compile-time
/// constant after unrolling). Per-thread pipeline: no block synchronisation inside.
template <class T, int Threads, int Step, class F>
__device__ __forceinline__ void stream_column(const T* __restrict__ col, long long ld, int len,
                                              StageBuffer<T, Threads, Step>& buf, F&& step) {
  const int tid = threadIdx.x;
  const int stages = (len + Step - 1) / Step;
  auto issue = [&](int st) {
    if (st < stages) {
      const int j0 = st * Step;
#pragma unroll
      for (int t = 0; t < Step; ++t)
        if (j0 + t < len)
          __pipeline_memcpy_async(&buf[st % kStages][t][tid], col + static_cast<long long>(j0 + t) * ld, sizeof(T));
    }
    __pipeline_commit();
  };
  for (int st = 0; st < kStages - 1; ++st) issue(st);
  for (int st = 0; st < stages; ++st) {
    issue(st + kStages - 1);
    __pipeline_wait_prior(kStages - 1);  // group st has landed
    const int j0 = st * Step;
#pragma unroll
    for (int t = 0; t < Step; ++t)
      if (j0 + t < len) step(j0 + t, t, buf[st % kStages][t][tid]);
  }
  __pipeline_wait_prior(0);
}

/// Copies src[0..len) into shared memory with all copies in flight at once (one memory
/// latency instead of one per strided load). The caller synchronises the block afterwards.
__device__ __forceinline__ void stage_async(float* dst, const float* __restrict__ src, int len) {
  for (int j = threadIdx.x; j < len; j += blockDim.x) __pipeline_memcpy_async(dst + j, src + j, sizeof(float));
  __pipeline_commit();
  __pipeline_wait_prior(0);
}

/// Stages src[0..len) (float32) as exact float64 values in shared memory.
__device__ __forceinline__ void stage_double(double* dst, const float* __restrict__ src, int len) {
  for (int j = threadIdx.x; j < len; j += blockDim.x) dst[j] = static_cast<double>(src[j]);
}

/// Minimum (value, smallest index) of row[0..n) without column `skip`, this thread's share
/// (k = threadIdx.x + m * blockDim.x); eight loads in flight per step.
__device__ __forceinline__ RowMin row_min_share(const double* __restrict__ row, int n, int skip) {
  RowMin best{__longlong_as_double(0x7ff0000000000000ll), 0x7fffffff};
  const int stride = blockDim.x;
  for (int k0 = threadIdx.x; k0 < n; k0 += 8 * stride) {
    double v[8];
#pragma unroll
    for (int u = 0; u < 8; ++u) {
      const int k = k0 + u * stride;
      v[u] = k < n ? row[k] : 0.0;
    }
#pragma unroll
    for (int u = 0; u < 8; ++u) {
      const int k = k0 + u * stride;
      if (k < n && k != skip) {
        const RowMin c{v[u], k};
        if (row_less(c, best)) best = c;
      }
    }
  }
  return best;
}

/// Continues the canonical sum s over j < len of (p[j] - col[j * ld])^2 (distance.hpp order).
/// Points are kept as exact float64 copies, so no conversion sits on the dependent chain.
template <int Threads, int Step>
__device__ __forceinline__ double canonical_column(double s, const double* p, const double* __restrict__ col,
                                                   long long ld, int len, StageBuffer<double, Threads, Step>& buf) {
  stream_column<double, Threads, Step>(col, ld, len, buf, [&](int j, int, double x) {
    const double t = __dsub_rn(p[j], x);
    s = __dadd_rn(s, __dmul_rn(t, t));
  });
  return s;
}

/// Float32 dot product of p with fl(col[j * ld] - mu[j]) over j < len (p, mu in shared
/// memory): the centered screen of one stored point; four partial sums (any order is covered
/// by the screen's error bound).
template <int Threads, int Step>
__device__ __forceinline__ float centered_dot_column(const float* p, const float* mu, const float* __restrict__ col,
                                                     long long ld, int len, StageBuffer<float, Threads, Step>& buf) {
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  stream_column<float, Threads, Step>(col, ld, len, buf, [&](int j, int t, float x) {
    acc[t & 3] = fmaf(p[j], __fsub_rn(x, mu[j]), acc[t & 3]);
  });
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

}  // namespace seqcore::cuda
