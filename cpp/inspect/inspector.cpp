// Inspector: Python's SequentialPatchCore.predict in C++ (docs/design.md §15). Each step names
// the Python function it mirrors; the two must change together.
#include "seqcore/inspector.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "../src/json.hpp"
#include "../src/safetensors.hpp"
#include "seqcore/point_index.hpp"

namespace seqcore {
namespace {

using detail::JsonValue;

[[noreturn]] void bad(const std::string& where, const std::string& why) { throw ExportError(where + ": " + why); }

struct Tensor {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::vector<char> bytes;
};

std::size_t as_count(const JsonValue& v, const std::string& where) {
  if (v.kind != JsonValue::Kind::Number || v.number < 0 || v.number > 9.0e15 || std::floor(v.number) != v.number)
    bad(where, "invalid tensor shape or offset");
  return static_cast<std::size_t>(v.number);
}

/// Every tensor and the "seqcore" metadata text of a safetensors model file.
std::map<std::string, Tensor> read_tensors(const std::string& path, std::string& metadata) {
  std::ifstream in;
  const auto [root, header_len, file_size] =
      detail::read_safetensors_header(path, 100u << 20, in, [&](const std::string& why) { bad(path, why); });
  if (root.kind != JsonValue::Kind::Object) bad(path, "header is not an object");
  const JsonValue* meta = root.find("__metadata__");
  const JsonValue* format = meta ? meta->find("format") : nullptr;
  if (!format || format->kind != JsonValue::Kind::String || format->text != "seqcore.model")
    bad(path, "foreign file (not a seqcore model)");
  const JsonValue* text = meta->find("seqcore");
  if (!text || text->kind != JsonValue::Kind::String) bad(path, "no seqcore metadata");
  metadata = text->text;
  const std::uint64_t data_size = file_size - 8 - header_len;
  std::map<std::string, Tensor> out;
  for (const auto& [name, value] : root.members) {
    if (name == "__metadata__") continue;
    const JsonValue* dtype = value.find("dtype");
    const JsonValue* shape = value.find("shape");
    const JsonValue* offsets = value.find("data_offsets");
    if (!dtype || dtype->kind != JsonValue::Kind::String || !shape || shape->kind != JsonValue::Kind::Array ||
        !offsets || offsets->kind != JsonValue::Kind::Array || offsets->items.size() != 2)
      bad(path, "tensor '" + name + "' has no dtype, shape or data_offsets");
    Tensor t;
    t.dtype = dtype->text;
    std::size_t count = 1;
    for (const auto& s : shape->items) {
      t.shape.push_back(as_count(s, path));
      if (t.shape.back() != 0 && count > (std::size_t(1) << 40) / t.shape.back()) bad(path, "tensor too large");
      count *= t.shape.back();
    }
    const std::size_t begin = as_count(offsets->items[0], path), end = as_count(offsets->items[1], path);
    const std::size_t item = t.dtype == "F32" ? 4 : t.dtype == "I64" ? 8 : 0;
    if (end < begin || end > data_size) bad(path, "truncated (tensor '" + name + "' data missing)");
    if (item && end - begin != count * item) bad(path, "tensor '" + name + "' size does not match its shape");
    if (!item) continue;  // tensors the inspector does not read
    t.bytes.resize(end - begin);
    in.seekg(static_cast<std::streamoff>(8 + header_len + begin));
    in.read(t.bytes.data(), static_cast<std::streamsize>(t.bytes.size()));
    if (!in) bad(path, "truncated (tensor '" + name + "' data missing)");
    out.emplace(name, std::move(t));
  }
  return out;
}

const JsonValue& member(const JsonValue& obj, const char* key, JsonValue::Kind kind, const std::string& where) {
  const JsonValue* v = obj.find(key);
  if (!v || v->kind != kind) bad(where, std::string("export metadata field '") + key + "' is missing or mistyped");
  return *v;
}

int as_int(const JsonValue& obj, const char* key, const std::string& where, int lo, int hi) {
  const double v = member(obj, key, JsonValue::Kind::Number, where).number;
  if (std::floor(v) != v || v < lo || v > hi) bad(where, std::string("export metadata field '") + key + "' out of range");
  return static_cast<int>(v);
}

class OpenCvEngine : public FeatureEngine {
 public:
  explicit OpenCvEngine(const std::string& path) {
    // OpenCV's importer crashes on some malformed graphs instead of throwing: it parses checked bytes
    const std::vector<unsigned char> bytes = check_onnx_file(path);
    try {
      net_ = cv::dnn::readNetFromONNX(bytes);
    } catch (const cv::Exception& e) {
      throw ExportError("ONNX file " + path + " cannot be read by OpenCV DNN: " + e.what());
    }
    if (net_.empty()) throw ExportError("ONNX file " + path + " holds no network");
#if CV_VERSION_MAJOR < 5  // 5.x's graph engine runs on the CPU only and warns when a target is set
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
#endif
    names_ = net_.getUnconnectedOutLayersNames();
  }
  std::vector<cv::Mat> forward(const cv::Mat& blob) override {
    std::vector<cv::Mat> out;
    net_.setInput(blob);
    net_.forward(out, names_);
    return out;
  }

