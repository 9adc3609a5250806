// pybind11 module seqcore._core: thin conversions around seqcore::core. Heavy work runs
// without the GIL; a per-object mutex keeps concurrent Python threads from racing.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <cmath>
#include <mutex>
#include <string>

#include "float_array.hpp"
#include "seqcore/coreset.hpp"
#include "seqcore/distance.hpp"
#include "seqcore/kcenter.hpp"
#include "seqcore/model_file.hpp"
#include "seqcore/point_index.hpp"

namespace py = pybind11;
using seqcore_bindings::FloatArray;
using seqcore_bindings::nearest_result;
using seqcore_bindings::rows_of;

namespace {

/// Python-facing coreset: the C++ state plus a lock.
class PyCoreset {
 public:
  PyCoreset(std::size_t capacity, std::size_t dim) : core_(capacity, dim) {}

  std::size_t capacity() const { return core_.capacity(); }
  std::size_t dim() const { return core_.dim(); }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return core_.size();
  }

  py::array_t<float> points() {
    std::lock_guard<std::mutex> lock(mutex_);
    py::array_t<float> out({core_.size(), core_.dim()});
    const std::vector<float> pts = core_.points();
    std::copy(pts.begin(), pts.end(), out.mutable_data());
    return out;
  }

  py::tuple min_pair() {
    std::lock_guard<std::mutex> lock(mutex_);
    const seqcore::MinPair mp = core_.min_pair();
    return py::make_tuple(mp.i, mp.j, std::sqrt(mp.sqdist));
  }

  py::array_t<double> distance_matrix() {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t n = core_.size();
    const std::vector<double> sq = core_.sqdist_matrix();
    py::array_t<double> out({n, n});
    double* o = out.mutable_data();
    for (std::size_t i = 0; i < sq.size(); ++i) o[i] = std::sqrt(sq[i]);
    return out;
  }

