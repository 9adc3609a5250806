// Image inspection without Python (docs/design.md §15): image -> anomaly map -> image score,
// verdict and defect list, the same numbers as Python's SequentialPatchCore.predict.
// Needs OpenCV (core, imgproc, dnn); target seqcore::inspect.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace seqcore {

/// Bad input to Inspector::inspect: empty or non-2-D Mat, a channel count other than 1, 3 or 4,
/// an unsupported depth, float pixels outside [0, 1] or not finite, a region of interest that is
/// not CV_8UC1 of the image's size, an image whose short side (after sizing) is not larger than
/// the model's mirrored border.
class InspectError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Exported model directory that cannot be used: missing or corrupt model file or ONNX file,
/// an ONNX file whose SHA-256 differs from the one stored at export, inconsistent metadata, a
/// network that OpenCV cannot read or run, or whose outputs do not match the banks.
class ExportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One 8-connected component of {map >= threshold} (inside the region of interest).
struct Defect {
  cv::Rect bbox;      // pixels of the input image
  int area = 0;       // pixels in the component
  float peak = 0.0f;  // maximum map value in the component
  float mean = 0.0f;  // mean map value in the component (accumulated in double)
};

/// What inspect returns for one image.
struct Result {
  cv::Mat anomaly_map;         // CV_32FC1, input size; 0 outside the region of interest
  double image_score = 0.0;    // as Python: PatchCore NN-reweighted score ("nn") or map maximum ("max")
  bool has_threshold = false;  // the model was calibrated (a threshold is stored)
  bool anomalous = false;      // verdict: image_score >= threshold (false without a threshold)
  std::vector<Defect> defects; // in OpenCV label order (raster scan); empty without a threshold
};

/// Feature engine: runs the exported extractor graph (docs/design.md §15). Input: (1, 3, H, W)
/// CV_32F NCHW RGB in [0, 1], H and W multiples of the model's alignment; output: one
/// (1, d, H/stride, W/stride) CV_32F blob per bank. One instance is used by one thread at a time.
class FeatureEngine {
 public:
  virtual ~FeatureEngine() = default;
  virtual std::vector<cv::Mat> forward(const cv::Mat& blob) = 0;
};

/// Makes one engine for an ONNX file (called once per concurrent inspect call, lazily).
using EngineFactory = std::function<std::unique_ptr<FeatureEngine>(const std::string& onnx_path)>;

/// OpenCV DNN (CPU backend) parsing the bytes check_onnx_file passed; throws ExportError when the
/// file is malformed or OpenCV cannot read it.
std::unique_ptr<FeatureEngine> make_opencv_engine(const std::string& onnx_path);

/// Structural check of an ONNX file before an importer trusts it (OpenCV's crashes on graphs that
/// fuzzing made): protobuf framing, UTF-8 names, nodes in topological order whose inputs are all
/// defined, op types and attribute names of the ops a seqcore export writes (opset 13) with their
/// ONNX value rules (positive kernels, strides and dilations, non-negative pads, known modes),
/// convolution weights and biases that are constants of matching shape, initializer sizes that
/// match their dims. Throws ExportError naming the node and field. Returns the file's bytes, so that
/// the importer parses exactly what was checked (one read, no change to the file in between).
std::vector<unsigned char> check_onnx_file(const std::string& path);

/// Loaded exported model (``seqcore export MODEL --out DIR``: DIR/model.safetensors and
/// DIR/extractor.onnx). Memory: the banks (K x d floats each, shared read-only) plus one
/// engine per concurrently running inspect call; during a call, a few float maps of the
/// image's size and one tile's network blobs (images the model does not resize are converted
/// to float tile by tile). Thread-safe: concurrent inspect calls on
/// one Inspector each borrow their own engine from an internal pool.
class Inspector {
 public:
  /// Reads and checks the model directory; throws ExportError (missing files, hash mismatch,
  /// corrupt or inconsistent contents). ``factory`` defaults to make_opencv_engine.
  explicit Inspector(const std::string& model_dir, EngineFactory factory = {});
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  /// Inspects one image, as Python's predict does with the same pixels (as_float_image):
  ///  - channels: 1 (gray), 3 (BGR, OpenCV's order) or 4 (BGRA, alpha ignored); 2 channels
  ///    (gray + alpha is ambiguous) and more than 4 are refused;
  ///  - depth: CV_8U (v / 255), CV_16U (v / 65535: the full 16 bits, as predict on a uint16
  ///    array), CV_32F or CV_64F in [0, 1]; signed and 32-bit integer depths are refused;
  ///  - size: any rows x cols whose short side after the model's sizing (resize_shape or
  ///    resize_short_side) exceeds border_pad (Python would replicate the edge there instead);
  ///    models without a border take any size, 1 x 1 included;
  ///  - ``roi``: optional CV_8UC1 mask of the image's size (non-zero = inspected).
  /// Any view (submatrix, non-continuous) is accepted. Throws InspectError on bad input,
  /// ExportError when the feature engine fails or returns the wrong shapes.
  Result inspect(const cv::Mat& image, const cv::Mat& roi = cv::Mat()) const;

  /// Banks (pool kernels), feature dimension, stride of the patch grid, calibrated threshold.
  std::size_t banks() const;
  std::size_t dim() const;
  int stride() const;
  bool has_threshold() const;
  double threshold() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// SHA-256 of a file as 64 lowercase hex digits; throws ExportError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace seqcore
