// SPDX-License-Identifier: Apache-2.0
// What the model says before its first node (Importer::run reads it first): the default domain's
// opset, the metadata `nnproof quantize` writes (scales, field, calibration range, exact biases),
// and the graph's one data input and one output, with the input's declared shape.
#include <onnx/onnx_pb.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "host/onnx/importer.hpp"

namespace nnproof {
namespace onnx_detail {

// Without an entry for the default domain opset 13 stands; Softmax's default axis depends on it.
void Importer::read_opset() {
  for (const auto& o : model_.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
}

// The scales `nnproof quantize` stores in the file (write_onnx_with_scales), when present.
void Importer::read_metadata() {
  for (const auto& p : model_.metadata_props()) {
    if (p.key() == "nnproof.alpha") out_.alpha = parse_scale(p.key(), p.value());
    if (p.key() == "nnproof.beta") out_.beta = parse_scale(p.key(), p.value());
    if (p.key() == kFieldKey) out_.field = parse_field(p.value());
    if (p.key() == kInputRangeKey) out_.input_range = parse_input_range(p.value());
    if (p.key().starts_with(kExactBiasKey)) read_exact_bias(p.key(), p.value());
  }
}

// "nnproof.bias.<i>" = "<B_1>,<B_2>,...": layer i's exact biases (write_quantized_onnx), each an
// integer below 2^126 in magnitude as the quantizer's biases are. Their count is checked against
// the layer by the quantizer, which knows the layers.
void Importer::read_exact_bias(const std::string& key, const std::string& value) {
  auto bad = [&](const std::string& why) -> void {
    fail("metadata " + printable(key) + " " + why, "remove the entry or write the model again with nnproof");
  };
  const std::string index = key.substr(std::string(kExactBiasKey).size());
  std::size_t layer = 0;
  const auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), layer);
  if (index.empty() || ec != std::errc{} || end != index.data() + index.size() || layer == 0 || layer > kMaxElements)
    bad("does not name a layer (nnproof.bias.1, nnproof.bias.2, ...)");
  std::vector<i128> values;
  const u128 limit = u128{1} << 126;
  std::size_t i = 0;
  while (i <= value.size()) {
    if (values.size() >= kMaxElements) bad("holds too many values");
    const bool negative = i < value.size() && value[i] == '-';
    std::size_t k = i + (negative ? 1 : 0);
    u128 m = 0;
    const std::size_t digits_from = k;
    for (; k < value.size() && value[k] >= '0' && value[k] <= '9'; ++k) {
      m = m * 10 + static_cast<unsigned>(value[k] - '0');
      if (m >= limit) bad("holds an integer of 2^126 or more");
    }
    if (k == digits_from || (k < value.size() && value[k] != ',')) bad("is not a comma-separated list of integers");
    values.push_back(negative ? -static_cast<i128>(m) : static_cast<i128>(m));
    i = k + 1;
  }
  out_.exact_biases[layer] = std::move(values);
}

// nnproof.field: the field of proof files `nnproof quantize` chose for the model.
FieldId Importer::parse_field(const std::string& value) const {
  for (FieldId id : {FieldId::m61, FieldId::m127})
    if (value == field_name(id)) return id;
  fail(std::string("metadata ") + kFieldKey + " = " + in_quotes(value) + " is not a proof field",
       "set it to \"m61\" or \"m127\", or remove it");
}

// nnproof.input_range = "<lo>,<hi>": the smallest and largest calibration input (written by
// `nnproof quantize`), for the warning about inputs far outside it.
InputRange Importer::parse_input_range(const std::string& value) const {
  InputRange r;
  const char* end = value.data() + value.size();
  const auto comma = value.find(',');
  const char* mid = value.data() + (comma == std::string::npos ? value.size() : comma);
  const auto [lo_end, lo_ec] = std::from_chars(value.data(), mid, r.lo);
  const auto [hi_end, hi_ec] = comma == std::string::npos ? std::from_chars_result{mid, std::errc::invalid_argument}
                                                          : std::from_chars(mid + 1, end, r.hi);
  if (lo_ec != std::errc{} || lo_end != mid || hi_ec != std::errc{} || hi_end != end || !std::isfinite(r.lo) ||
      !std::isfinite(r.hi) || r.lo > r.hi)
    fail(std::string("metadata ") + kInputRangeKey + " = " + in_quotes(value) + " is not a range \"lo,hi\"",
         "set it to the calibration inputs' smallest and largest value, e.g. \"0,1\", or remove it");
  return r;
}

double Importer::parse_scale(const std::string& key, const std::string& value) const {
  double v = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, v);
  if (value.empty() || ec != std::errc{} || ptr != end || !std::isfinite(v) || v <= 0)
    fail("metadata " + key + " = " + in_quotes(value) + " is not a finite positive number",
         "set it to the quantization scale, e.g. \"16\"");
  return v;
}

void Importer::find_input_and_output() {
  const auto& g = model_.graph();
  for (const auto& t : g.initializer()) constants_[t.name()] = &t;
  std::vector<const onnx::ValueInfoProto*> inputs;  // inputs that are initializers are weights, not data
  for (const auto& in : g.input())
    if (!constants_.count(in.name())) inputs.push_back(&in);
  if (inputs.empty())
    fail("the graph has no input (every graph input is an initializer)", "export the model with a data input");
  if (inputs.size() > 1) {
    std::string names;
    for (const auto* in : inputs) names += (names.empty() ? "" : ", ") + in_quotes(in->name());
    fail("the graph has " + std::to_string(inputs.size()) + " inputs (" + names + ")",
         "nnproof proves networks with one input tensor");
  }
  if (g.output_size() != 1)
    fail("the graph has " + std::to_string(g.output_size()) + " outputs", "export a model with exactly one output");
  input_name_ = current_ = inputs[0]->name();
  output_name_ = g.output(0).name();
  produced_.insert(input_name_);
  read_input_shape(*inputs[0]);
}

// Learns the feature count from the declared input shape when it is static, so that the first
// layer's width is checked too; a missing shape just leaves it unchecked.
void Importer::read_input_shape(const onnx::ValueInfoProto& v) {
  if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
  const auto& shape = v.type().tensor_type().shape();
  if (shape.dim_size() < 2)
    fail("input " + in_quotes(v.name()) + " has rank " + std::to_string(shape.dim_size()) +
             ", expected (batch, features)",
         "export with a batch dimension");
  flat_ = shape.dim_size() == 2;
  std::uint64_t w = 1;
  std::vector<std::size_t> dims;
  for (int i = 1; i < shape.dim_size(); ++i) {
    const auto& d = shape.dim(i);
    if (!d.has_dim_value() || d.dim_value() <= 0) return;
    if (static_cast<std::uint64_t>(d.dim_value()) > kMaxElements || (w *= d.dim_value()) > kMaxElements)
      fail("input " + in_quotes(v.name()) + " has more than 2^31 features per sample",
           "nnproof refuses inputs this large");
    dims.push_back(static_cast<std::size_t>(d.dim_value()));
  }
  width_ = w;
  out_.input_shape = dims;
  if (dims.size() == 3) chw_ = std::array<std::size_t, 3>{dims[0], dims[1], dims[2]};
}

}  // namespace onnx_detail
}  // namespace nnproof
