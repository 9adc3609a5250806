// SequentialCoreset: the docs/design.md §2 rule with an exact dense distance matrix, incremental
// row/column updates and float32 screening settled by canonical distances.
#include "seqcore/coreset.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

#include "parallel.hpp"
#include "screen.hpp"
#include "simd.hpp"
#include "seqcore/distance.hpp"

namespace seqcore {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::size_t kBatchChunk = 128;      // candidates screened at once by offer_batch
constexpr std::size_t kProjectMinDim = 48;    // below this the full screen is cheap enough
constexpr std::size_t kWitnessTries = 4;      // projected nearest points checked per candidate
constexpr std::size_t kMinPairsPerThread = 1u << 17;  // canonical pairs worth a thread
constexpr std::size_t kMaxCapacity = 1u << 20;  // dense K x K matrix must stay addressable

std::size_t round_up(std::size_t v, std::size_t m) { return (v + m - 1) / m * m; }

/// Canonical squared distances of p to the 16 points of one panel, each lane accumulating
/// exactly like canonical_sqdist (same order; this file is compiled without contraction).
SEQCORE_CLONES
void canonical_panel(const float* panel, const float* p, std::size_t dim, double* out) {
  using detail::v4d;
  v4d acc[4] = {};
  for (std::size_t j = 0; j < dim; ++j, panel += detail::kPanel) {
    const double pj = static_cast<double>(p[j]);
    for (int q = 0; q < 4; ++q) {
      const v4d x = __builtin_convertvector(detail::load4(panel + 4 * q), v4d);
      const v4d diff = x - pj;
      const v4d sq = diff * diff;
      acc[q] = acc[q] + sq;
    }
  }
  std::memcpy(out, acc, sizeof acc);
}

}  // namespace

SequentialCoreset::SequentialCoreset(std::size_t capacity, std::size_t dim)
    : capacity_(capacity), dim_(dim) {
  if (capacity == 0) throw std::invalid_argument("capacity must be positive");
  if (dim == 0) throw std::invalid_argument("dim must be positive");
  if (capacity > kMaxCapacity) throw std::invalid_argument("capacity too large for a dense distance matrix");
  points_.assign(capacity * dim, 0.0f);
  panels_.assign(round_up(capacity, detail::kPanel) * dim, 0.0f);
  if (dim >= kProjectMinDim) {
    std::mt19937 rng(12345);  // fixed: the projection only steers effort, never decisions
    std::normal_distribution<float> normal(0.0f, 0.25f);
    projection_.resize(dim * detail::kPanel);
    for (float& v : projection_) v = normal(rng);
    projected_.assign(round_up(capacity, detail::kPanel) * detail::kPanel, 0.0f);
  }
  dist_.assign(capacity * capacity, kInf);
  row_min_.assign(capacity, kInf);
  row_arg_.assign(capacity, -1);
  min_pair_ = MinPair{-1, -1, kInf};
}

std::vector<float> SequentialCoreset::points() const {
  return std::vector<float>(points_.begin(), points_.begin() + static_cast<std::ptrdiff_t>(size_ * dim_));
}

std::vector<double> SequentialCoreset::sqdist_matrix() const {
  std::vector<double> out(size_ * size_);
  for (std::size_t i = 0; i < size_; ++i)
    std::copy_n(dist_.data() + i * capacity_, size_, out.data() + i * size_);
  return out;
}

void SequentialCoreset::canonical_row(const float* p, double* row) const {
  // Panel by panel, dimension-sequential: each row[k] accumulates exactly like
  // canonical_sqdist(p, point(k)) (same order, no contraction), vectorized across k.
  const std::size_t panels = (size_ + detail::kPanel - 1) / detail::kPanel;
  detail::parallel_for(panels, kMinPairsPerThread / (dim_ * detail::kPanel), [&](std::size_t b0, std::size_t b1) {
    for (std::size_t b = b0; b < b1; ++b) {
      double acc[detail::kPanel];
      canonical_panel(panels_.data() + b * dim_ * detail::kPanel, p, dim_, acc);
      const std::size_t k0 = b * detail::kPanel;
      std::copy(acc, acc + std::min(detail::kPanel, size_ - k0), row + k0);
    }
  });
}

void SequentialCoreset::store_point(std::size_t slot, const float* p) {
  std::copy(p, p + dim_, points_.begin() + static_cast<std::ptrdiff_t>(slot * dim_));
  detail::store_in_panels(panels_.data(), slot, p, dim_);
  if (!projection_.empty()) {
    float proj[detail::kPanel];
    detail::project_rows(p, 1, dim_, projection_.data(), proj);
    detail::store_in_panels(projected_.data(), slot, proj, detail::kPanel);
  }
}

