// ctest for seqcore::inspect without Python: SHA-256 against the FIPS 180-4 test vectors, clear
// exceptions for a missing, mismatched or corrupt model directory, and for bad images (empty,
// non-2-D, 2 or 5 channels, unsupported depths, too small for the border, bad ROI), with the
// accepted conversions (gray, BGRA, 16-bit, float, views) checked against the 8-bit BGR result.
// The model is synthetic (a hand-written model.safetensors) and the engine a stand-in (cell means),
// so the ONNX file is only hashed; parity with Python is tests/export/test_inspect_parity.py.
// check_onnx_file runs on a hand-encoded one-Conv ONNX model (which OpenCV then loads and runs)
// and on copies of it damaged in the ways fuzzing crashed OpenCV's importer.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "seqcore/inspector.hpp"

static int failures = 0;
#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                \
    }                                                            \
  } while (0)

template <class E, class F>
bool throws(F f) {
  try {
    f();
  } catch (const E& e) {
    std::printf("  expected %s\n", e.what());
    return true;
  } catch (...) {
    return false;
  }
  return false;
}

namespace {

namespace fs = std::filesystem;
constexpr int kStride = 8, kAlign = 16, kBorder = 8, kDim = 3, kPoints = 5, kSupport = 3;

/// Stand-in engine: the per-channel mean of each stride x stride cell, (1, 3, H/8, W/8).
class CellMeans : public seqcore::FeatureEngine {
 public:
  std::vector<cv::Mat> forward(const cv::Mat& blob) override {
    const int h = blob.size[2], w = blob.size[3];
    cv::Mat out(std::vector<int>{1, kDim, h / kStride, w / kStride}, CV_32F);
    for (int c = 0; c < kDim; ++c) {
      const cv::Mat plane(h, w, CV_32F, const_cast<float*>(blob.ptr<float>(0, c)));
      cv::Mat means(h / kStride, w / kStride, CV_32F, out.ptr<float>(0, c));
      cv::resize(plane, means, means.size(), 0, 0, cv::INTER_AREA);
    }
    return {out};
  }
};

seqcore::EngineFactory cell_means() {
  return [](const std::string&) { return std::make_unique<CellMeans>(); };
}

void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

/// model.safetensors with coreset (5 x 3 F32), support (5 x 3 I64) and export metadata ``extra``.
std::string model_file(const std::string& onnx_sha, const std::string& extra = "") {
  std::vector<float> points(kPoints * kDim);
  for (int i = 0; i < kPoints * kDim; ++i) points[i] = static_cast<float>((i * 37 % 17) / 17.0);
  std::vector<std::int64_t> support(kPoints * kSupport);
  for (int i = 0; i < kPoints; ++i)
    for (int j = 0; j < kSupport; ++j) support[i * kSupport + j] = (i + j) % kPoints;
  const std::string ex = "{\\\"version\\\": 1, \\\"onnx_file\\\": \\\"extractor.onnx\\\", \\\"onnx_sha256\\\": \\\"" +
                         onnx_sha + "\\\", \\\"stride\\\": 8, \\\"align\\\": 16, \\\"dim\\\": 3, \\\"scales\\\": [3], "
                         "\\\"nominal_scales\\\": null, \\\"image_score\\\": \\\"nn\\\", \\\"blur_sigma\\\": 2.0, "
                         "\\\"threshold\\\": 0.3, \\\"border_pad\\\": 8" + extra + "}";
  const std::size_t pb = points.size() * 4, sb = support.size() * 8;
  std::string header = "{\"__metadata__\": {\"format\": \"seqcore.model\", \"seqcore\": \"{\\\"export\\\": " + ex +
                       "}\"}, \"coreset\": {\"dtype\": \"F32\", \"shape\": [5, 3], \"data_offsets\": [0, " +
                       std::to_string(pb) + "]}, \"support\": {\"dtype\": \"I64\", \"shape\": [5, 3], "
                       "\"data_offsets\": [" + std::to_string(pb) + ", " + std::to_string(pb + sb) + "]}}";
  std::string out;
  put_u64(out, header.size());
  out += header;
  out.append(reinterpret_cast<const char*>(points.data()), pb);
  out.append(reinterpret_cast<const char*>(support.data()), sb);
  return out;
}

void write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// A model directory: extractor.onnx (arbitrary bytes here) and a model file naming its hash.
fs::path make_model(const fs::path& dir, const std::string& extra = "") {
  fs::create_directories(dir);
  write(dir / "extractor.onnx", "not a network: the stand-in engine never reads it");
  write(dir / "model.safetensors", model_file(seqcore::sha256_file((dir / "extractor.onnx").string()), extra));
  return dir;
}

double max_diff(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() ? cv::norm(a, b, cv::NORM_INF) : INFINITY;
}

void check_model_directory(const fs::path& root) {
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(make_model(root / "missing").string() + "/nothing"); }));
  const fs::path dir = make_model(root / "broken");
  fs::remove(dir / "extractor.onnx");
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir.string(), cell_means()); }));  // missing ONNX
  write(dir / "extractor.onnx", "not a network: the stand-in engine never reads it!");
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir.string(), cell_means()); }));  // hash mismatch
  make_model(dir);
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir.string()); }));  // OpenCV cannot read it
  const std::string good = model_file(seqcore::sha256_file((dir / "extractor.onnx").string()));
  for (std::size_t cut : {std::size_t(0), std::size_t(7), std::size_t(100), good.size() - 1}) {
    write(dir / "model.safetensors", good.substr(0, cut));  // truncated
    CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir.string(), cell_means()); }));
  }
  write(dir / "model.safetensors", std::string("\x10\0\0\0\0\0\0\0{not json at all", 24));
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir.string(), cell_means()); }));
  make_model(dir, ", \\\"tile_size\\\": 8");  // smaller than any tile can be
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir.string(), cell_means()); }));
  make_model(dir);
  const seqcore::EngineFactory wrong = [](const std::string&) {
    struct Wrong : seqcore::FeatureEngine {
      std::vector<cv::Mat> forward(const cv::Mat&) override { return {cv::Mat(std::vector<int>{1, 2, 4, 4}, CV_32F)}; }
    };
    return std::make_unique<Wrong>();
  };
  CHECK(throws<seqcore::ExportError>([&] { seqcore::Inspector(dir.string(), wrong); }));  // outputs ≠ banks' dim
  CHECK(seqcore::Inspector(dir.string(), cell_means()).dim() == kDim);
}

