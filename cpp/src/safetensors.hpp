// Internal: the framing shared by every safetensors reader (model_file.cpp, inspect/inspector.cpp):
// 8-byte little-endian header length, then the JSON header, then the tensor bytes.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include "json.hpp"

namespace seqcore::detail {

/// Parsed JSON header of a safetensors file and where its data section starts and ends.
struct SafetensorsHeader {
  JsonValue root;
  std::uint64_t header_len = 0;  // data section starts at 8 + header_len
  std::uint64_t file_size = 0;
};

/// Opens `path` into `in` and reads its header (at most `max_header` bytes). `fail(why)` must throw:
/// it reports a missing, truncated or unparsable file in the caller's error type.
template <class Fail>
SafetensorsHeader read_safetensors_header(const std::string& path, std::uint64_t max_header, std::ifstream& in,
                                          Fail&& fail) {
  in.open(path, std::ios::binary | std::ios::ate);
  if (!in) fail("cannot open (missing or unreadable)");
  SafetensorsHeader out;
  out.file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  if (out.file_size < 8) fail("truncated (no safetensors header)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  for (int i = 7; i >= 0; --i) out.header_len = (out.header_len << 8) | len_bytes[i];
  if (out.header_len > max_header || out.header_len > out.file_size - 8) fail("truncated or not a safetensors file");
  std::string header(out.header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(out.header_len));
  if (!in) fail("truncated header");
  try {
    out.root = JsonParser(header).parse();
  } catch (const std::runtime_error& e) {
    fail(std::string("not a safetensors file (") + e.what() + ")");
  }
  return out;
}

}  // namespace seqcore::detail
