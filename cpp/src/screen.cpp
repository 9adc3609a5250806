// Float32 screening kernels: register-tiled 4 candidates x 16 points, vectorized with GCC
// vector extensions (AVX2+FMA clone on x86-64, portable fallback elsewhere).
#include "screen.hpp"

#include "parallel.hpp"
#include "simd.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace seqcore::detail {
namespace {

constexpr std::size_t kTileCandidates = 4;
constexpr std::size_t kTilePoints = kPanel;
constexpr std::size_t kBlockBytes = 192 * 1024;  // panels kept hot in L2 across candidates
constexpr std::size_t kMinPairsPerThread = 1u << 20;  // below this a thread is not worth waking

/// One tile: candidates c[0..4) against the 16 points of one panel.
SEQCORE_CLONES
void screen_tile(const float* const* c, std::size_t dim, const float* panel, float (*tile)[kTilePoints]) {
  v8f acc[kTileCandidates][2] = {};
  const float* col = panel;
  for (std::size_t j = 0; j < dim; ++j, col += kTilePoints) {
    const v8f x0 = load8(col);
    const v8f x1 = load8(col + 8);
    for (std::size_t q = 0; q < kTileCandidates; ++q) {
      const float pj = c[q][j];
      const v8f t0 = x0 - pj;
      const v8f t1 = x1 - pj;
      acc[q][0] += t0 * t0;
      acc[q][1] += t1 * t1;
    }
  }
  for (std::size_t q = 0; q < kTileCandidates; ++q) {
    std::memcpy(tile[q], &acc[q][0], sizeof(v8f));
    std::memcpy(tile[q] + 8, &acc[q][1], sizeof(v8f));
  }
}

}  // namespace

void screen_block(const float* candidates, std::size_t count, std::size_t dim, const float* panels,
                  std::size_t n, float* out, std::size_t out_stride) {
  if (count == 0 || n == 0) return;
  const std::size_t groups = (count + kTileCandidates - 1) / kTileCandidates;
  const std::size_t block = kTilePoints * std::max<std::size_t>(1, kBlockBytes / (dim * kTilePoints * sizeof(float)));
  const std::size_t pairs_per_group = kTileCandidates * n * dim;
  parallel_for(groups, std::max<std::size_t>(1, kMinPairsPerThread / pairs_per_group),
               [&](std::size_t g0, std::size_t g1) {
    float tile[kTileCandidates][kTilePoints];
    for (std::size_t kb = 0; kb < n; kb += block) {  // panels of a block stay in cache
      const std::size_t kend = std::min(n, kb + block);
      for (std::size_t g = g0; g < g1; ++g) {
        const std::size_t c0 = g * kTileCandidates;
        const float* rows[kTileCandidates];
        for (std::size_t q = 0; q < kTileCandidates; ++q) rows[q] = candidates + std::min(c0 + q, count - 1) * dim;
        for (std::size_t k = kb; k < kend; k += kTilePoints) {
          screen_tile(rows, dim, panels + k * dim, tile);
          const std::size_t width = std::min(kTilePoints, kend - k);
          for (std::size_t q = 0; q < kTileCandidates && c0 + q < count; ++q)
            std::memcpy(out + (c0 + q) * out_stride + k, tile[q], width * sizeof(float));
        }
      }
    }
  });
}

std::vector<float> pack_panels(const float* points, std::size_t n, std::size_t dim) {
  std::vector<float> panels((n + kPanel - 1) / kPanel * kPanel * dim, 0.0f);
  for (std::size_t k = 0; k < n; ++k) store_in_panels(panels.data(), k, points + k * dim, dim);
  return panels;
}

void nearest_in_panels(const float* queries, std::size_t count, std::size_t dim, const float* panels,
                       std::size_t n, float* distance, std::int64_t* index, std::size_t chunk) {
  if (chunk == 0) throw std::invalid_argument("chunk_size must be positive");
  if (n == 0) {
    std::fill(distance, distance + count, std::numeric_limits<float>::infinity());
    std::fill(index, index + count, -1);
    return;
  }
  const std::size_t rows = std::min(chunk, count);
  std::vector<float> screen(rows * n);
  for (std::size_t q0 = 0; q0 < count; q0 += rows) {
    const std::size_t m = std::min(rows, count - q0);
    screen_block(queries + q0 * dim, m, dim, panels, n, screen.data(), n);
    for (std::size_t i = 0; i < m; ++i) {
      const float* s = screen.data() + i * n;
      const float* best = std::min_element(s, s + n);
      distance[q0 + i] = std::sqrt(*best);
      index[q0 + i] = best - s;
    }
  }
}

SEQCORE_CLONES
void project_rows(const float* rows, std::size_t count, std::size_t dim, const float* matrix, float* out) {
  for (std::size_t c = 0; c < count; ++c, rows += dim, out += 16) {
    v8f a0 = {}, a1 = {};
    for (std::size_t j = 0; j < dim; ++j) {
      a0 += rows[j] * load8(matrix + j * 16);
      a1 += rows[j] * load8(matrix + j * 16 + 8);
    }
    std::memcpy(out, &a0, sizeof a0);
    std::memcpy(out + 8, &a1, sizeof a1);
  }
}

SEQCORE_CLONES
float screen_pair(const float* a, const float* b, std::size_t dim) {
  v8f acc = {};
  std::size_t j = 0;
  for (; j + 8 <= dim; j += 8) {
    const v8f t = load8(a + j) - load8(b + j);
    acc += t * t;
  }
  float s = 0.0f;
  for (; j < dim; ++j) {
    const float t = a[j] - b[j];
    s += t * t;
  }
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

}  // namespace seqcore::detail