 private:
  cv::dnn::Net net_;
  std::vector<std::string> names_;
};

/// Python's _mirror_pad: reflect (torch "reflect" = OpenCV REFLECT_101), or replicate when too small.
cv::Mat mirror_pad(const cv::Mat& img, int left, int right, int top, int bottom) {
  if (!left && !right && !top && !bottom) return img;
  const bool reflect = std::max(left, right) < img.cols && std::max(top, bottom) < img.rows;
  cv::Mat out;
  cv::copyMakeBorder(img, out, top, bottom, left, right, (reflect ? cv::BORDER_REFLECT_101 : cv::BORDER_REPLICATE) | cv::BORDER_ISOLATED);
  return out;
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

/// The checks of Python's as_float_image: 8-bit, 16-bit or float ([0, 1], finite) pixels with
/// 1, 3 (BGR) or 4 (BGRA) channels; throws InspectError otherwise.
void check_image(const cv::Mat& image) {
  if (image.empty()) throw InspectError("inspect: the image is empty");
  if (image.dims != 2)
    throw InspectError("inspect: the image must be a 2-D Mat (rows x cols x channels), got " +
                       std::to_string(image.dims) + " dimensions");
  const int ch = image.channels();
  if (ch != 1 && ch != 3 && ch != 4)
    throw InspectError("inspect: the image must have 1 (gray), 3 (BGR) or 4 (BGRA) channels, got " +
                       std::to_string(ch));
  const int depth = image.depth();
  if (depth != CV_8U && depth != CV_16U && depth != CV_32F && depth != CV_64F)
    throw InspectError("inspect: unsupported pixel depth (use 8-bit, 16-bit unsigned or float in [0, 1]), got " +
                       cv::typeToString(image.type()));
  if (depth == CV_32F || depth == CV_64F) {  // checked as float32, as Python does
    cv::Mat pixels;
    image.convertTo(pixels, CV_32F);
    if (!cv::checkRange(pixels, true)) throw InspectError("inspect: the image contains NaN or inf");
    double lo = 0.0, hi = 0.0;
    cv::minMaxIdx(pixels.reshape(1), &lo, &hi);
    if (lo < 0.0 || hi > 1.0) throw InspectError("inspect: float images must lie in [0, 1]");
  }
}

/// Python's as_float_image on checked pixels (any part of an image): RGB CV_32FC3 in [0, 1],
/// 8-bit / 255, 16-bit / 65535, float as it is; alpha dropped.
cv::Mat as_float_image(const cv::Mat& image) {
  const int ch = image.channels();
  cv::Mat pixels;
  image.convertTo(pixels, CV_32F, image.depth() == CV_8U ? 1.0 / 255.0 : image.depth() == CV_16U ? 1.0 / 65535.0 : 1.0);
  cv::Mat rgb;
  cv::cvtColor(pixels, rgb, ch == 1 ? cv::COLOR_GRAY2RGB : ch == 3 ? cv::COLOR_BGR2RGB : cv::COLOR_BGRA2RGB);
  return rgb;
}

}  // namespace

std::unique_ptr<FeatureEngine> make_opencv_engine(const std::string& onnx_path) {
  return std::make_unique<OpenCvEngine>(onnx_path);
}

struct Inspector::Impl {
  std::string onnx_path;
  EngineFactory factory;
  int stride = 8, align = 16, border = 0, tile = 0, overlap = 0, short_side = 0, fixed_h = 0, fixed_w = 0;
  std::size_t dim = 0;
  bool nn_score = true, has_threshold = false;
  double sigma = 0.0, threshold = 0.0;
  std::vector<double> scales;               // nominal scale per bank
  std::vector<std::unique_ptr<PointIndex>> index;
  std::vector<float> primary;               // bank 0 points, row-major
  std::size_t primary_count = 0;
  std::vector<std::int64_t> support;        // primary_count x support_k
  std::size_t support_k = 0;
  mutable std::mutex mutex;
  mutable std::vector<std::unique_ptr<FeatureEngine>> idle;  // engines not in use

