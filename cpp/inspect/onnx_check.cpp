// check_onnx_file: the ONNX checker's structural rules, applied before OpenCV's importer reads a
// file (docs/design.md §15). OpenCV's importer trusts the graph: fuzzing found segfaults and a
// SIGFPE on graphs whose node inputs name nothing, whose strings are not UTF-8, whose attributes
// are misspelt or whose strides are not positive. This reader parses the protobuf wire format
// itself (no protobuf library) and refuses such graphs with ExportError naming the node and field.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "seqcore/inspector.hpp"

namespace seqcore {
namespace {

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw ExportError("ONNX file " + path + " is malformed: " + why);
}

/// Protobuf wire format over a byte range; throws std::runtime_error on malformed framing.
class Wire {
 public:
  Wire(const unsigned char* begin, const unsigned char* end) : p_(begin), end_(end) {}
  bool done() const { return p_ == end_; }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) throw std::runtime_error("truncated varint");
      const unsigned char b = *p_++;
      if (shift == 63 && b > 1) throw std::runtime_error("varint overflows 64 bits");
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("varint longer than 10 bytes");
  }
  /// Next field: (number, wire type); 0, 1, 2 and 5 only (groups are refused).
  std::pair<std::uint32_t, int> tag() {
    const std::uint64_t t = varint();
    const int type = static_cast<int>(t & 7);
    if ((t >> 3) == 0 || (t >> 3) > 0x1FFFFFFF) throw std::runtime_error("invalid field number");
    if (type != 0 && type != 1 && type != 2 && type != 5) throw std::runtime_error("unsupported wire type");
    return {static_cast<std::uint32_t>(t >> 3), type};
  }
  Wire bytes() {
    const std::uint64_t n = varint();
    if (n > static_cast<std::uint64_t>(end_ - p_)) throw std::runtime_error("length past the end of its message");
    Wire out(p_, p_ + n);
    p_ += n;
    return out;
  }
  std::uint32_t fixed32() {
    if (end_ - p_ < 4) throw std::runtime_error("truncated fixed32");
    std::uint32_t v;
    std::memcpy(&v, p_, 4);
    p_ += 4;
    return v;
  }
  void skip(int type) {
    if (type == 0) varint();
    else if (type == 1) { if (end_ - p_ < 8) throw std::runtime_error("truncated fixed64"); p_ += 8; }
    else if (type == 2) bytes();
    else fixed32();
  }
  std::string text() const { return std::string(reinterpret_cast<const char*>(p_), end_ - p_); }
  const unsigned char* data() const { return p_; }
  std::size_t size() const { return static_cast<std::size_t>(end_ - p_); }

 private:
  const unsigned char* p_;
  const unsigned char* end_;
};

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    const int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + n >= s.size()) return false;
    std::uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (int k = 1; k <= n; ++k) {
      const unsigned char d = s[i + k];
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static const std::uint32_t least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

/// Repeated integers, packed (wire type 2) or one per field.
void ints(Wire& w, int type, std::vector<std::int64_t>& out) {
  if (type == 2) {
    for (Wire packed = w.bytes(); !packed.done();) out.push_back(static_cast<std::int64_t>(packed.varint()));
  } else if (type == 0) {
    out.push_back(static_cast<std::int64_t>(w.varint()));
  } else {
    w.skip(type);
  }
}

/// Number of fixed-size values in a repeated float/double field (packed or not).
std::uint64_t fixed_count(Wire& w, int type, int item_type, std::size_t item_size) {
  if (type == 2) {
    const Wire packed = w.bytes();
    if (packed.size() % item_size) throw std::runtime_error("packed field of partial values");
    return packed.size() / item_size;
  }
  w.skip(type);
  return type == item_type ? 1 : 0;
}

/// Varints in a repeated field (packed or not), counted (each is still decoded, so framing is checked).
std::uint64_t varint_count(Wire& w, int type) {
  if (type != 2) {
    w.skip(type);
    return type == 0 ? 1 : 0;
  }
  std::uint64_t count = 0;
  for (Wire packed = w.bytes(); !packed.done(); ++count) packed.varint();
  return count;
}

struct Tensor {
  std::string name;
  std::int64_t data_type = 0;
  std::vector<std::int64_t> dims;
  bool has_raw = false;
  std::uint64_t raw_bytes = 0, floats = 0, int32s = 0, int64s = 0, doubles = 0, strings = 0;
  bool external = false, segmented = false;
  std::vector<float> values;  // raw FLOAT data, kept when small (Resize scales)
};

Tensor read_tensor(Wire w) {
  Tensor t;
  while (!w.done()) {
    const auto [field, type] = w.tag();
    switch (field) {
      case 1: ints(w, type, t.dims); break;
      case 2: if (type == 0) t.data_type = static_cast<std::int32_t>(w.varint()); else w.skip(type); break;
      case 3: t.segmented = true; w.skip(type); break;
      case 4: t.floats += fixed_count(w, type, 5, 4); break;
      case 5: t.int32s += varint_count(w, type); break;
      case 6: if (type == 2) ++t.strings; w.skip(type); break;
      case 7: t.int64s += varint_count(w, type); break;
      case 8: if (type == 2) t.name = w.bytes().text(); else w.skip(type); break;
      case 9:
        if (type == 2) {
          const Wire raw = w.bytes();
          t.has_raw = true;
          t.raw_bytes = raw.size();
          t.values.clear();
          if (raw.size() <= 64 && raw.size() % 4 == 0) {
            t.values.resize(raw.size() / 4);
            std::memcpy(t.values.data(), raw.data(), raw.size());
          }
        } else {
          w.skip(type);
        }
        break;
      case 10: t.doubles += fixed_count(w, type, 1, 8); break;
      case 11: t.int64s += varint_count(w, type); break;  // uint64_data
      case 13: t.external = true; w.skip(type); break;
      case 14: if (type == 0 && w.varint() != 0) t.external = true; else if (type != 0) w.skip(type); break;
      default: w.skip(type);
    }
  }
  return t;
}

struct Attribute {
  std::string name, s;
  std::int64_t type = 0, i = 0;
  float f = 0.0f;
  std::vector<std::int64_t> ints;
  bool text_ok = true;         // every entry of a strings value is UTF-8
  std::map<int, int> present;  // value field -> occurrences (graphs, sparse tensors, type protos too)
  std::vector<Tensor> tensors;
};

Attribute read_attribute(Wire w) {
  Attribute a;
  while (!w.done()) {
    const auto [field, type] = w.tag();
    switch (field) {
      case 1: if (type == 2) a.name = w.bytes().text(); else w.skip(type); break;
      case 2: if (type == 5) { const std::uint32_t bits = w.fixed32(); std::memcpy(&a.f, &bits, 4); ++a.present[2]; } else w.skip(type); break;
      case 3: if (type == 0) { a.i = static_cast<std::int64_t>(w.varint()); ++a.present[3]; } else w.skip(type); break;
      case 4: if (type == 2) { a.s = w.bytes().text(); ++a.present[4]; } else w.skip(type); break;
      case 5: if (type == 2) { a.tensors.push_back(read_tensor(w.bytes())); ++a.present[5]; } else w.skip(type); break;
      case 7: fixed_count(w, type, 5, 4); ++a.present[7]; break;
      case 8: ints(w, type, a.ints); ++a.present[8]; break;
      case 9: if (type == 2) { a.text_ok = valid_utf8(w.bytes().text()) && a.text_ok; ++a.present[9]; } else w.skip(type); break;
      case 20: if (type == 0) a.type = static_cast<std::int32_t>(w.varint()); else w.skip(type); break;
      case 6: case 10: case 11: case 14: case 15: case 22: case 23: ++a.present[static_cast<int>(field)]; w.skip(type); break;
      default: w.skip(type);
    }
  }
  return a;
}

struct Node {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

Node read_node(Wire w) {
  Node n;
  while (!w.done()) {
    const auto [field, type] = w.tag();
    if (type != 2 || field > 7 || field == 6) { w.skip(type); continue; }
    Wire v = w.bytes();
    if (field == 1) n.inputs.push_back(v.text());
    else if (field == 2) n.outputs.push_back(v.text());
    else if (field == 3) n.name = v.text();
    else if (field == 4) n.op_type = v.text();
    else if (field == 5) n.attributes.push_back(read_attribute(v));
    else n.domain = v.text();
  }
  return n;
}

struct Value {
  std::string name;
  std::int64_t elem_type = 0;
  int rank = -1;  // -1: no shape
};

Value read_value(Wire w) {
  Value v;
  int types = 0;
  while (!w.done()) {
    const auto [field, type] = w.tag();
    if (field == 1 && type == 2) { v.name = w.bytes().text(); continue; }
    if (field != 2 || type != 2) { w.skip(type); continue; }
    if (++types > 1) throw std::runtime_error("value '" + v.name + "' has two types");
    for (Wire tp = w.bytes(); !tp.done();) {
      const auto [f1, t1] = tp.tag();
      if (f1 != 1 || t1 != 2) { tp.skip(t1); continue; }
      for (Wire tt = tp.bytes(); !tt.done();) {  // TypeProto.Tensor
        const auto [f2, t2] = tt.tag();
        if (f2 == 1 && t2 == 0) v.elem_type = static_cast<std::int32_t>(tt.varint());
        else if (f2 == 2 && t2 == 2) {
          if (v.rank >= 0) throw std::runtime_error("value '" + v.name + "' has two shapes");
          v.rank = 0;
          for (Wire shape = tt.bytes(); !shape.done();) {
            const auto [f3, t3] = shape.tag();
            if (f3 == 1 && t3 == 2) ++v.rank;
            shape.skip(t3);
          }
        } else {
          tt.skip(t2);
        }
      }
    }
  }
  return v;
}

struct Graph {
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<Value> inputs, outputs;
  bool sparse = false;
};

Graph read_graph(Wire w) {
  Graph g;
  while (!w.done()) {
    const auto [field, type] = w.tag();
    if (type != 2) { w.skip(type); continue; }
    Wire v = w.bytes();
    if (field == 1) g.nodes.push_back(read_node(v));
    else if (field == 5) g.initializers.push_back(read_tensor(v));
    else if (field == 11) g.inputs.push_back(read_value(v));
    else if (field == 12) g.outputs.push_back(read_value(v));
    else if (field == 15) g.sparse = true;
  }
  return g;
}

// -- the rules ---------------------------------------------------------------------------------
enum AttrType : int { kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kFloats = 6, kInts = 7, kStrings = 8 };

struct OpSchema {
  int min_inputs, max_inputs, min_outputs, max_outputs;
  std::map<std::string, int> attributes;  // name -> AttrType (opset 13)
};

/// The ops a seqcore export of a timm CNN can contain (opset 13), with their attributes.
const std::map<std::string, OpSchema>& schemas() {
  static const std::map<std::string, OpSchema> table = [] {
    const std::map<std::string, int> conv = {{"auto_pad", kString}, {"dilations", kInts}, {"group", kInt},
                                             {"kernel_shape", kInts}, {"pads", kInts}, {"strides", kInts}};
    const std::map<std::string, int> avg = {{"auto_pad", kString}, {"ceil_mode", kInt}, {"count_include_pad", kInt},
                                            {"kernel_shape", kInts}, {"pads", kInts}, {"strides", kInts}};
    std::map<std::string, int> max = avg;
    max.erase("count_include_pad");
    max["dilations"] = kInts;
    max["storage_order"] = kInt;
    const int many = 1 << 16;
    std::map<std::string, OpSchema> t;
    for (const char* op : {"Relu", "Sigmoid", "HardSwish", "Identity", "GlobalAveragePool", "GlobalMaxPool"})
      t[op] = {1, 1, 1, 1, {}};
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) t[op] = {2, 2, 1, 1, {}};
    t["HardSigmoid"] = {1, 1, 1, 1, {{"alpha", kFloat}, {"beta", kFloat}}};
    t["Clip"] = {1, 3, 1, 1, {}};
    t["Conv"] = {2, 3, 1, 1, conv};
    t["AveragePool"] = {1, 1, 1, 1, avg};
    t["MaxPool"] = {1, 1, 1, 2, max};
    t["Concat"] = {1, many, 1, 1, {{"axis", kInt}}};
    t["Resize"] = {1, 4, 1, 1, {{"coordinate_transformation_mode", kString}, {"cubic_coeff_a", kFloat},
                                {"exclude_outside", kInt}, {"extrapolation_value", kFloat}, {"mode", kString},
                                {"nearest_mode", kString}}};
    t["Pad"] = {2, 3, 1, 1, {{"mode", kString}}};
    t["Slice"] = {3, 5, 1, 1, {}};
    t["ReduceMean"] = {1, 1, 1, 1, {{"axes", kInts}, {"keepdims", kInt}}};
    t["Constant"] = {0, 0, 1, 1, {{"value", kTensor}, {"value_float", kFloat}, {"value_floats", kFloats},
                                  {"value_int", kInt}, {"value_ints", kInts}}};
    return t;
  }();
  return table;
}

/// Element size of the tensor data types a backbone graph holds (0: refused).
std::size_t element_size(std::int64_t data_type) {
  switch (data_type) {
    case 1: case 6: return 4;   // FLOAT, INT32
    case 7: case 11: return 8;  // INT64, DOUBLE
    case 9: return 1;           // BOOL
    default: return 0;
  }
}

void check_tensor(const Tensor& t, const std::string& where, const std::string& path) {
  const std::size_t item = element_size(t.data_type);
  if (!item) refuse(path, where + " has data type " + std::to_string(t.data_type) + " (float, int32, int64, double or bool expected)");
  if (t.external || t.segmented) refuse(path, where + " keeps its data outside the file or in segments");
  std::uint64_t count = 1;
  for (const std::int64_t d : t.dims) {
    if (d < 0 || d > (std::int64_t(1) << 31)) refuse(path, where + " has dimension " + std::to_string(d));
    if (d && count > (std::uint64_t(1) << 31) / static_cast<std::uint64_t>(d)) refuse(path, where + " is too large");
    count *= static_cast<std::uint64_t>(d);
  }
  const std::uint64_t typed = t.data_type == 1 ? t.floats : t.data_type == 7 ? t.int64s : t.data_type == 11 ? t.doubles : t.int32s;
  const std::uint64_t stray = t.floats + t.int32s + t.int64s + t.doubles + t.strings - typed;
  if (stray || (t.has_raw && typed)) refuse(path, where + " holds data of more than one kind");
  if (t.has_raw ? t.raw_bytes != count * item : typed != count)
    refuse(path, where + " holds " + std::to_string(t.has_raw ? t.raw_bytes / item : typed) + " values for " +
                     std::to_string(count) + " elements");
}

bool in_range(const std::vector<std::int64_t>& v, std::int64_t lo, std::int64_t hi) {
  for (const std::int64_t x : v)
    if (x < lo || x > hi) return false;
  return true;
}

/// Range rules of the ONNX spec for one node's attribute values (positive strides, kernels, ...).
void check_values(const Node& n, const std::map<std::string, const Attribute*>& attrs,
                  const std::map<std::string, const Tensor*>& constants, const std::string& where,
                  const std::string& path) {
  const auto get = [&](const char* name) -> const Attribute* {
    const auto it = attrs.find(name);
    return it == attrs.end() ? nullptr : it->second;
  };
  const auto one_of = [&](const char* name, std::initializer_list<const char*> allowed) {
    const Attribute* a = get(name);
    if (!a) return;
    for (const char* v : allowed)
      if (a->s == v) return;
    refuse(path, where + " attribute '" + name + "' has the unknown value '" + a->s + "'");
  };
  const auto flag = [&](const char* name) {
    if (const Attribute* a = get(name); a && a->i != 0 && a->i != 1)
      refuse(path, where + " attribute '" + name + "' must be 0 or 1");
  };
  const bool conv = n.op_type == "Conv", pool = n.op_type == "AveragePool" || n.op_type == "MaxPool";
  if (conv || pool) {
    one_of("auto_pad", {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"});
    flag("ceil_mode");
    flag("count_include_pad");
    std::vector<std::int64_t> kernel;
    if (const Attribute* k = get("kernel_shape")) kernel = k->ints;
    else if (pool) refuse(path, where + " has no kernel_shape");
    std::size_t spatial = kernel.size();
    if (conv) {
      const auto w = n.inputs.size() > 1 ? constants.find(n.inputs[1]) : constants.end();
      if (w == constants.end()) refuse(path, where + " weight is not a constant of the file");
      const std::vector<std::int64_t>& dims = w->second->dims;
      if (dims.size() < 3 || dims.size() > 5 || (!kernel.empty() && dims.size() != kernel.size() + 2))
        refuse(path, where + " weight has rank " + std::to_string(dims.size()) + " for its kernel");
      if (!in_range(dims, 1, std::int64_t(1) << 31)) refuse(path, where + " weight has an empty dimension");
      if (!kernel.empty() && !std::equal(kernel.begin(), kernel.end(), dims.begin() + 2))
        refuse(path, where + " kernel_shape differs from its weight's shape");
      spatial = dims.size() - 2;
      kernel.assign(dims.begin() + 2, dims.end());
      const Attribute* group = get("group");
      const std::int64_t groups = group ? group->i : 1;
      if (groups < 1 || dims[0] % groups) refuse(path, where + " group " + std::to_string(groups) + " does not divide its output channels");
      if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
        const auto b = constants.find(n.inputs[2]);
        if (b == constants.end() || b->second->dims.size() != 1 || b->second->dims[0] != dims[0])
          refuse(path, where + " bias is not a constant of its output channels");
      }
    }
    if (spatial < 1 || spatial > 3 || !in_range(kernel, 1, 1 << 12)) refuse(path, where + " kernel_shape must hold 1 to 3 positive sizes");
    for (const char* name : {"strides", "dilations"})
      if (const Attribute* a = get(name); a && (a->ints.size() != spatial || !in_range(a->ints, 1, 1 << 12)))
        refuse(path, where + " attribute '" + name + "' must hold " + std::to_string(spatial) + " positive values");
    if (const Attribute* a = get("pads"); a && (a->ints.size() != 2 * spatial || !in_range(a->ints, 0, 1 << 12)))
      refuse(path, where + " attribute 'pads' must hold " + std::to_string(2 * spatial) + " values >= 0");
  } else if (n.op_type == "Concat") {
    const Attribute* axis = get("axis");
    if (!axis || axis->i < -8 || axis->i > 7) refuse(path, where + " needs an axis in [-8, 7]");
  } else if (n.op_type == "Resize") {
    one_of("mode", {"nearest", "linear", "cubic"});
    one_of("coordinate_transformation_mode", {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                              "tf_crop_and_resize", "half_pixel_symmetric"});
    one_of("nearest_mode", {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"});
    flag("exclude_outside");
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const auto s = constants.find(n.inputs[2]);
      if (s != constants.end()) {
        const Tensor& t = *s->second;
        if (t.data_type != 1) refuse(path, where + " scales must be a float tensor");
        for (const float v : t.values)
          if (!std::isfinite(v) || v <= 0.0f || v > 1024.0f) refuse(path, where + " scale " + std::to_string(v) + " out of range");
      }
    }
  } else if (n.op_type == "Pad") {
    one_of("mode", {"constant", "reflect", "edge"});
  } else if (n.op_type == "ReduceMean") {
    flag("keepdims");
  } else if (n.op_type == "Constant") {
    if (attrs.size() != 1) refuse(path, where + " must hold exactly one value");
  }
}

void check_graph(const Graph& g, const std::string& path) {
  if (g.sparse) refuse(path, "sparse initializers are not supported");
  if (g.inputs.empty() || g.outputs.empty() || g.nodes.empty()) refuse(path, "the graph has no inputs, outputs or nodes");
  std::set<std::string> defined;
  std::map<std::string, const Tensor*> constants;
  const auto define = [&](const std::string& name, const std::string& what) {
    if (!valid_utf8(name)) refuse(path, what + " has a name that is not UTF-8");
    if (name.empty()) refuse(path, what + " has an empty name");
    if (!defined.insert(name).second) refuse(path, what + " '" + name + "' is defined twice");
  };
  for (const Tensor& t : g.initializers) {
    define(t.name, "an initializer");
    check_tensor(t, "initializer '" + t.name + "'", path);
    constants[t.name] = &t;
  }
  for (const Value& v : g.inputs) {
    if (constants.count(v.name)) continue;  // an initializer may also be listed as an input
    define(v.name, "a graph input");
    if (v.elem_type != 1 || v.rank != 4) refuse(path, "graph input '" + v.name + "' must be a float tensor of rank 4");
  }
  const auto& ops = schemas();
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (!valid_utf8(n.op_type) || !valid_utf8(n.name) || !valid_utf8(n.domain))
      refuse(path, "node " + std::to_string(k) + " has a name, op type or domain that is not UTF-8");
    const std::string where = "node " + std::to_string(k) + " (" + n.op_type + " '" + n.name + "')";
    if (!n.domain.empty() && n.domain != "ai.onnx") refuse(path, where + " is from the foreign domain '" + n.domain + "'");
    const auto op = ops.find(n.op_type);
    if (op == ops.end()) refuse(path, where + ": op type '" + n.op_type + "' is not one a seqcore export writes");
    const OpSchema& s = op->second;
    if (static_cast<int>(n.inputs.size()) < s.min_inputs || static_cast<int>(n.inputs.size()) > s.max_inputs ||
        static_cast<int>(n.outputs.size()) < s.min_outputs || static_cast<int>(n.outputs.size()) > s.max_outputs)
      refuse(path, where + " has " + std::to_string(n.inputs.size()) + " inputs and " +
                       std::to_string(n.outputs.size()) + " outputs");
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      const std::string& in = n.inputs[i];
      if (!valid_utf8(in)) refuse(path, where + " input " + std::to_string(i) + " has a name that is not UTF-8");
      // ONNX's rules: inputs are defined before use (topological order); only optional ones may be empty
      if (in.empty() ? static_cast<int>(i) < s.min_inputs : !defined.count(in))
        refuse(path, where + " input " + std::to_string(i) + " '" + in + "' is not defined before the node");
    }
    std::map<std::string, const Attribute*> attrs;
    for (const Attribute& a : n.attributes) {
      if (!valid_utf8(a.name) || !valid_utf8(a.s) || !a.text_ok) refuse(path, where + " has an attribute name or text that is not UTF-8");
      const auto known = s.attributes.find(a.name);
      if (known == s.attributes.end()) refuse(path, where + " has the unknown attribute '" + a.name + "'");
      if (!attrs.emplace(a.name, &a).second) refuse(path, where + " has attribute '" + a.name + "' twice");
      static const std::map<int, int> field_of = {{kFloat, 2}, {kInt, 3}, {kString, 4}, {kTensor, 5}, {kFloats, 7}, {kInts, 8}, {kStrings, 9}};
      const int want = field_of.at(known->second);
      if (a.type != known->second) refuse(path, where + " attribute '" + a.name + "' has the wrong type");
      for (const auto& [field, times] : a.present)
        if (field != want || (times > 1 && want != 7 && want != 8 && want != 9))
          refuse(path, where + " attribute '" + a.name + "' holds values of more than one kind");
      if (want == 2 && !std::isfinite(a.f)) refuse(path, where + " attribute '" + a.name + "' is not finite");
      for (std::size_t t = 0; t < a.tensors.size(); ++t) check_tensor(a.tensors[t], where + " attribute '" + a.name + "'", path);
      if (known->second == kTensor && a.tensors.size() == 1) constants[n.outputs[0]] = &a.tensors[0];
    }
    check_values(n, attrs, constants, where, path);
    for (std::size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i].empty() && i > 0) continue;  // an omitted optional output
      define(n.outputs[i], where + " output " + std::to_string(i));
    }
  }
  for (const Value& v : g.outputs) {
    if (!valid_utf8(v.name) || !defined.count(v.name)) refuse(path, "graph output '" + v.name + "' is not defined by any node");
    if (v.elem_type != 1) refuse(path, "graph output '" + v.name + "' is not a float tensor");
  }
}

}  // namespace

