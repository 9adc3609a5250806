// PointIndex: the coreset's screening layout and nearest-point query, without its matrix.
#include "seqcore/point_index.hpp"

#include <stdexcept>

#include "screen.hpp"

namespace seqcore {

PointIndex::PointIndex(const float* points, std::size_t count, std::size_t dim)
    : count_(count), dim_(dim) {
  if (dim == 0) throw std::invalid_argument("dim must be positive");
  panels_ = detail::pack_panels(points, count, dim);
}

void PointIndex::query(const float* queries, std::size_t count, float* distance, std::int64_t* index,
                       std::size_t chunk_size) const {
  detail::nearest_in_panels(queries, count, dim_, panels_.data(), count_, distance, index, chunk_size);
}

}  // namespace seqcore
