// Float32 screen: fused "squared distance + row minimum" tiled kernel (no cuBLAS), plus the
// centering, unpacking and finiteness helpers around it.
#include <algorithm>

#include "device_buffer.hpp"
#include "device_utils.cuh"
#include "kernels.hpp"

namespace seqcore::cuda {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 8, kThreads = 256;

/// Loads one kBK-wide slice of a kBM-row tile into registers (4 floats per thread).
template <bool kVec>
__device__ __forceinline__ void load_slice(const float* __restrict__ X, long long rows, int d,
                                           long long row0, int k0, float (&r)[4]) {
  const int t = threadIdx.x;
  const long long row = row0 + (t >> 1);
  const int k = k0 + (t & 1) * 4;
  if (kVec) {
    if (row < rows && k < d) {
      const float4 v = *reinterpret_cast<const float4*>(X + row * d + k);
      r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
    } else {
      r[0] = r[1] = r[2] = r[3] = 0.f;
    }
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) r[i] = (row < rows && k + i < d) ? X[row * d + k + i] : 0.f;
  }
}

__device__ __forceinline__ void store_slice(float (*S)[kBM], const float (&r)[4]) {
  const int t = threadIdx.x;
  const int m = t >> 1, k = (t & 1) * 4;
#pragma unroll
  for (int i = 0; i < 4; ++i) S[k + i][m] = r[i];
}

/// best[i] = min over the block's columns of fl(an_i + bn_k - 2 a_i.b_k) packed with k.
template <bool kVec>
__global__ void __launch_bounds__(kThreads)
min_sqdist_kernel(const float* __restrict__ A, const float* __restrict__ an, long long M,
                  const float* __restrict__ B, const float* __restrict__ bn, int N, int d,
                  unsigned long long* __restrict__ best) {
  __shared__ __align__(16) float As[2][kBK][kBM];
  __shared__ __align__(16) float Bs[2][kBK][kBN];
  const long long row0 = static_cast<long long>(blockIdx.x) * kBM;
  const int col0 = blockIdx.y * kBN;
  const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  float ra[4], rb[4];
  load_slice<kVec>(A, M, d, row0, 0, ra);
  load_slice<kVec>(B, N, d, col0, 0, rb);
  store_slice(As[0], ra);
  store_slice(Bs[0], rb);
  __syncthreads();

  const int ktiles = (d + kBK - 1) / kBK;
  for (int kt = 0; kt < ktiles; ++kt) {
    const int buf = kt & 1;
    const bool more = kt + 1 < ktiles;
    if (more) {
      load_slice<kVec>(A, M, d, row0, (kt + 1) * kBK, ra);
      load_slice<kVec>(B, N, d, col0, (kt + 1) * kBK, rb);
    }
#pragma unroll
    for (int k = 0; k < kBK; ++k) {
      float a[8], b[8];
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][k][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][k][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][k][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][k][64 + tx * 4]);
      a[0] = a0.x; a[1] = a0.y; a[2] = a0.z; a[3] = a0.w;
      a[4] = a1.x; a[5] = a1.y; a[6] = a1.z; a[7] = a1.w;
      b[0] = b0.x; b[1] = b0.y; b[2] = b0.z; b[3] = b0.w;
      b[4] = b1.x; b[5] = b1.y; b[6] = b1.z; b[7] = b1.w;
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) {
      store_slice(As[buf ^ 1], ra);
      store_slice(Bs[buf ^ 1], rb);
    }
    __syncthreads();
  }

  float bnv[8];
  int cols[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    cols[j] = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
    bnv[j] = cols[j] < N ? bn[cols[j]] : 0.f;
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const long long row = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
    const float anv = row < M ? an[row] : 0.f;
    unsigned long long packed = kEmptyBest;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      if (cols[j] < N) {
        const float g = clamp_screen(anv + bnv[j] - 2.f * acc[i][j]);
        const unsigned long long p = pack_best(g, cols[j]);
        packed = p < packed ? p : packed;
      }
    }
    for (int off = 8; off > 0; off >>= 1) {
      const unsigned long long o = __shfl_xor_sync(0xffffffffu, packed, off);
      packed = o < packed ? o : packed;
    }
    if (tx == 0 && row < M && packed != kEmptyBest) atomicMin(best + row, packed);
  }
}

/// Warp per row: Pc = fl(P - mu), pn2 = ||Pc||^2.
__global__ void center_rows_kernel(const float* __restrict__ P, long long rows, int d,
                                   const float* __restrict__ mu, float* __restrict__ Pc,
                                   float* __restrict__ pn2) {
  const long long warp = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= rows) return;
  const float* p = P + warp * d;
  float* pc = Pc + warp * d;
  float s = 0.f;
  for (int j = lane; j < d; j += 32) {
    const float v = mu != nullptr ? __fsub_rn(p[j], mu[j]) : p[j];
    pc[j] = v;
    s = fmaf(v, v, s);
  }
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
  if (lane == 0) pn2[warp] = s;
}

/// Thread per column: mean in float64.
__global__ void column_means_kernel(const float* __restrict__ X, long long rows, int d, float* mu) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= d) return;
  double s = 0.0;
  for (long long i = 0; i < rows; ++i) s += X[i * d + j];
  mu[j] = static_cast<float>(s / static_cast<double>(rows));
}

