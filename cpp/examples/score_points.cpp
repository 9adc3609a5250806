// Example: score feature vectors against the coreset of a seqcore model file, C++ only.
//
//   seqcore_score_points MODEL.safetensors [POINTS.txt]
//     prints the distance of each point (one line of `dim` numbers, from the file or stdin)
//     to its nearest coreset point.
//   seqcore_score_points --self-test MODEL.safetensors
//     writes a small model there, reads it back and checks the scores (used by ctest).
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "seqcore/model_file.hpp"
#include "seqcore/point_index.hpp"

namespace {

/// Scoring index over the model's coreset points.
seqcore::PointIndex index_of(const seqcore::Model& model) {
  return seqcore::PointIndex(model.coreset.data(), model.count, model.dim);
}

int score(const std::string& model_path, std::istream& in) {
  const seqcore::Model model = seqcore::read_model(model_path);
  const seqcore::PointIndex bank = index_of(model);
  std::string line;
  std::vector<float> point;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    point.clear();
    for (float v; fields >> v;) point.push_back(v);
    if (point.empty()) continue;
    if (point.size() != model.dim) {
      std::cerr << "point has " << point.size() << " values, model dim is " << model.dim << "\n";
      return 2;
    }
    float distance;
    std::int64_t index;
    bank.query(point.data(), 1, &distance, &index);
    std::cout << distance << " " << index << "\n";
  }
  return 0;
}

int self_test(const std::string& path) {
  const std::size_t count = 5, dim = 3;
  std::vector<float> pts(count * dim);
  for (std::size_t i = 0; i < pts.size(); ++i) pts[i] = static_cast<float>(i) * 0.5f;
  seqcore::write_model(path, pts.data(), count, dim, "{\"backbone\": \"demo\"}");
  const seqcore::Model model = seqcore::read_model(path);
  const bool same = model.count == count && model.dim == dim && model.coreset == pts &&
                    model.metadata_json == "{\"backbone\": \"demo\"}";
  if (!same) {
    std::cerr << "model round trip mismatch\n";
    return 1;
  }
  const seqcore::PointIndex bank = index_of(model);
  std::vector<float> queries = pts;
  queries[0] -= 3.0f;  // 3 away from point 0 along axis 0, farther from all others
  std::vector<float> distance(count);
  std::vector<std::int64_t> index(count);
  bank.query(queries.data(), count, distance.data(), index.data());
  if (std::fabs(distance[0] - 3.0f) > 1e-5f || index[0] != 0 || distance[1] != 0.0f || index[1] != 1 || index[4] != 4) {
    std::cerr << "unexpected scores: " << distance[0] << " " << distance[1] << "\n";
    return 1;
  }
  std::cout << "self-test passed\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--self-test") return self_test(argv[2]);
    if (argc == 2) return score(argv[1], std::cin);
    if (argc == 3) {
      std::ifstream in(argv[2]);
      if (!in) {
        std::cerr << "cannot open " << argv[2] << "\n";
        return 2;
      }
      return score(argv[1], in);
    }
    std::cerr << "usage: " << argv[0] << " MODEL.safetensors [POINTS.txt] | --self-test MODEL.safetensors\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
