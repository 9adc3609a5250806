// Greedy k-center selection (PatchCore's coreset baseline) over a full feature matrix.
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "seqcore/coreset.hpp"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define SEQCORE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SEQCORE_CLONES
#endif

namespace seqcore {
namespace {

typedef float v8f __attribute__((vector_size(32)));

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
      v8f a, c;
      std::memcpy(&a, x + j, sizeof a);
      std::memcpy(&c, center + j, sizeof c);
      const v8f t = a - c;
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
                                         std::size_t k, std::size_t start) {
  if (dim == 0) throw std::invalid_argument("dim must be positive");
  if (count > 0 && start >= count) throw std::invalid_argument("start index out of range");
  const std::size_t picks = std::min(k, count);
  std::vector<std::int64_t> chosen;
  chosen.reserve(picks);
  if (picks == 0) return chosen;
  std::vector<float> min_sq(count, std::numeric_limits<float>::infinity());
  std::size_t current = start;
  const long blocks = static_cast<long>((count + 4095) / 4096);
  for (std::size_t step = 0; step < picks; ++step) {
    chosen.push_back(static_cast<std::int64_t>(current));
    min_sq[current] = -1.0f;  // picked: never picked again
    if (step + 1 == picks) break;
    const float* center = features + current * dim;
    Farthest far{-1.0f, -1};
#pragma omp parallel
    {
      Farthest mine{-1.0f, -1};
#pragma omp for schedule(static) nowait
      for (long b = 0; b < blocks; ++b) {
        const std::size_t lo = static_cast<std::size_t>(b) * 4096;
        const Farthest f = relax_range(features, dim, center, min_sq.data(), lo, std::min(count, lo + 4096));
        if (f.value > mine.value || (f.value == mine.value && f.index >= 0 && f.index < mine.index))
          mine = f;
      }
#pragma omp critical
      if (mine.value > far.value || (mine.value == far.value && mine.index >= 0 && mine.index < far.index))
        far = mine;
    }
    current = static_cast<std::size_t>(far.index);
  }
  return chosen;
}

}  // namespace seqcore
