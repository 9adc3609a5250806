// Safetensors model file reader/writer: 8-byte little-endian header length, JSON header,
// raw little-endian tensor bytes.
#include "seqcore/model_file.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "json.hpp"
#include "safetensors.hpp"

namespace seqcore {
namespace {

constexpr std::uint64_t kMaxHeader = 100u << 20;

bool little_endian() {
  const std::uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw ModelFileError("model file " + path + ": " + why);
}

std::size_t as_size(const detail::JsonValue* v, const std::string& path, const char* what) {
  if (!v || v->kind != detail::JsonValue::Kind::Number || v->number < 0 || v->number > 9.0e15 ||
      std::floor(v->number) != v->number)
    bad(path, std::string("invalid ") + what + " of tensor 'coreset'");
  return static_cast<std::size_t>(v->number);
}

}  // namespace

Model read_model(const std::string& path) {
  if (!little_endian()) bad(path, "big-endian hosts are not supported");
  std::ifstream in;
  const auto [root, header_len, file_size] =
      detail::read_safetensors_header(path, kMaxHeader, in, [&](const std::string& why) { bad(path, why); });
  if (root.kind != detail::JsonValue::Kind::Object) bad(path, "not a safetensors file (header is not an object)");

  Model model;
  if (const detail::JsonValue* meta = root.find("__metadata__")) {
    if (meta->kind != detail::JsonValue::Kind::Object) bad(path, "__metadata__ is not an object");
    for (const auto& [key, value] : meta->members) {
      if (value.kind != detail::JsonValue::Kind::String)
        bad(path, "__metadata__ value of '" + key + "' is not a string");
      model.header_metadata[key] = value.text;
    }
  }
  const auto format = model.header_metadata.find("format");
  if (format == model.header_metadata.end() || format->second != kModelFormat)
    bad(path, "foreign file (not a seqcore model)");
  const auto version = model.header_metadata.find("format_version");
  if (version == model.header_metadata.end() || version->second != kModelFormatVersion)
    bad(path, "unsupported format version '" +
                  (version == model.header_metadata.end() ? std::string() : version->second) + "' (expected " +
                  kModelFormatVersion + ")");
  const auto meta_json = model.header_metadata.find("seqcore");
  if (meta_json != model.header_metadata.end()) model.metadata_json = meta_json->second;

  const detail::JsonValue* tensor = root.find("coreset");
  if (!tensor || tensor->kind != detail::JsonValue::Kind::Object) bad(path, "no tensor 'coreset'");
  const detail::JsonValue* dtype = tensor->find("dtype");
  if (!dtype || dtype->kind != detail::JsonValue::Kind::String || dtype->text != "F32")
    bad(path, "tensor 'coreset' is not F32");
  const detail::JsonValue* shape = tensor->find("shape");
  if (!shape || shape->kind != detail::JsonValue::Kind::Array || shape->items.size() != 2)
    bad(path, "tensor 'coreset' is not 2-D");
  const detail::JsonValue* offsets = tensor->find("data_offsets");
  if (!offsets || offsets->kind != detail::JsonValue::Kind::Array || offsets->items.size() != 2)
    bad(path, "tensor 'coreset' has no data_offsets");
  model.count = as_size(&shape->items[0], path, "shape");
  model.dim = as_size(&shape->items[1], path, "shape");
  const std::size_t begin = as_size(&offsets->items[0], path, "data_offsets");
  const std::size_t end = as_size(&offsets->items[1], path, "data_offsets");
  const std::uint64_t data_size = file_size - 8 - header_len;
  if (end < begin || end > data_size) bad(path, "truncated (tensor data missing)");
  if (model.dim != 0 && model.count > (end - begin) / 4 / model.dim)
    bad(path, "tensor 'coreset' size does not match its shape");
  if (end - begin != model.count * model.dim * 4) bad(path, "tensor 'coreset' size does not match its shape");

  model.coreset.resize(model.count * model.dim);
  in.seekg(static_cast<std::streamoff>(8 + header_len + begin));
  in.read(reinterpret_cast<char*>(model.coreset.data()), static_cast<std::streamsize>(end - begin));
  if (!in) bad(path, "truncated (tensor data missing)");
  return model;
}

void write_model(const std::string& path, const float* coreset, std::size_t count, std::size_t dim,
                 const std::string& metadata_json) {
  if (!little_endian()) bad(path, "big-endian hosts are not supported");
  const std::size_t bytes = count * dim * sizeof(float);
  std::ostringstream h;
  h << "{\"__metadata__\":{\"format\":" << detail::json_quote(kModelFormat)
    << ",\"format_version\":" << detail::json_quote(kModelFormatVersion)
    << ",\"seqcore\":" << detail::json_quote(metadata_json) << "},"
    << "\"coreset\":{\"dtype\":\"F32\",\"shape\":[" << count << "," << dim << "],"
    << "\"data_offsets\":[0," << bytes << "]}}";
  std::string header = h.str();
  header.append((8 - header.size() % 8) % 8, ' ');  // safetensors aligns the data to 8 bytes
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) bad(path, "cannot open for writing");
  unsigned char len_bytes[8];
  std::uint64_t len = header.size();
  for (int i = 0; i < 8; ++i, len >>= 8) len_bytes[i] = static_cast<unsigned char>(len & 0xFF);
  out.write(reinterpret_cast<const char*>(len_bytes), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(coreset), static_cast<std::streamsize>(bytes));
  if (!out) bad(path, "write failed");
}

}  // namespace seqcore
