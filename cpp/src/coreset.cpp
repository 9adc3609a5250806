// SequentialCoreset: the SPEC §2 rule with an exact dense distance matrix, incremental
// row/column updates and float32 screening settled by canonical distances.
#include "seqcore/coreset.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "parallel.hpp"
#include "screen.hpp"
#include "seqcore/distance.hpp"

namespace seqcore {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::size_t kBatchChunk = 128;      // candidates screened at once by offer_batch
constexpr std::size_t kMinPairsPerThread = 1u << 17;  // canonical pairs worth a thread
constexpr std::size_t kMaxCapacity = 1u << 20;  // dense K x K matrix must stay addressable

std::size_t round_up(std::size_t v, std::size_t m) { return (v + m - 1) / m * m; }

}  // namespace

SequentialCoreset::SequentialCoreset(std::size_t capacity, std::size_t dim)
    : capacity_(capacity), dim_(dim) {
  if (capacity == 0) throw std::invalid_argument("capacity must be positive");
  if (dim == 0) throw std::invalid_argument("dim must be positive");
  if (capacity > kMaxCapacity) throw std::invalid_argument("capacity too large for a dense distance matrix");
  points_.assign(capacity * dim, 0.0f);
  panels_.assign(round_up(capacity, detail::kPanel) * dim, 0.0f);
  dist_.assign(capacity * capacity, kInf);
  row_min_.assign(capacity, kInf);
  row_arg_.assign(capacity, -1);
  min_pair_ = MinPair{-1, -1, kInf};
}

std::vector<float> SequentialCoreset::points() const {
  return std::vector<float>(points_.begin(), points_.begin() + static_cast<std::ptrdiff_t>(size_ * dim_));
}

void SequentialCoreset::canonical_row(const float* p, double* row) const {
  // Panel by panel, dimension-sequential: each row[k] accumulates exactly like
  // canonical_sqdist(p, point(k)) (same order, no contraction), vectorized across k.
  const std::size_t panels = (size_ + detail::kPanel - 1) / detail::kPanel;
  detail::parallel_for(panels, kMinPairsPerThread / (dim_ * detail::kPanel), [&](std::size_t b0, std::size_t b1) {
    for (std::size_t b = b0; b < b1; ++b) {
      double acc[detail::kPanel] = {};
      const float* t = panels_.data() + b * dim_ * detail::kPanel;
      for (std::size_t j = 0; j < dim_; ++j, t += detail::kPanel) {
        const double pj = static_cast<double>(p[j]);
        for (std::size_t l = 0; l < detail::kPanel; ++l) {
          const double diff = static_cast<double>(t[l]) - pj;
          const double sq = diff * diff;
          acc[l] = acc[l] + sq;
        }
      }
      const std::size_t k0 = b * detail::kPanel;
      std::copy(acc, acc + std::min(detail::kPanel, size_ - k0), row + k0);
    }
  });
}

void SequentialCoreset::store_point(std::size_t slot, const float* p) {
  std::copy(p, p + dim_, points_.begin() + static_cast<std::ptrdiff_t>(slot * dim_));
  float* panel = panels_.data() + (slot / detail::kPanel) * dim_ * detail::kPanel + slot % detail::kPanel;
  for (std::size_t j = 0; j < dim_; ++j) panel[j * detail::kPanel] = p[j];
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
    if (nearest_sqdist)
      nearest_sqdist[b] = size_ > 1 ? *std::min_element(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(size_ - 1)) : kInf;
    if (slot) slot[b] = static_cast<std::int64_t>(size_ - 1);
  }
  if (b == count) return 0;

  std::size_t replaced = 0;
  std::vector<float> screen(std::min(kBatchChunk, count - b) * capacity_);
  for (; b < count; b += kBatchChunk) {
    const std::size_t m = std::min(kBatchChunk, count - b);
    const float* chunk = candidates + b * dim_;
    detail::screen_block(chunk, m, dim_, panels_.data(), size_, screen.data(), capacity_);
    for (std::size_t i = 0; i < m; ++i) {
      const float* p = chunk + i * dim_;
      double nearest = kInf;
      const bool take = decide(p, screen.data() + i * capacity_, nearest_sqdist != nullptr, &nearest);
      if (nearest_sqdist) nearest_sqdist[b + i] = nearest;
      if (!take) {
        if (slot) slot[b + i] = -1;
        continue;
      }
      const auto r = static_cast<std::size_t>(min_pair_.i);
      replace(r, p, row.data());
      ++replaced;
      if (slot) slot[b + i] = static_cast<std::int64_t>(r);
      for (std::size_t q = i + 1; q < m; ++q)  // later candidates now see p in column r
        screen[q * capacity_ + r] = detail::screen_pair(chunk + q * dim_, p, dim_);
    }
  }
  return replaced;
}

void SequentialCoreset::query(const float* queries, std::size_t count, float* distance,
                              std::int64_t* index, std::size_t chunk_size) const {
  if (chunk_size == 0) throw std::invalid_argument("chunk_size must be positive");
  if (size_ == 0) {
    std::fill(distance, distance + count, std::numeric_limits<float>::infinity());
    std::fill(index, index + count, -1);
    return;
  }
  const std::size_t chunk = std::min(chunk_size, count);
  std::vector<float> screen(chunk * size_);
  for (std::size_t q0 = 0; q0 < count; q0 += chunk) {
    const std::size_t m = std::min(chunk, count - q0);
    detail::screen_block(queries + q0 * dim_, m, dim_, panels_.data(), size_, screen.data(), size_);
    for (std::size_t i = 0; i < m; ++i) {
      const float* s = screen.data() + i * size_;
      const float* best = std::min_element(s, s + size_);
      distance[q0 + i] = std::sqrt(*best);
      index[q0 + i] = best - s;
    }
  }
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