/// Thread per dimension j: mean of XT[j][0..n) in float64.
__global__ void transposed_means_kernel(const float* __restrict__ XT, int ld, int n, int d, float* mu) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= d) return;
  const float* row = XT + static_cast<long long>(j) * ld;
  double s = 0.0;
  for (int k = 0; k < n; ++k) s += row[k];
  mu[j] = static_cast<float>(s / static_cast<double>(n));
}

/// Warp per stored point k: Xc[k] = fl(XT[:, k] - mu), xn2[k] = ||Xc[k]||^2.
__global__ void center_columns_kernel(const float* __restrict__ XT, int ld, int n, int d,
                                      const float* __restrict__ mu, float* __restrict__ Xc,
                                      float* __restrict__ xn2) {
  const int k = static_cast<int>((static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5);
  const int lane = threadIdx.x & 31;
  if (k >= n) return;
  float s = 0.f;
  for (int j = lane; j < d; j += 32) {
    const float v = __fsub_rn(XT[static_cast<long long>(j) * ld + k], mu[j]);
    Xc[static_cast<long long>(k) * d + j] = v;
    s = fmaf(v, v, s);
  }
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
  if (lane == 0) xn2[k] = s;
}

__global__ void fill_u64_kernel(unsigned long long* x, long long n, unsigned long long v) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = v;
}

__global__ void unpack_best_kernel(const unsigned long long* best, long long n, float* dist,
                                   std::int64_t* idx) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const unsigned long long p = best[i];
  dist[i] = sqrtf(best_value(p));
  idx[i] = p == kEmptyBest ? -1 : best_index(p);
}

__global__ void all_finite_kernel(const float* __restrict__ X, long long n, int* flag) {
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    if (!isfinite(X[i])) {
      *flag = 0;
      return;
    }
  }
}

unsigned grid_for(long long n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

}  // namespace

void center_rows(const float* P, long long rows, int d, const float* mu, float* Pc, float* pn2) {
  if (rows <= 0) return;
  center_rows_kernel<<<grid_for(rows * 32, 256), 256>>>(P, rows, d, mu, Pc, pn2);
  check_launch("center_rows_kernel");
}

void column_means(const float* X, long long rows, int d, float* mu) {
  column_means_kernel<<<grid_for(d, 128), 128>>>(X, rows, d, mu);
  check_launch("column_means_kernel");
}

void transposed_means(const float* XT, int ld, int n, int d, float* mu) {
  transposed_means_kernel<<<grid_for(d, 128), 128>>>(XT, ld, n, d, mu);
  check_launch("transposed_means_kernel");
}

void center_columns(const float* XT, int ld, int n, int d, const float* mu, float* Xc, float* xn2) {
  if (n <= 0) return;
  center_columns_kernel<<<grid_for(static_cast<long long>(n) * 32, 256), 256>>>(XT, ld, n, d, mu, Xc, xn2);
  check_launch("center_columns_kernel");
}

void reset_best(unsigned long long* best, long long n) {
  if (n <= 0) return;
  fill_u64_kernel<<<grid_for(n, 256), 256>>>(best, n, kEmptyBest);
  check_launch("fill_u64_kernel");
}

void min_sqdist(const float* A, const float* an, long long M, const float* B, const float* bn, int N,
                int d, unsigned long long* best) {
  if (M <= 0 || N <= 0) return;
  const long long row_tiles = (M + kBM - 1) / kBM;
  const int col_tiles = (N + kBN - 1) / kBN;
  const bool vec = d % 4 == 0 && reinterpret_cast<std::uintptr_t>(A) % 16 == 0 &&
                   reinterpret_cast<std::uintptr_t>(B) % 16 == 0;
  if (col_tiles > 65535) throw std::invalid_argument("min_sqdist: more than 8.3 M bank points");
  const dim3 grid(static_cast<unsigned>(row_tiles), static_cast<unsigned>(col_tiles));
  if (vec) {
    min_sqdist_kernel<true><<<grid, kThreads>>>(A, an, M, B, bn, N, d, best);
  } else {
    min_sqdist_kernel<false><<<grid, kThreads>>>(A, an, M, B, bn, N, d, best);
  }
  check_launch("min_sqdist_kernel");
}

void unpack_best(const unsigned long long* best, long long n, float* dist, std::int64_t* idx) {
  if (n <= 0) return;
  unpack_best_kernel<<<grid_for(n, 256), 256>>>(best, n, dist, idx);
  check_launch("unpack_best_kernel");
}

bool all_finite(const float* X, long long n, int* flag_dev) {
  if (n <= 0) return true;
  const int one = 1;
  SEQCORE_CUDA_CHECK(cudaMemcpy(flag_dev, &one, sizeof(int), cudaMemcpyHostToDevice));
  const unsigned grid = std::min<unsigned>(grid_for(n, 256), 1024);
  all_finite_kernel<<<grid, 256>>>(X, n, flag_dev);
  check_launch("all_finite_kernel");
  int result = 0;
  SEQCORE_CUDA_CHECK(cudaMemcpy(&result, flag_dev, sizeof(int), cudaMemcpyDeviceToHost));
  return result == 1;
}

}  // namespace seqcore::cuda
