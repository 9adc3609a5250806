// pybind11 module seqcore._cuda: the CUDA coreset and nearest-neighbour search with the
// method names of seqcore._core. NumPy inputs are copied to the GPU; device memory (torch
// CUDA tensors, CuPy arrays) is passed as an integer pointer and used in place.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>

#include "float_array.hpp"
#include "seqcore_cuda/cuda_coreset.hpp"

namespace py = pybind11;
using seqcore_bindings::FloatArray;
using seqcore_bindings::nearest_result;

namespace {

/// Checks a (rows, dim) float32 array of finite values and returns its row count.
std::size_t finite_rows_of(const FloatArray& a, std::size_t dim, const char* name) {
  const std::size_t rows = seqcore_bindings::rows_of(a, dim, name);
  seqcore_bindings::require_finite(a, name);
  return rows;
}

/// Checks a device pointer to count x dim finite float32 values.
const float* device_rows(std::uintptr_t ptr, std::size_t count, std::size_t dim, int device, const char* name) {
  if (count == 0) return nullptr;
  if (ptr == 0) throw py::value_error(std::string(name) + ": null device pointer");
  if (ptr % alignof(float) != 0) throw py::value_error(std::string(name) + ": misaligned device pointer");
  const auto* p = reinterpret_cast<const float*>(ptr);
  bool finite;
  {
    py::gil_scoped_release release;
    finite = seqcore::cuda::device_all_finite(p, count * dim, device);
  }
  if (!finite) throw py::value_error(std::string(name) + " contains NaN or inf");
  return p;
}

/// Python-facing CUDA coreset: the device state plus a lock.
class PyCoreset {
 public:
  PyCoreset(std::size_t capacity, std::size_t dim, int device) : core_(capacity, dim, device) {}

  std::size_t capacity() const { return core_.capacity(); }
  std::size_t dim() const { return core_.dim(); }
  int device() const { return core_.device(); }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return core_.size();
  }

  py::array_t<float> points() {
    std::vector<float> pts;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      pts = core_.points();
    }
    const std::size_t d = core_.dim(), n = pts.size() / d;
    py::array_t<float> out({n, d});
    std::copy(pts.begin(), pts.end(), out.mutable_data());
    return out;
  }

  py::tuple min_pair() {
    seqcore::MinPair mp{};
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      mp = core_.min_pair();
    }
    return py::make_tuple(mp.i, mp.j, std::sqrt(mp.sqdist));
  }

  py::dict stats() {
    seqcore::cuda::OfferStats s{};
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      s = core_.stats();
    }
    py::dict out;
    out["replacements"] = s.replacements;
    out["rounds"] = s.rounds;
    out["exact"] = s.exact;
    out["recomputed"] = s.recomputed;
    return out;
  }

  py::array_t<double> distance_matrix() {
    std::vector<double> sq;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      sq = core_.sqdist_matrix();
    }
    const auto n = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(sq.size()))));
    py::array_t<double> out({n, n});
    double* o = out.mutable_data();
    for (std::size_t i = 0; i < sq.size(); ++i) o[i] = std::sqrt(sq[i]);
    return out;
  }

  py::object offer_batch(const FloatArray& candidates, bool details) {
    const std::size_t count = finite_rows_of(candidates, core_.dim(), "candidates");
    return offer(candidates.data(), count, details, false);
  }

  py::object offer_batch_ptr(std::uintptr_t ptr, std::size_t count, bool details) {
    const float* p = device_rows(ptr, count, core_.dim(), core_.device(), "candidates");
    return offer(p, count, details, true);
  }

  py::tuple query(const FloatArray& queries, std::size_t chunk_size) {
    if (chunk_size == 0) throw py::value_error("chunk_size must be positive");
    const std::size_t count = finite_rows_of(queries, core_.dim(), "queries");
    return run_query(queries.data(), count, chunk_size, false);
  }

  py::tuple query_ptr(std::uintptr_t ptr, std::size_t count, std::size_t chunk_size) {
    if (chunk_size == 0) throw py::value_error("chunk_size must be positive");
    const float* p = device_rows(ptr, count, core_.dim(), core_.device(), "queries");
    return run_query(p, count, chunk_size, true);
  }

 private:
  py::object offer(const float* data, std::size_t count, bool details, bool on_device) {
    if (count == 0) {
      if (!details) return py::int_(0);
      return py::make_tuple(0, py::array_t<float>(0), py::array_t<std::int64_t>(0));
    }
    py::array_t<float> nearest(details ? count : 0);
    py::array_t<std::int64_t> slot(details ? count : 0);
    float* n = details ? nearest.mutable_data() : nullptr;
    std::int64_t* s = details ? slot.mutable_data() : nullptr;
    std::size_t replaced;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      replaced = on_device ? core_.offer_batch_device(data, count, n, s) : core_.offer_batch(data, count, n, s);
    }
    if (!details) return py::int_(replaced);
    return py::make_tuple(replaced, nearest, slot);
  }

  py::tuple run_query(const float* data, std::size_t count, std::size_t chunk_size, bool on_device) {
    return nearest_result(count, [&](float* d, std::int64_t* ix) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (on_device)
        core_.query_device(data, count, d, ix, chunk_size);
      else
        core_.query(data, count, d, ix, chunk_size);
    });
  }

  seqcore::cuda::SequentialCoreset core_;
  std::mutex mutex_;
};