void check_images(const fs::path& root) {
  const seqcore::Inspector inspector(make_model(root / "images").string(), cell_means());
  cv::Mat bgr(40, 56, CV_8UC3);
  cv::randu(bgr, 0, 256);
  const seqcore::Result ref = inspector.inspect(bgr);
  CHECK(ref.anomaly_map.type() == CV_32FC1 && ref.anomaly_map.size() == bgr.size());
  CHECK(std::isfinite(ref.image_score) && ref.image_score > 0.0);

  std::printf("bad images:\n");
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat()); }));
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat(0, 5, CV_8UC3)); }));
  const int dims3[] = {4, 40, 56};
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat(3, dims3, CV_8U, cv::Scalar(1))); }));
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat(40, 56, CV_8UC2, cv::Scalar(1, 2))); }));
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat::zeros(40, 56, CV_8UC(5))); }));
  for (int depth : {CV_8S, CV_16S, CV_32S})
    CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat(40, 56, CV_MAKETYPE(depth, 3), cv::Scalar(1))); }));
  cv::Mat over;
  bgr.convertTo(over, CV_32F, 1.0 / 250.0);  // up to 1.02
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(over); }));
  cv::Mat nan(40, 56, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5));
  nan.at<cv::Vec3f>(3, 4)[1] = NAN;
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(nan); }));
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat(kBorder, 56, CV_8UC3, cv::Scalar(9))); }));
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(cv::Mat(40, kBorder, CV_8UC1, cv::Scalar(9))); }));
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(bgr, cv::Mat(39, 56, CV_8UC1, cv::Scalar(1))); }));
  CHECK(throws<seqcore::InspectError>([&] { inspector.inspect(bgr, cv::Mat(40, 56, CV_32FC1, cv::Scalar(1))); }));

  // accepted inputs: the same pixels in another form give the same map as 8-bit BGR
  const double tol = 1e-6 * (1.0 + cv::norm(ref.anomaly_map, cv::NORM_INF));
  cv::Mat bgra, wide, unit, unit64, gray, gray3;
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  std::vector<cv::Mat> planes;
  cv::split(bgra, planes);
  cv::randu(planes[3], 0, 256);
  cv::merge(planes, bgra);
  CHECK(max_diff(inspector.inspect(bgra).anomaly_map, ref.anomaly_map) == 0.0);
  bgr.convertTo(wide, CV_16U, 257.0);  // v * 257 / 65535 == v / 255
  CHECK(max_diff(inspector.inspect(wide).anomaly_map, ref.anomaly_map) <= tol);
  bgr.convertTo(unit, CV_32F, 1.0 / 255.0);
  CHECK(max_diff(inspector.inspect(unit).anomaly_map, ref.anomaly_map) <= tol);
  bgr.convertTo(unit64, CV_64F, 1.0 / 255.0);
  CHECK(max_diff(inspector.inspect(unit64).anomaly_map, ref.anomaly_map) <= tol);
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(gray, gray3, cv::COLOR_GRAY2BGR);
  CHECK(max_diff(inspector.inspect(gray).anomaly_map, inspector.inspect(gray3).anomaly_map) == 0.0);
  cv::Mat big(60, 80, CV_8UC3, cv::Scalar(0, 0, 0));
  bgr.copyTo(big(cv::Rect(11, 7, bgr.cols, bgr.rows)));
  const cv::Mat view = big(cv::Rect(11, 7, bgr.cols, bgr.rows));  // not continuous
  CHECK(!view.isContinuous() && max_diff(inspector.inspect(view).anomaly_map, ref.anomaly_map) == 0.0);
  const seqcore::Result small = inspector.inspect(cv::Mat(kBorder + 1, kBorder + 1, CV_8UC3, cv::Scalar(1, 2, 3)));
  CHECK(small.anomaly_map.rows == kBorder + 1 && cv::checkRange(small.anomaly_map));
}

