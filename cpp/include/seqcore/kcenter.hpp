// Greedy k-center selection (docs/design.md §2 Reference): the original PatchCore coreset,
// built from ALL training patches at once, kept as the baseline for the sequential coreset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace seqcore {

/// Starting from index start, repeatedly picks the point farthest (Euclidean) from the points
/// picked so far among count row-major dim-dimensional float32 features. Returns min(k, count)
/// distinct indices in selection order; ties pick the smallest index. Holds count floats of
/// temporary memory besides the features. `progress`, when set, is called with the number of
/// points picked so far after each pick. Throws std::invalid_argument when dim is 0 or
/// start >= count > 0.
std::vector<std::int64_t> greedy_kcenter(const float* features, std::size_t count, std::size_t dim,
                                         std::size_t k, std::size_t start = 0,
                                         const std::function<void(std::size_t)>& progress = {});

}  // namespace seqcore