  std::unique_ptr<FeatureEngine> borrow() const {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        auto e = std::move(idle.back());
        idle.pop_back();
        return e;
      }
    }
    return factory(onnx_path);
  }
  void give_back(std::unique_ptr<FeatureEngine> e) const {
    std::lock_guard<std::mutex> lock(mutex);
    idle.push_back(std::move(e));
  }
};

Inspector::Inspector(const std::string& model_dir, EngineFactory factory) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const std::string model_path = model_dir + "/model.safetensors";
  std::string meta_text;
  auto tensors = read_tensors(model_path, meta_text);
  JsonValue meta;
  try {
    meta = detail::JsonParser(meta_text).parse();
  } catch (const std::runtime_error& e) {
    bad(model_path, std::string("metadata is not valid JSON (") + e.what() + ")");
  }
  const JsonValue* ex = meta.kind == JsonValue::Kind::Object ? meta.find("export") : nullptr;
  if (!ex || ex->kind != JsonValue::Kind::Object)
    bad(model_path, "no export metadata: write the directory with `seqcore export MODEL --out DIR`");
  if (as_int(*ex, "version", model_path, 1, 1000) != 1) bad(model_path, "unsupported export version");
  const std::string onnx_name = member(*ex, "onnx_file", JsonValue::Kind::String, model_path).text;
  if (onnx_name.empty() || onnx_name.find('/') != std::string::npos) bad(model_path, "invalid onnx_file name");
  m.onnx_path = model_dir + "/" + onnx_name;
  const std::string want = member(*ex, "onnx_sha256", JsonValue::Kind::String, model_path).text;
  const std::string got = sha256_file(m.onnx_path);
  if (got != want) bad(m.onnx_path, "SHA-256 " + got + " differs from the exported " + want + " (mismatched ONNX file)");

  m.stride = as_int(*ex, "stride", model_path, 1, 1024);
  m.align = as_int(*ex, "align", model_path, 1, 4096);
  m.border = as_int(*ex, "border_pad", model_path, 0, 1 << 16);
  m.dim = static_cast<std::size_t>(as_int(*ex, "dim", model_path, 1, 1 << 20));
  if (m.align % m.stride || m.border % m.stride) bad(model_path, "border_pad and align must be multiples of stride");
  const JsonValue* tile = ex->find("tile_size");
  if (tile && tile->kind != JsonValue::Kind::Null) {
    m.tile = as_int(*ex, "tile_size", model_path, 64, 1 << 20);
    m.overlap = as_int(*ex, "tile_overlap", model_path, 0, m.tile / 2 - 1);
  }
  const JsonValue* shape = ex->find("resize_shape");
  const JsonValue* side = ex->find("resize_short_side");
  if (shape && shape->kind == JsonValue::Kind::Array) {
    if (shape->items.size() != 2) bad(model_path, "resize_shape must be [height, width]");
    m.fixed_h = static_cast<int>(as_count(shape->items[0], model_path));
    m.fixed_w = static_cast<int>(as_count(shape->items[1], model_path));
    if (m.fixed_h < 16 || m.fixed_w < 16) bad(model_path, "resize_shape too small");
  } else if (side && side->kind != JsonValue::Kind::Null) {
    m.short_side = as_int(*ex, "resize_short_side", model_path, 16, 1 << 20);
  }
  const std::string how = member(*ex, "image_score", JsonValue::Kind::String, model_path).text;
  if (how != "nn" && how != "max") bad(model_path, "image_score must be 'nn' or 'max'");
  m.nn_score = how == "nn";
  m.sigma = member(*ex, "blur_sigma", JsonValue::Kind::Number, model_path).number;
  if (!(m.sigma >= 0.0) || m.sigma > 1e4) bad(model_path, "blur_sigma out of range");
  const JsonValue* thr = ex->find("threshold");
  if (thr && thr->kind == JsonValue::Kind::Number) {
    m.has_threshold = true;
    m.threshold = thr->number;
  }
  const auto& kernels = member(*ex, "scales", JsonValue::Kind::Array, model_path).items;
  if (kernels.empty() || kernels.size() > 64) bad(model_path, "scales must name 1..64 banks");
  if (kernels.size() > 1) {
    const auto& nominal = member(*ex, "nominal_scales", JsonValue::Kind::Array, model_path).items;
    if (nominal.size() != kernels.size()) bad(model_path, "one nominal scale per bank is needed");
    for (const auto& v : nominal) {
      if (v.kind != JsonValue::Kind::Number || !(v.number > 0.0) || !std::isfinite(v.number))
        bad(model_path, "nominal scales must be positive numbers");
      m.scales.push_back(v.number);
    }
  }
  for (std::size_t b = 0; b < kernels.size(); ++b) {
    const std::string name = b == 0 ? "coreset" : "coreset_" + std::to_string(b);
    const auto it = tensors.find(name);
    if (it == tensors.end() || it->second.dtype != "F32" || it->second.shape.size() != 2 ||
        it->second.shape[1] != m.dim || it->second.shape[0] == 0)
      bad(model_path, "tensor '" + name + "' missing, not F32 or not (n, " + std::to_string(m.dim) + ")");
    const float* points = reinterpret_cast<const float*>(it->second.bytes.data());
    const std::size_t n = it->second.shape[0];
    for (std::size_t i = 0; i < n * m.dim; ++i)
      if (!std::isfinite(points[i])) bad(model_path, "tensor '" + name + "' holds NaN or inf");
    m.index.push_back(std::make_unique<PointIndex>(points, n, m.dim));
    if (b == 0) {
      m.primary.assign(points, points + n * m.dim);
      m.primary_count = n;
    }
  }
  if (m.nn_score) {
    const auto it = tensors.find("support");
    if (it == tensors.end() || it->second.dtype != "I64" || it->second.shape.size() != 2 ||
        it->second.shape[0] != m.primary_count || it->second.shape[1] == 0)
      bad(model_path, "tensor 'support' missing or not (coreset size, k) I64");
    m.support_k = it->second.shape[1];
    m.support.resize(m.primary_count * m.support_k);
    std::memcpy(m.support.data(), it->second.bytes.data(), it->second.bytes.size());
    for (auto s : m.support)
      if (s < 0 || static_cast<std::size_t>(s) >= m.primary_count) bad(model_path, "tensor 'support' out of range");
  }
  m.factory = factory ? std::move(factory) : EngineFactory(make_opencv_engine);
  auto engine = m.factory(m.onnx_path);  // fail now, not at the first image
  cv::Mat probe(std::vector<int>{1, 3, 2 * m.align, 2 * m.align}, CV_32F, cv::Scalar(0.5));
  std::vector<cv::Mat> out;
  try {
    out = engine->forward(probe);
  } catch (const cv::Exception& e) {
    bad(m.onnx_path, std::string("the network does not run: ") + e.what());
  }
  if (out.size() != kernels.size()) bad(m.onnx_path, "the network's outputs do not match the banks");
  for (const auto& o : out)
    if (o.dims != 4 || o.size[1] != static_cast<int>(m.dim) || o.size[2] != 2 * m.align / m.stride)
      bad(m.onnx_path, "the network's output shape does not match the model's dim and stride");
  m.give_back(std::move(engine));
}