// -- a one-Conv ONNX model written with a minimal protobuf encoder ---------------------------------
std::string varint(std::uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7F) | 0x80);
  return out + static_cast<char>(v);
}
std::string field(int number, const std::string& bytes) { return varint(number << 3 | 2) + varint(bytes.size()) + bytes; }
std::string field(int number, std::uint64_t value) { return varint(number << 3) + varint(value); }
std::string packed(int number, const std::vector<std::int64_t>& values) {
  std::string body;
  for (auto v : values) body += varint(static_cast<std::uint64_t>(v));
  return field(number, body);
}
std::string ints_attribute(const std::string& name, const std::vector<std::int64_t>& values) {
  return field(1, name) + packed(8, values) + field(20, std::uint64_t(7));  // AttributeProto, type INTS
}
std::string float_tensor(const std::string& name, const std::vector<std::int64_t>& dims, std::size_t values) {
  return packed(1, dims) + field(2, std::uint64_t(1)) + field(8, name) + field(9, std::string(4 * values, '\0'));
}
std::string value_info(const std::string& name) {  // float tensor (1, c, h, w)
  std::string shape;
  for (int d : {1, 3, 8, 8}) shape += field(1, field(1, std::uint64_t(d)));
  return field(1, name) + field(2, field(1, field(1, std::uint64_t(1)) + field(2, shape)));
}
struct Onnx {  // the parts the damaged copies change
  std::string op = "Conv", weight = "w", strides_name = "strides";
  std::vector<std::int64_t> strides = {1, 1}, pads = {1, 1, 1, 1}, kernel = {3, 3}, weight_dims = {2, 3, 3, 3};
  std::size_t weight_values = 2 * 3 * 3 * 3;
  std::string encode() const {
    const std::string node = field(1, "image") + field(1, weight) + field(1, "b") + field(2, "features_0") +
                             field(3, "conv") + field(4, op) + field(5, ints_attribute("kernel_shape", kernel)) +
                             field(5, ints_attribute(strides_name, strides)) + field(5, ints_attribute("pads", pads));
    const std::string graph = field(1, node) + field(2, "g") + field(5, float_tensor("w", weight_dims, weight_values)) +
                              field(5, float_tensor("b", {2}, 2)) + field(11, value_info("image")) +
                              field(12, value_info("features_0"));
    return field(1, std::uint64_t(7)) + field(7, graph) + field(8, field(2, std::uint64_t(13)));
  }
};