  py::object offer_batch(const FloatArray& candidates, bool details) {
    const std::size_t count = rows_of(candidates, core_.dim(), "candidates");
    const float* data = candidates.data();
    if (!details) {
      std::size_t replaced;
      {
        py::gil_scoped_release release;  // build Python objects only after the GIL is back
        std::lock_guard<std::mutex> lock(mutex_);
        replaced = core_.offer_batch(data, count);
      }
      return py::int_(replaced);
    }
    std::vector<double> nearest_sq(count);
    py::array_t<float> nearest(count);
    py::array_t<std::int64_t> slot(count);
    std::int64_t* slot_data = slot.mutable_data();
    float* nearest_data = nearest.mutable_data();
    std::size_t replaced;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      replaced = core_.offer_batch(data, count, nearest_sq.data(), slot_data);
      for (std::size_t i = 0; i < count; ++i) nearest_data[i] = static_cast<float>(std::sqrt(nearest_sq[i]));
    }
    return py::make_tuple(replaced, nearest, slot);
  }

  py::tuple query(const FloatArray& queries, std::size_t chunk_size) {
    if (chunk_size == 0) throw py::value_error("chunk_size must be positive");
    const std::size_t count = rows_of(queries, core_.dim(), "queries");
    return nearest_result(count, [&](float* d, std::int64_t* ix) {
      std::lock_guard<std::mutex> lock(mutex_);
      core_.query(queries.data(), count, d, ix, chunk_size);
    });
  }

 private:
  seqcore::SequentialCoreset core_;
  std::mutex mutex_;
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "seqcore C++ core: sequential coreset, greedy k-center, model file reader";
  // seqcore.errors.ModelFileError (pure Python, importable without this module) is the class raised
  // for seqcore::ModelFileError, so the Python and C++ readers raise one and the same class.
  static PyObject* model_file_error = py::object(py::module_::import("seqcore.errors").attr("ModelFileError")).release().ptr();
  m.attr("ModelFileError") = py::handle(model_file_error);
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const seqcore::ModelFileError& e) {
      PyErr_SetString(model_file_error, e.what());
    }
  });

  py::class_<PyCoreset>(m, "SequentialCoreset")
      .def(py::init<std::size_t, std::size_t>(), py::arg("capacity"), py::arg("dim"))
      .def_property_readonly("capacity", &PyCoreset::capacity)
      .def_property_readonly("dim", &PyCoreset::dim)
      .def_property_readonly("size", &PyCoreset::size)
      .def("points", &PyCoreset::points, "Copy of the stored points (size, dim) float32")
      .def("min_pair", &PyCoreset::min_pair, "(i, j, Euclidean distance) of the closest pair")
      .def("distance_matrix", &PyCoreset::distance_matrix, "(size, size) float64 Euclidean, +inf diagonal")
      .def("offer_batch", &PyCoreset::offer_batch, py::arg("candidates"), py::arg("details") = false,
           "Offers rows in order; replacements, or (replacements, nearest, slot) with details")
      .def("query", &PyCoreset::query, py::arg("queries"), py::arg("chunk_size") = 2048,
           "Nearest stored point of each query: (float32 distance, int64 index)");

  m.def(
      "nearest_neighbors",
      [](const FloatArray& queries, const FloatArray& points, std::size_t chunk_size) {
        if (chunk_size == 0) throw py::value_error("chunk_size must be positive");
        if (points.ndim() != 2 || points.shape(1) == 0) throw py::value_error("points must be 2-D (rows, dim > 0)");
        const auto dim = static_cast<std::size_t>(points.shape(1));
        const std::size_t count = rows_of(queries, dim, "queries");
        return nearest_result(count, [&](float* d, std::int64_t* ix) {
          const seqcore::PointIndex bank(points.data(), static_cast<std::size_t>(points.shape(0)), dim);
          bank.query(queries.data(), count, d, ix, chunk_size);
        });
      },
      py::arg("queries"), py::arg("points"), py::arg("chunk_size") = 2048,
      "Nearest row of points for each query: (float32 distance, int64 index); no coreset matrix");

  m.def(
      "greedy_kcenter",
      [](const FloatArray& features, std::size_t k, std::size_t start, const py::object& progress) {
        if (features.ndim() != 2) throw py::value_error("features must be 2-D (n, dim)");
        const auto n = static_cast<std::size_t>(features.shape(0));
        const auto d = static_cast<std::size_t>(features.shape(1));
        if (d == 0) throw py::value_error("features must have dim > 0");
        if (n > 0 && start >= n) throw py::value_error("start index out of range");
        std::function<void(std::size_t)> report;
        if (!progress.is_none())
          report = [&progress](std::size_t done) {
            py::gil_scoped_acquire acquire;
            progress(done);
          };
        std::vector<std::int64_t> idx;
        {
          py::gil_scoped_release release;
          idx = seqcore::greedy_kcenter(features.data(), n, d, k, start, report);
        }
        py::array_t<std::int64_t> out(idx.size());
        std::copy(idx.begin(), idx.end(), out.mutable_data());
        return out;
      },
      py::arg("features"), py::arg("k"), py::arg("start") = 0, py::arg("progress") = py::none(),
      "Greedy k-center indices (min(k, n) distinct, selection order) starting at `start`;\n"
      "progress(picked) is called after each pick");

  m.def(
      "canonical_sqdist",
      [](const FloatArray& a, const FloatArray& b) {
        if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0))
          throw py::value_error("canonical_sqdist needs two 1-D arrays of equal length");
        return seqcore::canonical_sqdist(a.data(), b.data(), static_cast<std::size_t>(a.shape(0)));
      },
      py::arg("a"), py::arg("b"), "Canonical squared distance (distance.hpp) of two float32 vectors");

  m.def(
      "read_model",
      [](const std::string& path) {
        seqcore::Model model;
        {
          py::gil_scoped_release release;
          model = seqcore::read_model(path);
        }
        py::array_t<float> coreset({model.count, model.dim});
        std::copy(model.coreset.begin(), model.coreset.end(), coreset.mutable_data());
        return py::make_tuple(coreset, model.metadata_json, model.header_metadata);
      },
      py::arg("path"), "Reads a model file with the C++ reader: (coreset, metadata JSON text, header metadata)");
}