void SequentialCoreset::rescan_row(std::size_t k) {
  const double* d = dist_.data() + k * capacity_;
  double best = kInf;
  std::int64_t arg = -1;
  for (std::size_t j = 0; j < size_; ++j) {
    if (d[j] < best) {
      best = d[j];
      arg = static_cast<std::int64_t>(j);
    }
  }
  row_min_[k] = best;
  row_arg_[k] = arg;
}

void SequentialCoreset::update_min_pair() {
  MinPair best{-1, -1, kInf};
  for (std::size_t k = 0; k < size_; ++k) {
    const std::int64_t a = row_arg_[k];
    if (a < 0) continue;
    const std::int64_t lo = std::min<std::int64_t>(static_cast<std::int64_t>(k), a);
    const std::int64_t hi = std::max<std::int64_t>(static_cast<std::int64_t>(k), a);
    const double v = row_min_[k];
    if (v < best.sqdist || (v == best.sqdist && (lo < best.i || (lo == best.i && hi < best.j))) ||
        best.i < 0)
      best = MinPair{lo, hi, v};
  }
  min_pair_ = best;
}

void SequentialCoreset::append(const float* p, double* row) {
  const std::size_t s = size_;
  canonical_row(p, row);
  store_point(s, p);
  size_ = s + 1;
  double* ds = dist_.data() + s * capacity_;
  for (std::size_t k = 0; k < s; ++k) {
    ds[k] = row[k];
    dist_[k * capacity_ + s] = row[k];
    if (row[k] < row_min_[k]) {  // a tie keeps the existing smaller column index
      row_min_[k] = row[k];
      row_arg_[k] = static_cast<std::int64_t>(s);
    }
  }
  rescan_row(s);
  update_min_pair();
}

void SequentialCoreset::replace(std::size_t r, const float* p, double* row) {
  store_point(r, p);
  canonical_row(p, row);
  row[r] = kInf;
  double* dr = dist_.data() + r * capacity_;
  const auto ri = static_cast<std::int64_t>(r);
  for (std::size_t k = 0; k < size_; ++k) {
    dr[k] = row[k];
    if (k == r) continue;
    dist_[k * capacity_ + r] = row[k];
    if (row_arg_[k] == ri) {
      // r was this row's smallest-index minimum: it stays so unless its distance grew.
      if (row[k] <= row_min_[k])
        row_min_[k] = row[k];
      else
        rescan_row(k);
    } else if (row[k] < row_min_[k] || (row[k] == row_min_[k] && ri < row_arg_[k])) {
      row_min_[k] = row[k];
      row_arg_[k] = ri;
    }
  }
  rescan_row(r);
  update_min_pair();
}

bool SequentialCoreset::decide(const float* p, const float* screen_row, bool need_nearest,
                               double* nearest) const {
  const detail::ScreenBound bound(dim_);
  const double threshold = min_pair_.sqdist;
  const float smin = *std::min_element(screen_row, screen_row + size_);
  const double hi = bound.upper(smin);
  if (!need_nearest) {
    if (hi <= threshold) return false;             // some point is surely within d_m
    if (bound.lower(smin) > threshold) return true;  // every point is surely beyond d_m
  }
  // Exact nearest distance: only points whose interval can reach below hi are candidates.
  double best = kInf;
  for (std::size_t k = 0; k < size_; ++k) {
    if (bound.lower(screen_row[k]) <= hi) best = std::min(best, canonical_sqdist(p, point(k), dim_));
  }
  if (nearest) *nearest = best;
  return best > threshold;
}

bool SequentialCoreset::offer(const float* p, double* nearest_sqdist, std::int64_t* slot) {
  std::int64_t where = -1;
  offer_batch(p, 1, nearest_sqdist, &where);
  if (slot) *slot = where;
  return where >= 0;
}

std::size_t SequentialCoreset::offer_batch(const float* candidates, std::size_t count,
                                           double* nearest_sqdist, std::int64_t* slot) {
  std::vector<double> row(capacity_);
  std::size_t b = 0;
  for (; b < count && size_ < capacity_; ++b) {  // fill phase: append without a test
    append(candidates + b * dim_, row.data());
    if (nearest_sqdist) {
      const auto others = row.begin() + static_cast<std::ptrdiff_t>(size_ - 1);  // the new row's peers
      nearest_sqdist[b] = size_ > 1 ? *std::min_element(row.begin(), others) : kInf;
    }
    if (slot) slot[b] = static_cast<std::int64_t>(size_ - 1);
  }
  if (b == count) return 0;

  std::size_t replaced = 0;
  for (; b < count; b += kBatchChunk) {
    const std::size_t m = std::min(kBatchChunk, count - b);
    replaced += offer_chunk(candidates + b * dim_, m, nearest_sqdist ? nearest_sqdist + b : nullptr,
                            slot ? slot + b : nullptr);
  }
  return replaced;
}