std::vector<unsigned char> check_onnx_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw ExportError("ONNX file " + path + " cannot be opened");
  const std::streamoff size = in.tellg();
  if (size <= 0 || size > (std::streamoff(1) << 31)) refuse(path, "empty or over protobuf's 2 GiB limit");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) throw ExportError("ONNX file " + path + " cannot be read");
  try {
    Wire w(bytes.data(), bytes.data() + bytes.size());
    std::int64_t ir_version = 0, opset = 0;
    int graphs = 0;
    Graph graph;
    while (!w.done()) {
      const auto [field, type] = w.tag();
      if (field == 1 && type == 0) {
        ir_version = static_cast<std::int64_t>(w.varint());
      } else if (field == 7 && type == 2) {
        if (++graphs > 1) refuse(path, "the model holds two graphs");
        graph = read_graph(w.bytes());
      } else if (field == 8 && type == 2) {  // OperatorSetIdProto
        std::string domain;
        std::int64_t version = 0;
        for (Wire o = w.bytes(); !o.done();) {
          const auto [f, t] = o.tag();
          if (f == 1 && t == 2) domain = o.bytes().text();
          else if (f == 2 && t == 0) version = static_cast<std::int64_t>(o.varint());
          else o.skip(t);
        }
        if (domain.empty() || domain == "ai.onnx") opset = version;
      } else {
        w.skip(type);
      }
    }
    if (ir_version < 3 || ir_version > 12) refuse(path, "IR version " + std::to_string(ir_version) + " (3 to 12 expected)");
    if (opset < 7 || opset > 23) refuse(path, "opset " + std::to_string(opset) + " of the default domain (7 to 23 expected)");
    if (!graphs) refuse(path, "the model holds no graph");
    check_graph(graph, path);
    return bytes;
  } catch (const ExportError&) {
    throw;
  } catch (const std::exception& e) {  // framing errors of Wire, allocation failures
    refuse(path, std::string("broken protobuf encoding (") + e.what() + ")");
  }
}

}  // namespace seqcore
