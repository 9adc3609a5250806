// The sequential part of offer_batch, kept on the device: each round finds the next
// candidate the float32 screen cannot reject, settles it with canonical float64 distances
// when the screen cannot prove the outcome, and applies a replacement in O(K·d + B·d).
#include <algorithm>
#include <cmath>

#include "device_buffer.hpp"
#include "device_utils.cuh"
#include "global_min.cuh"
#include "kernels.hpp"

namespace seqcore::cuda {
namespace {

constexpr int kCollectThreads = 1024;

__device__ __forceinline__ double inf_d() { return __longlong_as_double(0x7ff0000000000000ll); }

/// Screen verdict for one candidate against the current global minimum dm.
struct Verdict {
  bool maybe;   // the screen cannot prove rejection
  bool accept;  // the screen proves replacement
};

/// Bounds the canonical nearest squared distance of candidate b from its screened value.
/// With N >= ||p'|| + max_k ||x'_k||: |g - ||p'-x'||^2| <= E = gamma N^2 (+ underflow slack),
/// and centering moves the true distance by at most eta N (see make_screen_bounds).
__device__ __forceinline__ Verdict classify(const OfferArgs& a, int b, double dm, double xb, float g) {
  if (a.exact_all) return {true, false};
  const double gamma = a.bounds.gamma;
  const double N = (sqrt(static_cast<double>(a.pn2[b])) + xb) * (1.0 + gamma);
  const bool finite = isfinite(g) && g < 1e37f && isfinite(N);
  if (!finite) return {true, false};
  const double E = gamma * N * N + a.bounds.abs_slack;
  const double eta = a.bounds.eta * N;
  const double gd = static_cast<double>(g);
  double hi = sqrt(gd + E) + eta;
  hi = hi * hi * (1.0 + 1e-9);
  double lo = sqrt(fmax(gd - E, 0.0)) - eta;
  lo = lo > 0.0 ? lo * lo * (1.0 - 1e-9) : 0.0;
  return {hi > dm, lo > dm};
}

__device__ __forceinline__ void choose(const OfferArgs& a, LoopState* st, int b, float nearest) {
  st->chosen = b;
  st->slot = st->gi;
  st->replaced = 1;
  st->cursor = b + 1;
  st->n_replaced += 1;
  if (a.slot_out != nullptr) a.slot_out[b] = st->gi;
  if (a.nearest != nullptr) a.nearest[b] = nearest;
}

/// One block: global minimum, then an ordered scan from the cursor collecting the candidates
/// the screen cannot reject (up to kMaxCollect, cut after the first proven replacement).
/// Decides at once when the first collected candidate is a proven replacement.
__global__ void __launch_bounds__(kCollectThreads) collect_kernel(OfferArgs a) {
  LoopState* st = a.state;
  block_global_min(a.row_val, a.row_idx, a.n, st);
  __shared__ int s_list[kMaxCollect + 1];
  __shared__ int s_accept[kMaxCollect + 1];
  __shared__ float s_g[kMaxCollect + 1];
  __shared__ int s_off[32];
  __shared__ int s_step, s_done, s_count, s_scan_end;
  const double dm = st->dm;
  const double xb = st->xnorm_bound;
  const int cursor = st->cursor, end = st->end;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (threadIdx.x == 0) {
    st->n_recomputed += st->n_dirty_cands;
    if (cursor < end) st->n_rounds += 1;
    st->n_dirty_rows = 0;
    st->n_dirty_cands = 0;
    st->replaced = 0;
    st->chosen = -1;
    st->need_exact = 0;
    s_done = 0;
    s_count = 0;
    s_scan_end = end;
  }
  __syncthreads();
  for (int base = cursor; base < end; base += kCollectThreads) {
    const int b = base + threadIdx.x;
    bool flag = false, accept = false;
    float g = 0.f;
    if (b < end) {
      g = best_value(a.cmin[b]);
      const Verdict v = classify(a, b, dm, xb, g);
      flag = v.maybe;
      accept = v.accept;
    }
    const unsigned ballot = __ballot_sync(0xffffffffu, flag);
    if (lane == 0) s_off[warp] = __popc(ballot);
    __syncthreads();
    if (warp == 0) {  // exclusive scan of the per-warp counts
      const int c = s_off[lane];
      int incl = c;
      for (int off = 1; off < 32; off <<= 1) {
        const int o = __shfl_up_sync(0xffffffffu, incl, off);
        if (lane >= off) incl += o;
      }
      s_off[lane] = incl - c;
      if (lane == 31) s_step = incl;
    }
    __syncthreads();
    if (flag) {
      const int pos = s_off[warp] + __popc(ballot & ((1u << lane) - 1u));
      if (pos <= kMaxCollect) {
        s_list[pos] = b;
        s_accept[pos] = accept ? 1 : 0;
        s_g[pos] = g;
      }
    }
    __syncthreads();
    if (threadIdx.x == 0 && s_step > 0) {
      int count = min(s_step, kMaxCollect);
      for (int l = 0; l < count; ++l) {
        if (s_accept[l]) {
          count = l + 1;
          break;
        }
      }
      s_count = count;
      s_scan_end = count < s_step ? s_list[count] : min(base + kCollectThreads, end);
      s_done = 1;
    }
    __syncthreads();
    if (a.nearest != nullptr && !flag && b < end && (!s_done || b < s_scan_end)) a.nearest[b] = sqrtf(g);
    if (s_done) break;
  }
  if (threadIdx.x == 0) {
    const int count = s_count;
    for (int l = 0; l < count; ++l) {
      a.list[l] = s_list[l];
      a.list_accept[l] = s_accept[l];
      a.exact_bits[l] = kEmptyBest;
    }
    st->count = count;
    st->scan_end = s_scan_end;
    if (count == 0) {
      st->cursor = s_scan_end;
    } else if (s_accept[0]) {
      choose(a, st, s_list[0], sqrtf(s_g[0]));
    } else {
      st->need_exact = 1;
      st->n_exact += s_accept[count - 1] ? count - 1 : count;
    }
  }
}

/// Block (collected candidate l, column tile): exact canonical minimum over stored points.
__global__ void __launch_bounds__(kLatThreads) exact_kernel(OfferArgs a) {
  __shared__ double ps[kChunk];
  __shared__ StageBuffer<double, kLatThreads, kLatStepD> stage;
  const LoopState* st = a.state;
  const int l = blockIdx.y;
  if (!st->need_exact || l >= st->count || a.list_accept[l]) return;
  const float* p = a.P + static_cast<long long>(a.list[l]) * a.d;
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  double s = 0.0;
  for (int j0 = 0; j0 < a.d; j0 += kChunk) {
    const int len = min(kChunk, a.d - j0);
    __syncthreads();
    stage_double(ps, p + j0, len);
    __syncthreads();
    if (k < a.n)
      s = canonical_column<kLatThreads, kLatStepD>(s, ps, a.XD + static_cast<long long>(j0) * a.ld + k, a.ld, len,
                                                   stage);
  }
  const unsigned long long v = block_min_u64(k < a.n ? static_cast<unsigned long long>(__double_as_longlong(s))
                                                     : kEmptyBest);
  if (threadIdx.x == 0) atomicMin(a.exact_bits + l, v);
}

/// One thread: walks the collected candidates in order with their exact distances.
__global__ void decide_kernel(OfferArgs a) {
  LoopState* st = a.state;
  if (!st->need_exact) return;
  const double dm = st->dm;
  for (int l = 0; l < st->count; ++l) {
    const int b = a.list[l];
    if (a.list_accept[l]) {
      choose(a, st, b, sqrtf(best_value(a.cmin[b])));
      return;
    }
    const double e = __longlong_as_double(static_cast<long long>(a.exact_bits[l]));
    if (e > dm) {
      choose(a, st, b, static_cast<float>(sqrt(e)));
      return;
    }
    if (a.nearest != nullptr) a.nearest[b] = static_cast<float>(sqrt(e));
  }
  st->cursor = st->scan_end;
}

/// Applies the round's replacement to D: thread k computes D[r][k] = D[k][r] and updates the
/// minimum of row k cheaply (rows that lose their minimum, and row r, are queued).
__global__ void __launch_bounds__(kLatThreads) replace_rows_kernel(OfferArgs a) {
  __shared__ double ps[kChunk];
  __shared__ StageBuffer<double, kLatThreads, kLatStepD> stage;
  LoopState* st = a.state;
  if (!st->replaced) return;
  const int c = st->chosen, r = st->slot, d = a.d, ld = a.ld;
  const float* p = a.P + static_cast<long long>(c) * d;
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  const bool active = k < a.n && k != r;
  double s = 0.0;
  for (int j0 = 0; j0 < d; j0 += kChunk) {
    const int len = min(kChunk, d - j0);
    __syncthreads();
    stage_double(ps, p + j0, len);
    __syncthreads();
    if (active)
      s = canonical_column<kLatThreads, kLatStepD>(s, ps, a.XD + static_cast<long long>(j0) * ld + k, ld, len, stage);
  }
  if (active) {
    a.D[static_cast<long long>(r) * ld + k] = s;
    a.D[static_cast<long long>(k) * ld + r] = s;
    if (a.row_idx[k] == r) {
      a.dirty_rows[atomicAdd(&st->n_dirty_rows, 1)] = k;
    } else if (s < a.row_val[k] || (s == a.row_val[k] && r < a.row_idx[k])) {
      a.row_val[k] = s;
      a.row_idx[k] = r;
    }
  } else if (k == r) {
    a.D[static_cast<long long>(r) * ld + r] = inf_d();
    a.dirty_rows[atomicAdd(&st->n_dirty_rows, 1)] = r;
  }
}

/// Screened distances of the later candidates to the new point (a warp per candidate;
/// candidates whose screened nearest point was r are queued for a full recompute). Block 0
/// also stores the new point (XT column r, Xc row r), which replace_rows_kernel never reads.
__global__ void __launch_bounds__(256) patch_kernel(OfferArgs a) {
  LoopState* st = a.state;
  if (!st->replaced) return;
  const int c = st->chosen, r = st->slot, d = a.d, ld = a.ld, end = st->end;
  const float* p = a.P + static_cast<long long>(c) * d;
  const float* pc = a.Pc + static_cast<long long>(c) * d;
  if (blockIdx.x == 0) {
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
      a.XT[static_cast<long long>(j) * ld + r] = p[j];
      a.XD[static_cast<long long>(j) * ld + r] = static_cast<double>(p[j]);
      a.Xc[static_cast<long long>(r) * d + j] = pc[j];
    }
    if (threadIdx.x == 0) {
      a.xn2[r] = a.pn2[c];
      const double norm = sqrt(static_cast<double>(a.pn2[c])) * (1.0 + a.bounds.gamma);
      st->xnorm_bound = fmax(st->xnorm_bound, norm);
    }
  }
  const int lane = threadIdx.x & 31;
  const int warps = blockDim.x >> 5;
  const float pcn = a.pn2[c];
  for (long long bb = c + 1 + static_cast<long long>(blockIdx.x) * warps + (threadIdx.x >> 5); bb < end;
       bb += static_cast<long long>(gridDim.x) * warps) {
    const float* q = a.Pc + bb * d;
    float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    int j = lane;
    for (; j + 7 * 32 < d; j += 8 * 32) {  // eight independent loads in flight per lane
      float qv[8], cv[8];
#pragma unroll
      for (int u = 0; u < 8; ++u) {
        qv[u] = q[j + u * 32];
        cv[u] = pc[j + u * 32];
      }
#pragma unroll
      for (int u = 0; u < 8; ++u) acc[u] = fmaf(qv[u], cv[u], acc[u]);
    }
    for (; j < d; j += 32) acc[0] = fmaf(q[j], pc[j], acc[0]);
    float dot = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    if (lane == 0) {
      const unsigned long long fresh = pack_best(clamp_screen(a.pn2[bb] + pcn - 2.f * dot), r);
      const unsigned long long old = a.cmin[bb];
      if (old != kEmptyBest && best_index(old) == r) {
        a.cmin[bb] = kEmptyBest;
        a.dirty_cands[atomicAdd(&st->n_dirty_cands, 1)] = static_cast<int>(bb);
      } else if (fresh < old) {
        a.cmin[bb] = fresh;
      }
    }
  }
}

/// Grid-stride over the queued work: full row minima of D rows, and screened minima of
/// candidates (one column tile per work item, combined with atomicMin).
__global__ void __launch_bounds__(kLatThreads) dirty_kernel(OfferArgs a) {
  __shared__ float ps[kChunk];
  __shared__ float pm[kChunk];
  __shared__ StageBuffer<float, kLatThreads, kLatStep> stage;
  const LoopState* st = a.state;
  const int nrow = st->n_dirty_rows, ncand = st->n_dirty_cands;
  const int tiles = (a.n + kLatThreads - 1) / kLatThreads;
  const long long total = nrow + static_cast<long long>(ncand) * tiles;
  for (long long w = blockIdx.x; w < total; w += gridDim.x) {
    if (w < nrow) {
      const int i = a.dirty_rows[w];
      const double* row = a.D + static_cast<long long>(i) * a.ld;
      const RowMin best = block_min_row(row_min_share(row, a.n, i));
      if (threadIdx.x == 0) {
        a.row_val[i] = best.value;
        a.row_idx[i] = best.index;
      }
      continue;
    }
    const long long q = w - nrow;
    const int cand = a.dirty_cands[q / tiles];
    const int k = static_cast<int>(q % tiles) * kLatThreads + threadIdx.x;
    const float* pc = a.Pc + static_cast<long long>(cand) * a.d;
    float dot = 0.f;
    for (int j0 = 0; j0 < a.d; j0 += kChunk) {
      const int len = min(kChunk, a.d - j0);
      __syncthreads();
      stage_async(ps, pc + j0, len);
      stage_async(pm, a.mu + j0, len);
      __syncthreads();
      if (k < a.n)
        dot += centered_dot_column<kLatThreads, kLatStep>(ps, pm, a.XT + static_cast<long long>(j0) * a.ld + k, a.ld,
                                                          len, stage);
    }
    const unsigned long long v =
        k < a.n ? pack_best(clamp_screen(a.pn2[cand] + a.xn2[k] - 2.f * dot), k) : kEmptyBest;
    const unsigned long long m = block_min_u64(v);
    if (threadIdx.x == 0) atomicMin(a.cmin + cand, m);
  }
}

}  // namespace