void SequentialCoreset::find_witnesses(const float* candidates, std::size_t count, std::int64_t* witness) const {
  // A witness is a stored point provably within the closest pair's distance: the candidate
  // is then rejected. The closest-pair distance never decreases (a replacement only adds
  // distances above it), so a witness stays valid until its own slot is replaced.
  const detail::ScreenBound bound(dim_);
  const double threshold = min_pair_.sqdist;
  std::vector<float> proj(count * detail::kPanel), near(count * size_);
  detail::project_rows(candidates, count, dim_, projection_.data(), proj.data());
  detail::screen_block(proj.data(), count, detail::kPanel, projected_.data(), size_, near.data(), size_);
  detail::parallel_for(count, 8, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::int64_t best[kWitnessTries];
      float best_value[kWitnessTries];
      std::fill(best, best + kWitnessTries, -1);
      std::fill(best_value, best_value + kWitnessTries, std::numeric_limits<float>::infinity());
      const float* row = near.data() + c * size_;
      for (std::size_t k = 0; k < size_; ++k) {
        if (!(row[k] < best_value[kWitnessTries - 1])) continue;
        std::size_t pos = kWitnessTries - 1;
        for (; pos > 0 && row[k] < best_value[pos - 1]; --pos) {
          best_value[pos] = best_value[pos - 1];
          best[pos] = best[pos - 1];
        }
        best_value[pos] = row[k];
        best[pos] = static_cast<std::int64_t>(k);
      }
      witness[c] = -1;
      for (const std::int64_t h : best) {
        if (h < 0) break;
        const float s = detail::screen_pair(candidates + c * dim_, point(static_cast<std::size_t>(h)), dim_);
        if (bound.upper(s) <= threshold) {
          witness[c] = h;
          break;
        }
      }
    }
  });
}

std::size_t SequentialCoreset::offer_chunk(const float* chunk, std::size_t m, double* nearest_sqdist,
                                           std::int64_t* slot) {
  // Candidates without a witness get a full screen row, computed now for the whole chunk
  // and patched in column r after each replacement.
  std::vector<std::int64_t> witness(m, -1);
  if (!nearest_sqdist && !projection_.empty()) find_witnesses(chunk, m, witness.data());
  std::vector<std::size_t> row_of(m, m);
  std::vector<float> pending;
  std::size_t rows = 0;
  for (std::size_t i = 0; i < m; ++i) {
    if (witness[i] >= 0) continue;
    row_of[i] = rows++;
    pending.insert(pending.end(), chunk + i * dim_, chunk + (i + 1) * dim_);
  }
  std::vector<float> screen(std::max<std::size_t>(rows, 1) * capacity_);
  detail::screen_block(pending.data(), rows, dim_, panels_.data(), size_, screen.data(), capacity_);
  std::vector<float> late_row;     // screen row of a candidate whose witness was replaced
  std::vector<char> touched(capacity_, 0);
  std::vector<double> row(capacity_);
  std::size_t replaced = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const float* p = chunk + i * dim_;
    if (witness[i] >= 0 && !touched[static_cast<std::size_t>(witness[i])]) {
      if (slot) slot[i] = -1;
      continue;
    }
    const float* screen_row;
    if (row_of[i] < m) {
      screen_row = screen.data() + row_of[i] * capacity_;
    } else {
      late_row.resize(capacity_);
      detail::screen_block(p, 1, dim_, panels_.data(), size_, late_row.data(), capacity_);
      screen_row = late_row.data();
    }
    double nearest = kInf;
    const bool take = decide(p, screen_row, nearest_sqdist != nullptr, &nearest);
    if (nearest_sqdist) nearest_sqdist[i] = nearest;
    if (!take) {
      if (slot) slot[i] = -1;
      continue;
    }
    const auto r = static_cast<std::size_t>(min_pair_.i);
    replace(r, p, row.data());
    touched[r] = 1;
    ++replaced;
    if (slot) slot[i] = static_cast<std::int64_t>(r);
    for (std::size_t q = i + 1; q < m; ++q)  // later candidates now see p in column r
      if (row_of[q] < m) screen[row_of[q] * capacity_ + r] = detail::screen_pair(chunk + q * dim_, p, dim_);
  }
  return replaced;
}

void SequentialCoreset::query(const float* queries, std::size_t count, float* distance,
                              std::int64_t* index, std::size_t chunk_size) const {
  detail::nearest_in_panels(queries, count, dim_, panels_.data(), size_, distance, index, chunk_size);
}

SequentialCoreset meld(const std::vector<PointSet>& sources, std::size_t dim, std::size_t capacity,
                       std::size_t max_passes) {
  SequentialCoreset core(capacity, dim);
  for (std::size_t pass = 0; pass < max_passes; ++pass) {
    std::size_t replaced = 0;
    for (const PointSet& s : sources) replaced += core.offer_batch(s.data, s.count);
    if (replaced == 0) break;
  }
  return core;
}

}  // namespace seqcore