void check_onnx_checker(const fs::path& root) {
  const std::string path = (root / "tiny.onnx").string();
  const std::string tiny = Onnx{}.encode();
  write(path, tiny);
  const std::vector<unsigned char> checked = seqcore::check_onnx_file(path);
  CHECK(std::string(checked.begin(), checked.end()) == tiny);  // the bytes the importer will parse
  const auto engine = seqcore::make_opencv_engine(path);  // OpenCV reads and runs what the check passes
  const std::vector<cv::Mat> out = engine->forward(cv::Mat(std::vector<int>{1, 3, 8, 8}, CV_32F, cv::Scalar(0.5)));
  CHECK(out.size() == 1 && out[0].dims == 4 && out[0].size[1] == 2 && out[0].size[2] == 8);
  std::printf("malformed ONNX files:\n");
  std::vector<Onnx> bad(10);
  bad[0].strides = {0, 1};            // OpenCV 5.1 crashed on this
  bad[1].weight = "w_missing";        // input defined nowhere (4.6 crashed)
  bad[2].strides_name = "stridez";    // misspelt attribute (4.6 crashed)
  bad[3].weight = "\xee\x80";         // name that is not UTF-8 (4.6 crashed)
  bad[4].op = "Bogus";                // not an op a seqcore export writes
  bad[5].kernel = {5, 5};             // kernel differs from the weight
  bad[6].pads = {1, 1, -1, 1};
  bad[7].weight_values = 7;           // initializer bytes do not match its dims
  bad[8].strides = {1};               // two spatial axes need two strides
  bad[9].weight_dims = {0, 3, 3, 3};  // an empty weight
  bad[9].weight_values = 0;
  for (const Onnx& onnx : bad) {
    write(path, onnx.encode());
    CHECK(throws<seqcore::ExportError>([&] { seqcore::check_onnx_file(path); }));
    CHECK(throws<seqcore::ExportError>([&] { seqcore::make_opencv_engine(path); }));
  }
  const std::string good = Onnx{}.encode();
  for (std::size_t cut : {std::size_t(1), std::size_t(5), good.size() / 2, good.size() - 1}) {
    write(path, good.substr(0, cut));  // truncated: broken framing or a missing graph
    CHECK(throws<seqcore::ExportError>([&] { seqcore::check_onnx_file(path); }));
  }
  write(path, "");
  CHECK(throws<seqcore::ExportError>([&] { seqcore::check_onnx_file(path); }));
  CHECK(throws<seqcore::ExportError>([&] { seqcore::check_onnx_file((root / "no_such.onnx").string()); }));
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path dir = fs::path(argc > 1 ? argv[1] : ".") / "inspect_test";
  fs::create_directories(dir);
  const auto file = [&](const std::string& name, const std::string& text) {
    write(dir / name, text);
    return (dir / name).string();
  };
  CHECK(seqcore::sha256_file(file("abc.bin", "abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(seqcore::sha256_file(file("empty.bin", "")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(seqcore::sha256_file(file("two.bin", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(throws<seqcore::ExportError>([&] { seqcore::sha256_file((dir / "no_such_file").string()); }));
  std::printf("bad model directories:\n");
  check_model_directory(dir);
  check_onnx_checker(dir);
  check_images(dir);
  if (failures) return 1;
  std::printf("seqcore_inspect_test: all checks passed\n");
  return 0;
}
