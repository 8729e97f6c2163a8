// SPDX-License-Identifier: Apache-2.0
// Constants (initializers and Constant node values) decoded into doubles, trusting nothing in the
// file: the shape is bounded before use and compared with the data actually present before
// anything is allocated, and every value must be finite (and, for integers, exact in a double).
#include <onnx/onnx_pb.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

#include "host/onnx/importer.hpp"

namespace nnproof::onnx_detail {
namespace {

// raw_data is little-endian by the ONNX spec, whatever the host is.
template <class U>
U load_le(const char* p) {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Bytes per element in raw_data for the element types we read; 0 for the others.
std::size_t element_size(int type) {
  switch (type) {
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
      return 1;
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
      return 2;
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
      return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
      return 8;
    default:
      return 0;
  }
}

bool is_integer_type(int type) { return type != onnx::TensorProto::FLOAT && type != onnx::TensorProto::DOUBLE; }

// raw_data of `count` elements of `type` (screened by element_size()) as doubles: one loop per
// type, so that the compiler turns each into plain loads and conversions (a switch per element
// was ~10% of loading a 12M-weight model).
template <class T, class U>
void decode_as(const char* p, std::size_t count, double* out) {
  for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<double>(std::bit_cast<T>(load_le<U>(p + i * sizeof(U))));
}

void decode_raw(int type, const char* p, std::size_t count, double* out) {
  switch (type) {
    case onnx::TensorProto::INT8:
      return decode_as<std::int8_t, std::uint8_t>(p, count, out);
    case onnx::TensorProto::UINT8:
      return decode_as<std::uint8_t, std::uint8_t>(p, count, out);
    case onnx::TensorProto::INT16:
      return decode_as<std::int16_t, std::uint16_t>(p, count, out);
    case onnx::TensorProto::UINT16:
      return decode_as<std::uint16_t, std::uint16_t>(p, count, out);
    case onnx::TensorProto::FLOAT:
      return decode_as<float, std::uint32_t>(p, count, out);
    case onnx::TensorProto::INT32:
      return decode_as<std::int32_t, std::uint32_t>(p, count, out);
    case onnx::TensorProto::DOUBLE:
      return decode_as<double, std::uint64_t>(p, count, out);
    case onnx::TensorProto::INT64:
      return decode_as<std::int64_t, std::uint64_t>(p, count, out);
    default:
      return;  // unreachable: element_size() screened the type
  }
}

std::string type_name(int type) {
  std::string name = onnx::TensorProto_DataType_Name(type);
  if (!name.empty()) return name;
  name = std::to_string(type);  // (not "#" + ...: GCC 12 -Wrestrict false positive at -O3)
  name.insert(name.begin(), '#');
  return name;
}

}  // namespace

// Reads an initializer or a Constant node's value: the dims product is bounded before use.
Tensor Importer::load(const onnx::TensorProto& t) const {
  const std::string what = "tensor " + in_quotes(t.name());
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    fail(what + " is stored outside the file (external data)",
         "save the model as one file: onnx.save_model(model, path, save_as_external_data=False)");
  const int type = t.data_type();
  if (element_size(type) == 0)
    fail(what + " has element type " + type_name(type), "store weights as float32, float64 or integers");
  Tensor out;
  std::uint64_t count = 1;
  for (auto d : t.dims()) {
    if (d < 0) fail(what + " has a negative dimension", "the file is corrupt; re-export it");
    if (static_cast<std::uint64_t>(d) > kMaxElements || (count *= d) > kMaxElements)
      fail(what + " has more than 2^31 elements", "nnproof refuses tensors this large");
    out.dims.push_back(static_cast<std::size_t>(d));
  }
  load_values(t, what, count, out);
  check_values(what, type, out.values);
  return out;
}

// The values from raw_data or the typed field the element type uses, after checking that the file
// holds exactly `count` of them (so a hostile shape cannot make us allocate more than is there).
void Importer::load_values(const onnx::TensorProto& t, const std::string& what, std::uint64_t count,
                           Tensor& out) const {
  const int type = t.data_type();
  auto check_count = [&](std::size_t have) {
    if (have != count)
      fail(what + " holds " + std::to_string(have) + " values but its shape " + shape_str(out.dims) + " needs " +
               std::to_string(count),
           "the file is corrupt; re-export it");
  };
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    const std::size_t es = element_size(type);
    if (raw.size() != count * es)
      fail(what + " holds " + std::to_string(raw.size()) + " bytes of data but its shape " + shape_str(out.dims) +
               " needs " + std::to_string(count * es),
           "the file is corrupt; re-export it");
    out.values.resize(count);
    decode_raw(type, raw.data(), count, out.values.data());
  } else if (type == onnx::TensorProto::FLOAT) {
    check_count(t.float_data_size());
    out.values.assign(t.float_data().begin(), t.float_data().end());
  } else if (type == onnx::TensorProto::DOUBLE) {
    check_count(t.double_data_size());
    out.values.assign(t.double_data().begin(), t.double_data().end());
  } else if (type == onnx::TensorProto::INT64) {
    check_count(t.int64_data_size());
    out.values.assign(t.int64_data().begin(), t.int64_data().end());
  } else {  // INT8, UINT8, INT16, UINT16, INT32 all live in int32_data
    check_count(t.int32_data_size());
    out.values.assign(t.int32_data().begin(), t.int32_data().end());
  }
}

// Quantization needs finite weights, and integers beyond 2^53 would not be the file's values.
void Importer::check_values(const std::string& what, int type, const std::vector<double>& values) const {
  for (double v : values) {
    if (!std::isfinite(v)) fail(what + " holds NaN or infinity", "fix the trained weights");
    if (is_integer_type(type) && std::fabs(v) > kMaxExactInteger)
      fail(what + " holds an integer beyond 2^53", "nnproof reads weights as doubles; scale the weights down");
  }
}

// A small int64 / int32 constant read exactly (a shape, pads, axes, Slice bounds): not through
// doubles, since PyTorch writes INT64_MAX for "to the end" and check_values refuses integers past 2^53.
Tensor Importer::load_ints(const onnx::TensorProto& t, std::vector<std::int64_t>& ints) const {
  const std::string what = "tensor " + in_quotes(t.name());
  const int type = t.data_type();
  if (type != onnx::TensorProto::INT64 && type != onnx::TensorProto::INT32)
    fail(what + " has element type " + type_name(type) + " where ONNX asks for int64", "re-export the model");
  Tensor out;
  std::uint64_t count = 1;
  for (auto d : t.dims()) {
    if (d < 0 || static_cast<std::uint64_t>(d) > kMaxShapeEntries ||
        (count *= static_cast<std::uint64_t>(d)) > kMaxShapeEntries)
      fail(what + " has more than " + std::to_string(kMaxShapeEntries) + " entries, too many for a shape",
           "re-export the model");
    out.dims.push_back(static_cast<std::size_t>(d));
  }
  const std::size_t width = type == onnx::TensorProto::INT64 ? 8 : 4;
  ints.clear();
  if (t.has_raw_data()) {
    if (t.raw_data().size() != count * width)
      fail(what + " holds " + std::to_string(t.raw_data().size()) + " bytes of data but its shape " +
               shape_str(out.dims) + " needs " + std::to_string(count * width),
           "the file is corrupt; re-export it");
    for (std::size_t i = 0; i < count; ++i) {
      const char* p = t.raw_data().data() + i * width;
      ints.push_back(width == 8 ? std::bit_cast<std::int64_t>(load_le<std::uint64_t>(p))
                                : std::int64_t{std::bit_cast<std::int32_t>(load_le<std::uint32_t>(p))});
    }
  } else if (type == onnx::TensorProto::INT64) {
    ints.assign(t.int64_data().begin(), t.int64_data().end());
  } else {
    ints.assign(t.int32_data().begin(), t.int32_data().end());
  }
  if (ints.size() != count)
    fail(what + " holds " + std::to_string(ints.size()) + " values but its shape " + shape_str(out.dims) + " needs " +
             std::to_string(count),
         "the file is corrupt; re-export it");
  return out;
}

}  // namespace nnproof::onnx_detail