ScreenBounds make_screen_bounds(int d) {
  const double u = std::ldexp(1.0, -24);
  const double nd = static_cast<double>(d) + 3.0;
  ScreenBounds b{};
  b.gamma = 1.05 * nd * u / (1.0 - nd * u);
  b.eta = 1.05 * u;
  b.abs_slack = 16.0 * (static_cast<double>(d) + 8.0) * std::ldexp(1.0, -149);
  return b;
}

void offer_rounds(const OfferArgs& a, int rounds, int num_sms, cudaStream_t stream) {
  const unsigned tiles = static_cast<unsigned>((a.n + kLatThreads - 1) / kLatThreads);
  const unsigned patch_blocks = static_cast<unsigned>(std::clamp((a.count + 7) / 8, 1, 16 * num_sms));
  const unsigned dirty_blocks = static_cast<unsigned>(std::max(1, 8 * num_sms));
  for (int i = 0; i < rounds; ++i) {
    collect_kernel<<<1, kCollectThreads, 0, stream>>>(a);
    check_launch("collect_kernel");
    exact_kernel<<<dim3(tiles, kMaxCollect), kLatThreads, 0, stream>>>(a);
    check_launch("exact_kernel");
    decide_kernel<<<1, 1, 0, stream>>>(a);
    check_launch("decide_kernel");
    replace_rows_kernel<<<tiles, kLatThreads, 0, stream>>>(a);
    check_launch("replace_rows_kernel");
    patch_kernel<<<patch_blocks, 256, 0, stream>>>(a);
    check_launch("patch_kernel");
    dirty_kernel<<<dirty_blocks, kLatThreads, 0, stream>>>(a);
    check_launch("dirty_kernel");
  }
}

}  // namespace seqcore::cuda
