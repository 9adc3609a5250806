// Canonical (float64, sequential, no FMA) distances of stored points, their row minima and
// the global minimum pair: the values every replacement decision depends on.
#include <algorithm>

#include "device_buffer.hpp"
#include "device_utils.cuh"
#include "global_min.cuh"
#include "kernels.hpp"

namespace seqcore::cuda {
namespace {

constexpr int kThreads = kFillThreads;

__global__ void store_columns_kernel(const float* __restrict__ P, int m, int d, float* __restrict__ XT,
                                     double* __restrict__ XD, int ld, int first) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(m) * d) return;
  const int j = static_cast<int>(i / m), t = static_cast<int>(i % m);
  const float v = P[static_cast<long long>(t) * d + j];
  XT[static_cast<long long>(j) * ld + first + t] = v;
  XD[static_cast<long long>(j) * ld + first + t] = static_cast<double>(v);
}

/// Block (column tile, new row i): D[i][k] = D[k][i] = canonical(X_i, X_k) for k < i.
__global__ void __launch_bounds__(kThreads)
fill_distances_kernel(const double* __restrict__ XD, int ld, int d, int first, double* __restrict__ D) {
  __shared__ double ps[kChunk];
  __shared__ StageBuffer<double, kFillThreads, kFillStepD> stage;
  const int i = first + blockIdx.y;
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (blockIdx.x * blockDim.x > i) return;  // whole block beyond the diagonal
  double s = 0.0;
  for (int j0 = 0; j0 < d; j0 += kChunk) {
    const int len = min(kChunk, d - j0);
    __syncthreads();
    for (int j = threadIdx.x; j < len; j += blockDim.x) ps[j] = XD[static_cast<long long>(j0 + j) * ld + i];
    __syncthreads();
    if (k < i)
      s = canonical_column<kFillThreads, kFillStepD>(s, ps, XD + static_cast<long long>(j0) * ld + k, ld, len, stage);
  }
  if (k < i) {
    D[static_cast<long long>(i) * ld + k] = s;
    D[static_cast<long long>(k) * ld + i] = s;
  } else if (k == i) {
    D[static_cast<long long>(i) * ld + i] = __longlong_as_double(0x7ff0000000000000ll);
  }
}

/// Block per row: rows >= first get a full minimum, older rows merge columns [first, n).
__global__ void update_row_minima_kernel(const double* __restrict__ D, int ld, int n, int first,
                                         double* __restrict__ row_val, int* __restrict__ row_idx) {
  const int i = blockIdx.x;
  const int k0 = i >= first ? 0 : first;
  const double* row = D + static_cast<long long>(i) * ld;
  RowMin best{__longlong_as_double(0x7ff0000000000000ll), 0x7fffffff};
  for (int k = k0 + threadIdx.x; k < n; k += blockDim.x) {
    if (k == i) continue;
    const RowMin c{row[k], k};
    if (row_less(c, best)) best = c;
  }
  best = block_min_row(best);
  if (threadIdx.x == 0) {
    if (i < first) {
      const RowMin old{row_val[i], row_idx[i]};
      if (row_less(old, best)) best = old;
    }
    row_val[i] = best.value;
    row_idx[i] = best.index;
  }
}

/// Block per new row: distance to the nearest point stored before it.
__global__ void fill_nearest_kernel(const double* __restrict__ D, int ld, int first, float* __restrict__ nearest) {
  const int i = first + blockIdx.x;
  const double* row = D + static_cast<long long>(i) * ld;
  RowMin best{__longlong_as_double(0x7ff0000000000000ll), 0x7fffffff};
  for (int k = threadIdx.x; k < i; k += blockDim.x) {
    const RowMin c{row[k], k};
    if (row_less(c, best)) best = c;
  }
  best = block_min_row(best);
  if (threadIdx.x == 0) nearest[blockIdx.x] = static_cast<float>(sqrt(best.value));
}

__global__ void global_min_kernel(const double* __restrict__ row_val, const int* __restrict__ row_idx, int n,
                                  LoopState* state) {
  block_global_min(row_val, row_idx, n, state);
}

}  // namespace

void store_columns(const float* P, int m, int d, float* XT, double* XD, int ld, int first) {
  const long long total = static_cast<long long>(m) * d;
  if (total <= 0) return;
  store_columns_kernel<<<static_cast<unsigned>((total + 255) / 256), 256>>>(P, m, d, XT, XD, ld, first);
  check_launch("store_columns_kernel");
}

void fill_distances(const double* XD, int ld, int d, int first, int m, double* D) {
  if (m <= 0) return;
  // grid.y (one new row per block row) is limited to 65535; later rows see earlier ones.
  for (int y0 = 0; y0 < m; y0 += 65535) {
    const int rows = std::min(65535, m - y0);
    const dim3 grid(static_cast<unsigned>((first + y0 + rows + kThreads - 1) / kThreads), static_cast<unsigned>(rows));
    fill_distances_kernel<<<grid, kThreads>>>(XD, ld, d, first + y0, D);
    check_launch("fill_distances_kernel");
  }
}

void update_row_minima(const double* D, int ld, int n, int first, double* row_val, int* row_idx) {
  if (n <= 0) return;
  update_row_minima_kernel<<<static_cast<unsigned>(n), 128>>>(D, ld, n, first, row_val, row_idx);
  check_launch("update_row_minima_kernel");
}

void fill_nearest(const double* D, int ld, int first, int m, float* nearest) {
  if (m <= 0) return;
  fill_nearest_kernel<<<static_cast<unsigned>(m), 128>>>(D, ld, first, nearest);
  check_launch("fill_nearest_kernel");
}

void global_min(const double* row_val, const int* row_idx, int n, LoopState* state) {
  global_min_kernel<<<1, 1024>>>(row_val, row_idx, n, state);
  check_launch("global_min_kernel");
}

}  // namespace seqcore::cuda
