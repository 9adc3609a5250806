// Greedy k-center selection (PatchCore's coreset baseline) over a full feature matrix.
#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "parallel.hpp"
#include "simd.hpp"
#include "seqcore/kcenter.hpp"

namespace seqcore {
namespace {

using detail::v8f;

constexpr std::size_t kBlock = 4096;                 // points per work item
constexpr std::size_t kMinPairsPerThread = 1u << 20;  // below this a thread is not worth waking

struct Farthest {
  float value;
  std::int64_t index;
};

/// Lowers min_sq[i] to the squared distance to `center` for i in [begin, end) and returns
/// the farthest remaining point (largest min_sq, smallest index; picked points hold -1).
SEQCORE_CLONES
Farthest relax_range(const float* features, std::size_t dim, const float* center, float* min_sq,
                     std::size_t begin, std::size_t end) {
  Farthest far{-1.0f, -1};
  for (std::size_t i = begin; i < end; ++i) {
    const float* x = features + i * dim;
    v8f acc = {};
    std::size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
      const v8f t = detail::load8(x + j) - detail::load8(center + j);
      acc += t * t;
    }
    float s = 0.0f;
    for (; j < dim; ++j) {
      const float t = x[j] - center[j];
      s += t * t;
    }
    for (int l = 0; l < 8; ++l) s += acc[l];
    if (min_sq[i] >= 0.0f && s < min_sq[i]) min_sq[i] = s;
    if (min_sq[i] > far.value) far = Farthest{min_sq[i], static_cast<std::int64_t>(i)};
  }
  return far;
}

}  // namespace

std::vector<std::int64_t> greedy_kcenter(const float* features, std::size_t count, std::size_t dim,
                                         std::size_t k, std::size_t start,
                                         const std::function<void(std::size_t)>& progress) {
  if (dim == 0) throw std::invalid_argument("dim must be positive");
  if (count > 0 && start >= count) throw std::invalid_argument("start index out of range");
  const std::size_t picks = std::min(k, count);
  std::vector<std::int64_t> chosen;
  chosen.reserve(picks);
  if (picks == 0) return chosen;
  std::vector<float> min_sq(count, std::numeric_limits<float>::infinity());
  std::size_t current = start;
  const std::size_t blocks = (count + kBlock - 1) / kBlock;
  for (std::size_t step = 0; step < picks; ++step) {
    chosen.push_back(static_cast<std::int64_t>(current));
    min_sq[current] = -1.0f;  // picked: never picked again
    if (progress) progress(chosen.size());
    if (step + 1 == picks) break;
    const float* center = features + current * dim;
    Farthest far{-1.0f, -1};
    std::mutex far_mutex;
    detail::parallel_for(blocks, std::max<std::size_t>(1, kMinPairsPerThread / (kBlock * dim)),
                         [&](std::size_t b0, std::size_t b1) {
      const Farthest f = relax_range(features, dim, center, min_sq.data(), b0 * kBlock, std::min(count, b1 * kBlock));
      std::lock_guard<std::mutex> lock(far_mutex);
      if (f.value > far.value || (f.value == far.value && f.index < far.index)) far = f;
    });
    current = static_cast<std::size_t>(far.index);
  }
  return chosen;
}

}  // namespace seqcore