Inspector::~Inspector() = default;
std::size_t Inspector::banks() const { return impl_->index.size(); }
std::size_t Inspector::dim() const { return impl_->dim; }
int Inspector::stride() const { return impl_->stride; }
bool Inspector::has_threshold() const { return impl_->has_threshold; }
double Inspector::threshold() const { return impl_->threshold; }

Result Inspector::inspect(const cv::Mat& image, const cv::Mat& roi_in) const {
  const Impl& m = *impl_;
  check_image(image);
  cv::Mat roi;
  if (!roi_in.empty()) {
    if (roi_in.type() != CV_8UC1 || roi_in.dims != 2 || roi_in.size() != image.size())
      throw InspectError("inspect: the region of interest must be CV_8UC1 of the image's size");
    roi = roi_in != 0;
  }
  // resized_shape + resize_image
  int ph = image.rows, pw = image.cols;
  if (m.fixed_h) {
    ph = m.fixed_h;
    pw = m.fixed_w;
  } else if (m.short_side) {
    const double scale = static_cast<double>(m.short_side) / std::min(image.rows, image.cols);
    ph = std::max(1, static_cast<int>(std::nearbyint(image.rows * scale)));  // Python round(): half to even
    pw = std::max(1, static_cast<int>(std::nearbyint(image.cols * scale)));
  }
  // Python resizes the float image; unsized images are converted tile by tile (elementwise, so the
  // same values) to keep one 8-bit copy instead of a float one in memory.
  const bool sized = ph != image.rows || pw != image.cols;
  cv::Mat prepared = image;
  if (sized) {
    const bool shrink = static_cast<long>(ph) * pw < static_cast<long>(image.rows) * image.cols;
    cv::resize(as_float_image(image), prepared, cv::Size(pw, ph), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  if (m.border && std::min(ph, pw) <= m.border)
    throw InspectError("inspect: the image (" + std::to_string(pw) + "x" + std::to_string(ph) +
                       " after sizing) is not larger than the model's mirrored border of " +
                       std::to_string(m.border) + " px");
  const int s = m.stride, gh = ceil_div(ph, s), gw = ceil_div(pw, s);
  const std::size_t nb = m.index.size();
  std::vector<cv::Mat> grids(nb);
  for (auto& g : grids) g = cv::Mat::zeros(gh, gw, CV_32F);
  // fuse_grids (all banks share the stride): mean of grid / nominal scale, filled tile by tile
  cv::Mat grid = nb > 1 ? cv::Mat(gh, gw, CV_32F, cv::Scalar(0.0)) : grids[0];
  // SequentialPatchCore.scores ranks the fused grid, zero outside the region of interest
  // (cell_means(roi) > 0: cells that overlap it); only the top cell's bank-0 feature is kept.
  cv::Mat cell_in_roi;
  if (m.nn_score && !roi.empty()) {
    cv::Mat small;
    cv::resize(roi, small, cv::Size(pw, ph), 0, 0, cv::INTER_NEAREST);
    cv::Mat big = cv::Mat::zeros(gh * s, gw * s, CV_32F);
    small.convertTo(big(cv::Rect(0, 0, pw, ph)), CV_32F, 1.0 / 255.0);
    cell_in_roi = cv::Mat::zeros(gh, gw, CV_8U);
    for (int y = 0; y < gh; ++y)
      for (int x = 0; x < gw; ++x)
        cell_in_roi.at<unsigned char>(y, x) = cv::sum(big(cv::Rect(x * s, y * s, s, s)))[0] > 0.0;
  }
  float top = -INFINITY;                           // ranked value of the top cell (first in raster order)
  std::size_t top_cell = 0;                        // its raster index
  std::int64_t top_nn = 0;                         // its nearest bank-0 point
  std::vector<float> top_feature(m.dim);           // its bank-0 feature
  // _tile_boxes
  struct Box { int y0, y1, x0, x1, cy0, cy1, cx0, cx1; };
  std::vector<Box> boxes;
  if (!m.tile || (ph <= m.tile && pw <= m.tile)) {
    boxes.push_back({0, ph, 0, pw, 0, ph, 0, pw});
  } else {
    const int core = m.tile - 2 * m.overlap;
    for (int cy0 = 0; cy0 < ph; cy0 += core)
      for (int cx0 = 0; cx0 < pw; cx0 += core) {
        const int cy1 = std::min(cy0 + core, ph), cx1 = std::min(cx0 + core, pw);
        boxes.push_back({std::max(0, cy0 - m.overlap), std::min(ph, cy1 + m.overlap), std::max(0, cx0 - m.overlap),
                         std::min(pw, cx1 + m.overlap), cy0, cy1, cx0, cx1});
      }
  }
  auto engine = m.borrow();
  struct Return {  // the engine goes back to the pool however inspect ends
    const Impl& m;
    std::unique_ptr<FeatureEngine>& e;
    ~Return() { if (e) m.give_back(std::move(e)); }
  } give_back{m, engine};
  std::vector<float> queries, dist, queries0;
  std::vector<std::int64_t> idx, idx0;
  for (const Box& b : boxes) {
    // backbone_levels: mirrored border, then alignment padding at the bottom/right
    const cv::Mat crop = prepared(cv::Range(b.y0, b.y1), cv::Range(b.x0, b.x1));
    cv::Mat tile = mirror_pad(sized ? crop : as_float_image(crop), m.border, m.border, m.border, m.border);
    tile = mirror_pad(tile, 0, (m.align - tile.cols % m.align) % m.align, 0, (m.align - tile.rows % m.align) % m.align);
    cv::Mat blob = cv::dnn::blobFromImage(tile);  // (1, 3, H, W), channels kept (already RGB)
    std::vector<cv::Mat> feats;
    try {
      feats = engine->forward(blob);
    } catch (const cv::Exception& e) {
      throw ExportError(std::string("feature engine failed: ") + e.what());
    }
    if (feats.size() != nb) throw ExportError("feature engine returned the wrong number of outputs");
    const int cell = m.border / s;
    const int gy0 = (b.cy0 - b.y0) / s, gx0 = (b.cx0 - b.x0) / s;
    const int bh = ceil_div(b.cy1 - b.cy0, s), bw = ceil_div(b.cx1 - b.cx0, s);
    const int fh = tile.rows / s, fw = tile.cols / s;
    const std::size_t n = static_cast<std::size_t>(bh) * bw, d = m.dim;
    queries.resize(n * d);
    dist.resize(n);
    idx.resize(n);
    for (std::size_t k = 0; k < nb; ++k) {
      const cv::Mat& f = feats[k];
      if (f.dims != 4 || f.size[1] != static_cast<int>(d) || f.size[2] != fh || f.size[3] != fw || f.type() != CV_32F)
        throw ExportError("feature engine output has the wrong shape");
      const float* data = f.ptr<float>();
      const std::size_t plane = static_cast<std::size_t>(fh) * fw;
      for (int y = 0; y < bh; ++y)
        for (int x = 0; x < bw; ++x) {
          const std::size_t src = static_cast<std::size_t>(cell + gy0 + y) * fw + (cell + gx0 + x);
          float* q = queries.data() + (static_cast<std::size_t>(y) * bw + x) * d;
          for (std::size_t c = 0; c < d; ++c) q[c] = data[c * plane + src];
        }
      m.index[k]->query(queries.data(), n, dist.data(), idx.data());
      const int oy = b.cy0 / s, ox = b.cx0 / s;
      for (int y = 0; y < bh; ++y)
        for (int x = 0; x < bw; ++x) grids[k].at<float>(oy + y, ox + x) = dist[static_cast<std::size_t>(y) * bw + x];
      if (k == 0 && m.nn_score) {  // kept for ranking once every bank has been scored
        std::swap(queries, queries0);
        std::swap(idx, idx0);
        queries.resize(n * d);
        idx.resize(n);
      }
    }
    const cv::Rect cells(b.cx0 / s, b.cy0 / s, bw, bh);
    if (nb > 1) {
      cv::Mat g = grid(cells);
      for (std::size_t k = 0; k < nb; ++k) g += grids[k](cells) / static_cast<float>(m.scales[k]);
      g /= static_cast<float>(nb);
    }
    if (m.nn_score)
      for (int y = 0; y < bh; ++y)
        for (int x = 0; x < bw; ++x) {
          const int gy = cells.y + y, gx = cells.x + x;
          const float r = cell_in_roi.empty() || cell_in_roi.at<unsigned char>(gy, gx) ? grid.at<float>(gy, gx) : 0.0f;
          const std::size_t g = static_cast<std::size_t>(gy) * gw + gx, i = static_cast<std::size_t>(y) * bw + x;
          if (r > top || (r == top && g < top_cell)) {  // np.argmax: the first maximum in raster order
            top = r;
            top_cell = g;
            top_nn = idx0[i];
            std::copy(queries0.begin() + i * d, queries0.begin() + (i + 1) * d, top_feature.begin());
          }
        }
  }
  Result result;
  if (m.nn_score) {  // nn_reweighted_score of the top cell
    const float* x = top_feature.data();
    const std::int64_t* sup = m.support.data() + static_cast<std::size_t>(top_nn) * m.support_k;
    std::vector<double> dd(m.support_k);
    double dmax = -1.0;
    for (std::size_t j = 0; j < m.support_k; ++j) {
      const float* p = m.primary.data() + static_cast<std::size_t>(sup[j]) * m.dim;
      double acc = 0.0;
      for (std::size_t c = 0; c < m.dim; ++c) {
        const double diff = static_cast<double>(p[c]) - static_cast<double>(x[c]);
        acc += diff * diff;
      }
      dd[j] = std::sqrt(std::max(acc, 0.0));
      dmax = std::max(dmax, dd[j]);
    }
    double total = 0.0;
    for (double v : dd) total += std::exp(v - dmax);
    result.image_score = (1.0 - std::exp(dd[0] - dmax) / total) * static_cast<double>(top);
  }
  // anomaly_map: nearest upsampling to the prepared size, Gaussian blur, linear resize to the input
  cv::Mat up;
  cv::resize(grid, up, cv::Size(gw * s, gh * s), 0, 0, cv::INTER_NEAREST);
  cv::Mat amap = up(cv::Rect(0, 0, pw, ph)).clone();
  if (m.sigma > 0.0) {
    const int radius = static_cast<int>(4.0 * m.sigma + 0.5);
    cv::GaussianBlur(amap, amap, cv::Size(2 * radius + 1, 2 * radius + 1), m.sigma, m.sigma, cv::BORDER_REFLECT);
  }
  if (amap.rows != image.rows || amap.cols != image.cols)
    cv::resize(amap, amap, image.size(), 0, 0, cv::INTER_LINEAR);
  if (!roi.empty()) amap.setTo(0.0f, roi == 0);
  if (!m.nn_score) {  // max_score
    double hi = 0.0;
    if (roi.empty() || cv::countNonZero(roi)) cv::minMaxLoc(amap, nullptr, &hi, nullptr, nullptr, roi);
    result.image_score = hi;
  }
  result.has_threshold = m.has_threshold;
  if (m.has_threshold) {  // defect_list
    result.anomalous = result.image_score >= m.threshold;
    cv::Mat mask = amap >= m.threshold;
    if (!roi.empty()) mask &= roi;
    cv::Mat labels, stats, centroids;
    const int count = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
    std::vector<double> sums(count, 0.0);
    std::vector<float> peaks(count, -INFINITY);
    for (int y = 0; y < amap.rows; ++y) {
      const int* l = labels.ptr<int>(y);
      const float* a = amap.ptr<float>(y);
      for (int x = 0; x < amap.cols; ++x)
        if (l[x]) {
          sums[l[x]] += a[x];
          peaks[l[x]] = std::max(peaks[l[x]], a[x]);
        }
    }
    for (int i = 1; i < count; ++i) {
      Defect d;
      d.bbox = cv::Rect(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                        stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
      d.area = stats.at<int>(i, cv::CC_STAT_AREA);
      d.peak = peaks[i];
      d.mean = static_cast<float>(sums[i] / d.area);
      result.defects.push_back(d);
    }
  }
  result.anomaly_map = amap;
  return result;
}

}  // namespace seqcore
