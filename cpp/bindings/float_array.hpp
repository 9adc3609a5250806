// Input checks and result arrays shared by the pybind11 modules seqcore._core and seqcore._cuda.
#pragma once

#include <pybind11/numpy.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

namespace seqcore_bindings {

namespace py = pybind11;

/// A C-contiguous float32 view; other float dtypes are converted by pybind11.
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

/// Checks a (rows, dim) float32 array and returns its row count.
inline std::size_t rows_of(const FloatArray& a, std::size_t dim, const char* name) {
  if (a.ndim() != 2) throw py::value_error(std::string(name) + " must be 2-D (rows, dim)");
  if (static_cast<std::size_t>(a.shape(1)) != dim)
    throw py::value_error(std::string(name) + " has dimension " + std::to_string(a.shape(1)) + ", expected " +
                          std::to_string(dim));
  return static_cast<std::size_t>(a.shape(0));
}

/// Rejects NaN or inf anywhere in the array.
inline void require_finite(const FloatArray& a, const char* name) {
  const float* p = a.data();
  for (py::ssize_t i = 0, n = a.size(); i < n; ++i)
    if (!std::isfinite(p[i])) throw py::value_error(std::string(name) + " contains NaN or inf");
}

/// (float32 distance, int64 index) arrays of count entries, filled by fill(distance, index)
/// with the GIL released: the result of every nearest-neighbour query.
template <class Fill>
py::tuple nearest_result(std::size_t count, Fill&& fill) {
  py::array_t<float> distance(count);
  py::array_t<std::int64_t> index(count);
  float* d = distance.mutable_data();
  std::int64_t* ix = index.mutable_data();
  {
    py::gil_scoped_release release;
    fill(d, ix);
  }
  return py::make_tuple(distance, index);
}

}  // namespace seqcore_bindings