py::tuple knn(const float* q, std::size_t nq, const float* bank, std::size_t nb, std::size_t dim,
              std::size_t chunk_size, bool on_device, int device) {
  return nearest_result(nq, [&](float* d, std::int64_t* ix) {
    seqcore::cuda::nearest_neighbors(q, nq, bank, nb, dim, chunk_size, on_device, device, d, ix);
  });
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "seqcore CUDA backend: sequential coreset and nearest-neighbour search on one GPU";
  // std::invalid_argument becomes ValueError (pybind11 default translation).
  m.def("device_count", &seqcore::cuda::device_count, "Visible CUDA devices (0 without driver or GPU)");
  m.def("device_name", &seqcore::cuda::device_name, py::arg("device") = 0, "Name of a CUDA device");

  py::class_<PyCoreset>(m, "SequentialCoreset")
      .def(py::init<std::size_t, std::size_t, int>(), py::arg("capacity"), py::arg("dim"), py::arg("device") = 0)
      .def_property_readonly("capacity", &PyCoreset::capacity)
      .def_property_readonly("dim", &PyCoreset::dim)
      .def_property_readonly("size", &PyCoreset::size)
      .def_property_readonly("device", &PyCoreset::device)
      .def("points", &PyCoreset::points, "Copy of the stored points (size, dim) float32")
      .def("min_pair", &PyCoreset::min_pair, "(i, j, Euclidean distance) of the closest pair")
      .def("distance_matrix", &PyCoreset::distance_matrix, "(size, size) float64 Euclidean, +inf diagonal")
      .def("stats", &PyCoreset::stats,
           "Offer-loop counters since construction: replacements, rounds, exact, recomputed")
      .def("offer_batch", &PyCoreset::offer_batch, py::arg("candidates"), py::arg("details") = false,
           "Offers rows in order; replacements, or (replacements, nearest, slot) with details")
      .def("offer_batch_ptr", &PyCoreset::offer_batch_ptr, py::arg("ptr"), py::arg("count"),
           py::arg("details") = false,
           "offer_batch on device memory: ptr to count x dim contiguous float32 on this device")
      .def("query", &PyCoreset::query, py::arg("queries"), py::arg("chunk_size") = 2048,
           "Nearest stored point of each query: (float32 distance, int64 index)")
      .def("query_ptr", &PyCoreset::query_ptr, py::arg("ptr"), py::arg("count"), py::arg("chunk_size") = 2048,
           "query on device memory: ptr to count x dim contiguous float32 on this device");

  m.def(
      "nearest_neighbors",
      [](const FloatArray& queries, const FloatArray& bank, std::size_t chunk_size, int device) {
        if (bank.ndim() != 2) throw py::value_error("bank must be 2-D (n, dim)");
        const auto dim = static_cast<std::size_t>(bank.shape(1));
        const std::size_t nq = finite_rows_of(queries, dim, "queries");
        const std::size_t nb = finite_rows_of(bank, dim, "bank");
        return knn(queries.data(), nq, bank.data(), nb, dim, chunk_size, false, device);
      },
      py::arg("queries"), py::arg("bank"), py::arg("chunk_size") = 2048, py::arg("device") = 0,
      "Nearest bank row of each query: (float32 Euclidean distance, int64 index)");
  m.def(
      "nearest_neighbors_ptr",
      [](std::uintptr_t queries, std::size_t n_queries, std::uintptr_t bank, std::size_t n_bank, std::size_t dim,
         std::size_t chunk_size, int device) {
        const float* q = device_rows(queries, n_queries, dim, device, "queries");
        const float* b = device_rows(bank, n_bank, dim, device, "bank");
        return knn(q, n_queries, b, n_bank, dim, chunk_size, true, device);
      },
      py::arg("queries"), py::arg("n_queries"), py::arg("bank"), py::arg("n_bank"), py::arg("dim"),
      py::arg("chunk_size") = 2048, py::arg("device") = 0,
      "nearest_neighbors on device memory (contiguous float32 pointers on `device`)");
}
