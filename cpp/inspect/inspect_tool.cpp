// seqcore_inspect MODEL_DIR IMAGE... [--json out.json] [--maps DIR] [--roi MASK] [--threads N]: inspects
// images with an exported model (seqcore export) and prints one line per image; --json writes scores,
// defect lists, each image's inspect time in seconds (decoding excluded) and the OpenCV version, --threads caps OpenCV's and
// seqcore's worker threads (default: OpenCV's and SEQCORE_NUM_THREADS' defaults), --roi applies one region-of-interest mask (non-zero = inspected) to every image, --maps writes each anomaly map as float32 .npy (NAME.npy, NAME = file stem).
// Files are decoded as seqcore.data.read_image decodes them (16-bit to 8-bit the same way).
// seqcore_inspect --check MODEL_DIR... (or --check - : directories from stdin, one per line) only
// loads each model directory and prints one line per directory, "ok<TAB>DIR<TAB>banks B dim D" or
// "export_error<TAB>DIR<TAB>why" (any other exception: "error<TAB>DIR<TAB>what"), flushed at once;
// exit status 0 when every directory loaded. benchmarks/fuzz_model_file.py drives it.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "seqcore/inspector.hpp"

namespace {

std::string stem(const std::string& path) {
  const auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void write_npy(const std::string& path, const cv::Mat& map) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(map.rows) + ", " +
                       std::to_string(map.cols) + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const unsigned short len = static_cast<unsigned short>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(len & 0xFF));
  out.put(static_cast<char>(len >> 8));
  out << header;
  for (int y = 0; y < map.rows; ++y) out.write(map.ptr<char>(y), static_cast<std::streamsize>(map.cols * 4));
  if (!out) throw std::runtime_error("cannot write " + path);
}

/// 16-bit files decoded as seqcore.data.read_image does (Pillow), so that the tool and Python's
/// read_image + predict see the same 8-bit pixels: gray round(v / 257), colour the high byte.
cv::Mat as_read_image(const cv::Mat& image) {
  if (image.depth() != CV_16U) return image;
  cv::Mat out;
  if (image.channels() == 1) {
    image.convertTo(out, CV_8U, 1.0 / 257.0);  // no ties: v / 257 never ends in .5
    return out;
  }
  out.create(image.size(), CV_MAKETYPE(CV_8U, image.channels()));
  for (int y = 0; y < image.rows; ++y) {
    const std::uint16_t* src = image.ptr<std::uint16_t>(y);
    unsigned char* dst = out.ptr<unsigned char>(y);
    for (int x = 0; x < image.cols * image.channels(); ++x) dst[x] = static_cast<unsigned char>(src[x] >> 8);
  }
  return out;
}

/// One --check line for a model directory (see the file comment); true when it loaded.
bool check(const std::string& dir) {
  std::string outcome = "ok", detail;
  try {
    const seqcore::Inspector inspector(dir);
    detail = "banks " + std::to_string(inspector.banks()) + " dim " + std::to_string(inspector.dim());
  } catch (const seqcore::ExportError& e) {
    outcome = "export_error";
    detail = e.what();
  } catch (const std::exception& e) {
    outcome = "error";
    detail = e.what();
  } catch (...) {
    outcome = "error";
    detail = "unknown exception";
  }
  for (char& c : detail)
    if (c == '\n' || c == '\t') c = ' ';
  std::printf("%s\t%s\t%s\n", outcome.c_str(), dir.c_str(), detail.c_str());
  std::fflush(stdout);
  return outcome == "ok";
}

