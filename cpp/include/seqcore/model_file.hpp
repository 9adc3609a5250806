// Model file: the coreset and its metadata in one safetensors file, shared with Python
// (seqcore.io). Readable and writable without Python.
#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace seqcore {

/// Name and version stored in the header metadata; other files are rejected as foreign.
inline constexpr const char* kModelFormat = "seqcore.model";
inline constexpr const char* kModelFormatVersion = "1";

/// Missing, truncated, corrupt, foreign or version-mismatched model file.
class ModelFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Contents of a model file that the C++ core needs.
struct Model {
  std::size_t count = 0;             // coreset points
  std::size_t dim = 0;               // feature dimension
  std::vector<float> coreset;        // count x dim, row-major
  std::string metadata_json;         // the JSON text of __metadata__["seqcore"]
  std::map<std::string, std::string> header_metadata;  // every __metadata__ string
};

/// Reads the F32 tensor "coreset" and the metadata; throws ModelFileError on bad files.
Model read_model(const std::string& path);

/// Writes a model file with the single tensor "coreset" (count x dim float32) and the
/// given metadata JSON text; throws ModelFileError when the file cannot be written.
void write_model(const std::string& path, const float* coreset, std::size_t count, std::size_t dim,
                 const std::string& metadata_json);

}  // namespace seqcore
