// inspect_line MODEL_DIR IMAGE: inspects one image with an exported model (seqcore export) and
// prints the verdict and each defect; exit status 0 ok, 3 anomalous, 1 error, 2 usage.
#include <cstdio>
#include <exception>

#include <opencv2/imgcodecs.hpp>
#include <seqcore/inspector.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: inspect_line MODEL_DIR IMAGE\n");
    return 2;
  }
  try {
    const seqcore::Inspector inspector(argv[1]);  // checks the ONNX file against the model's hash
    const cv::Mat image = cv::imread(argv[2], cv::IMREAD_COLOR);
    if (image.empty()) throw seqcore::InspectError(std::string("cannot read image ") + argv[2]);
    const seqcore::Result r = inspector.inspect(image);
    std::printf("score %.6f %s, %zu defects\n", r.image_score,
                !r.has_threshold ? "(no threshold)" : r.anomalous ? "ANOMALOUS" : "ok", r.defects.size());
    for (const seqcore::Defect& d : r.defects)
      std::printf("  defect at (%d, %d) %dx%d px, area %d, peak %.4f, mean %.4f\n", d.bbox.x, d.bbox.y,
                  d.bbox.width, d.bbox.height, d.area, d.peak, d.mean);
    return r.anomalous ? 3 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inspect_line: %s\n", e.what());
    return 1;
  }
}