int check_mode(const std::vector<std::string>& dirs) {
  bool all = true;
  if (dirs.size() == 1 && dirs[0] == "-") {
    for (std::string line; std::getline(std::cin, line);) all = check(line) && all;
  } else {
    for (const auto& d : dirs) all = check(d) && all;
  }
  return all ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "--check") return check_mode(std::vector<std::string>(argv + 2, argv + argc));
  std::vector<std::string> images;
  std::string model_dir, json_path, maps_dir, roi_path, threads;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--json" || arg == "--maps" || arg == "--roi" || arg == "--threads") && i + 1 < argc) {
      (arg == "--json" ? json_path : arg == "--maps" ? maps_dir : arg == "--roi" ? roi_path : threads) = argv[++i];
    } else if (arg == "-h" || arg == "--help" || arg.rfind("--", 0) == 0) {
      std::cerr << "usage: seqcore_inspect MODEL_DIR IMAGE... [--json out.json] [--maps DIR] [--roi MASK] [--threads N]\n"
                 "       seqcore_inspect --check MODEL_DIR... | -\n";
      return arg.rfind("--", 0) == 0 && arg != "--help" ? 2 : 0;
    } else if (model_dir.empty()) {
      model_dir = arg;
    } else {
      images.push_back(arg);
    }
  }
  if (model_dir.empty() || images.empty()) {
    std::cerr << "usage: seqcore_inspect MODEL_DIR IMAGE... [--json out.json] [--maps DIR] [--roi MASK] [--threads N]\n"
                 "       seqcore_inspect --check MODEL_DIR... | -\n";
    return 2;
  }
  try {
    if (!threads.empty()) {
      char* end = nullptr;
      const long n = std::strtol(threads.c_str(), &end, 10);
      if (*end || n < 1 || n > 1024) throw std::invalid_argument("--threads must be a number from 1 to 1024");
      cv::setNumThreads(static_cast<int>(n));
      setenv("SEQCORE_NUM_THREADS", threads.c_str(), 1);  // read when seqcore's pool starts
    }
    const seqcore::Inspector inspector(model_dir);
    cv::Mat roi;
    if (!roi_path.empty()) {
      roi = cv::imread(roi_path, cv::IMREAD_GRAYSCALE);
      if (roi.empty()) throw seqcore::InspectError("cannot read region-of-interest mask " + roi_path);
    }
    std::ostringstream json;
    json << "{\"opencv_version\": " << quote(CV_VERSION) << ", \"images\": [";
    for (std::size_t n = 0; n < images.size(); ++n) {
      const cv::Mat image = as_read_image(cv::imread(images[n], cv::IMREAD_UNCHANGED));
      if (image.empty()) throw seqcore::InspectError("cannot read image " + images[n]);
      const auto started = std::chrono::steady_clock::now();
      const seqcore::Result r = inspector.inspect(image, roi);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::printf("%s score %.6f%s defects %zu\n", images[n].c_str(), r.image_score,
                  r.has_threshold ? (r.anomalous ? " ANOMALOUS" : " ok") : "", r.defects.size());
      if (!maps_dir.empty()) write_npy(maps_dir + "/" + stem(images[n]) + ".npy", r.anomaly_map);
      char score[64];
      std::snprintf(score, sizeof score, "%.9g", r.image_score);
      json << (n ? ", " : "") << "{\"path\": " << quote(images[n]) << ", \"image_score\": " << score
           << ", \"seconds\": " << seconds << ", \"anomalous\": " << (r.has_threshold ? (r.anomalous ? "true" : "false") : "null")
           << ", \"defects\": [";
      for (std::size_t k = 0; k < r.defects.size(); ++k) {
        const auto& d = r.defects[k];
        char line[256];
        std::snprintf(line, sizeof line, "{\"bbox\": [%d, %d, %d, %d], \"area\": %d, \"peak\": %.9g, \"mean\": %.9g}",
                      d.bbox.x, d.bbox.y, d.bbox.width, d.bbox.height, d.area, d.peak, d.mean);
        json << (k ? ", " : "") << line;
      }
      json << "]}";
    }
    json << "]}\n";
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << json.str();
      if (!out) throw std::runtime_error("cannot write " + json_path);
    }
  } catch (const std::exception& e) {
    std::cerr << "seqcore_inspect: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
