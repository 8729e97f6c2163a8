// SPDX-License-Identifier: Apache-2.0
// Reshape, and the shape subgraph PyTorch writes for x.view(x.size(0), -1):
//   Shape(x) -> Gather(0) -> Unsqueeze(0) -> Concat(., [-1]) -> Reshape(x, .)
// (opsets 11-12 give Unsqueeze its axes as an attribute, 13 on as an input; some exports add Cast,
// Squeeze or Slice). These nodes compute on a tensor's shape, not its values: they are evaluated
// here symbolically (ShapeValue: known sizes, the batch size, or unknown) beside the chain, whose
// tensor stays current_, and only a Reshape's target may read them. A Reshape that keeps
// (batch, features) is a Flatten; every entry of a target is checked before it is converted.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "host/onnx/importer.hpp"

namespace nnproof::onnx_detail {
namespace {

std::string dim_str(const ShapeDim& d) {
  if (d.kind == ShapeDim::Kind::batch) return "batch";
  if (d.kind == ShapeDim::Kind::unknown) return "?";
  return std::to_string(d.value);
}

std::string shape_value_str(const ShapeValue& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.dims.size(); ++i) s += (i ? ", " : "") + dim_str(v.dims[i]);
  return s + ")";
}

// ONNX's index rules for Gather and Slice on a 1-D value of `size` entries.
std::int64_t wrap(std::int64_t i, std::size_t size) { return i < 0 ? i + static_cast<std::int64_t>(size) : i; }

}  // namespace

bool Importer::is_shape_op(const std::string& op) {
  return op == "Shape" || op == "Gather" || op == "Unsqueeze" || op == "Squeeze" || op == "Concat" || op == "Cast" ||
         op == "Slice";
}

// A shape op's output becomes a ShapeValue; the chain's tensor does not move.
void Importer::on_shape_op(const onnx::NodeProto& n) {
  if (n.output_size() != 1 || n.output(0).empty())
    fail_node(n, "must have one output", "the model does not follow the ONNX spec; re-export it");
  if (n.op_type() != "Shape")
    for (const auto& in : n.input())
      if (in == current_)
        fail_node(n, "applies " + printable(n.op_type()) + " to the activation, which is not supported",
                  "nnproof reads " + printable(n.op_type()) + " only in the shape computation of a Reshape");
  ShapeValue v = eval_shape_op(n);
  if (v.dims.size() > kMaxShapeEntries) fail_node(n, "builds a shape of more than 64 entries", "re-export the model");
  const std::string& out = n.output(0);
  if (produced_.count(out) || constants_.count(out))
    fail_node(n, "writes " + in_quotes(out) + ", which already exists",
              "ONNX tensors are assigned once; re-export the model");
  produced_.insert(out);
  shapes_[out] = std::move(v);
}

// Input k of a shape op or Reshape: an earlier shape value, or a constant of integers.
ShapeValue Importer::shape_input(const onnx::NodeProto& n, int k) const {
  if (k >= n.input_size() || n.input(k).empty()) fail_node(n, "lacks input " + std::to_string(k + 1));
  const std::string& in = n.input(k);
  if (auto it = shapes_.find(in); it != shapes_.end()) return it->second;
  const auto c = constants_.find(in);
  if (c == constants_.end()) {
    if (in == current_ || produced_.count(in))
      fail_node(n, "reads " + in_quotes(in) + " as a shape, but it is computed from the activation's values",
                "compute the shape with Shape / Gather / Concat or a constant");
    fail_node(n, "input " + in_quotes(in) + " is not an initializer and no earlier node produces it",
              "the model is missing a tensor or its nodes are not in topological order; re-export it");
  }
  std::vector<std::int64_t> ints;
  const Tensor t = load_ints(*c->second, ints);
  if (t.rank() > 1) fail_node(n, "reads " + in_quotes(in) + " of rank " + std::to_string(t.rank()) + " as a shape");
  ShapeValue v;
  v.scalar = t.rank() == 0;
  for (std::int64_t x : ints) v.dims.push_back({ShapeDim::Kind::value, x});
  return v;
}

// Integers from input `input` (opset 13 on) or else attribute `attr_name` (before); empty if neither.
std::vector<std::int64_t> Importer::int_list(const onnx::NodeProto& n, int input, const std::string& attr_name) const {
  if (input < n.input_size() && !n.input(input).empty()) {
    std::vector<std::int64_t> out;
    for (const ShapeDim& d : shape_input(n, input).dims) {
      if (d.kind != ShapeDim::Kind::value) fail_node(n, "input " + std::to_string(input + 1) + " is not constant");
      out.push_back(d.value);
    }
    return out;
  }
  return attr_ints(n, attr_name, {});
}

ShapeValue Importer::eval_shape_op(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  const std::string fix = "nnproof follows the shape computation of x.view(x.size(0), -1) only; use torch.flatten";
  if (op == "Shape") {
    expect_arity(n, 1, 1);
    if (n.input(0) != current_)
      fail_node(n, "reads " + in_quotes(n.input(0)) + ", not the chain's current tensor " + in_quotes(current_),
                "the graph must be a single chain of layers from input to output");
    ShapeValue full;
    full.dims.push_back({ShapeDim::Kind::batch, 0});
    if (const auto dims = sample_dims()) {
      for (std::size_t d : *dims) full.dims.push_back({ShapeDim::Kind::value, static_cast<std::int64_t>(d)});
    } else if (flat_) {
      full.dims.push_back({ShapeDim::Kind::unknown, 0});
    } else {
      fail_node(n, "reads a tensor of unknown rank", "export the model with a static input shape");
    }
    const std::size_t rank = full.dims.size();  // opset 15's start / end slice the shape
    const auto clamp = [&](std::int64_t i) {
      return static_cast<std::size_t>(std::clamp<std::int64_t>(wrap(i, rank), 0, static_cast<std::int64_t>(rank)));
    };
    const std::size_t start = clamp(attr_int(n, "start", 0)), end = clamp(attr_int(n, "end", rank));
    ShapeValue v;
    for (std::size_t i = start; i < end; ++i) v.dims.push_back(full.dims[i]);
    return v;
  }
  if (op == "Gather") {
    expect_arity(n, 2, 2);
    const ShapeValue data = shape_input(n, 0), indices = shape_input(n, 1);
    if (data.scalar || (attr_int(n, "axis", 0) != 0 && attr_int(n, "axis", 0) != -1))
      fail_node(n, "gathers from a value that is not 1-D", fix);
    ShapeValue v;
    v.scalar = indices.scalar;
    for (const ShapeDim& i : indices.dims) {
      const std::int64_t k = i.kind == ShapeDim::Kind::value ? wrap(i.value, data.dims.size()) : -1;
      if (k < 0 || static_cast<std::size_t>(k) >= data.dims.size())
        fail_node(n, "index " + dim_str(i) + " is out of range for " + shape_value_str(data), "re-export the model");
      v.dims.push_back(data.dims[static_cast<std::size_t>(k)]);
    }
    return v;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    expect_arity(n, 1, 2);
    ShapeValue v = shape_input(n, 0);
    const auto axes = int_list(n, 1, "axes");
    const bool axis_zero = axes == std::vector<std::int64_t>{0} || axes == std::vector<std::int64_t>{-1};
    if (op == "Unsqueeze" ? !(v.scalar && axis_zero) : (v.scalar || v.dims.size() != 1 || !(axis_zero || axes.empty())))
      fail_node(n, "does not turn a scalar into a 1-D value or back", fix);
    v.scalar = op == "Squeeze";
    return v;
  }
  if (op == "Concat") {
    if (n.input_size() < 1) fail_node(n, "has no inputs", "re-export the model");
    const std::int64_t axis = attr_int(n, "axis", 0);
    if (axis != 0 && axis != -1) fail_node(n, "axis=" + std::to_string(axis) + " on 1-D values", fix);
    ShapeValue v;
    for (int k = 0; k < n.input_size(); ++k) {
      const ShapeValue part = shape_input(n, k);
      if (part.scalar) fail_node(n, "concatenates a scalar", "re-export the model");
      if (v.dims.size() + part.dims.size() > kMaxShapeEntries)
        fail_node(n, "builds a shape of more than 64 entries", "re-export the model");
      v.dims.insert(v.dims.end(), part.dims.begin(), part.dims.end());
    }
    return v;
  }
  if (op == "Cast") {
    expect_arity(n, 1, 1);
    const std::int64_t to = attr_int(n, "to", 0);
    if (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::INT32)
      fail_node(n, "casts a shape to a type other than int64 or int32", fix);
    return shape_input(n, 0);
  }
  // Slice: before opset 10 starts / ends / axes were attributes; steps must be 1.
  expect_arity(n, 1, 5);
  const ShapeValue data = shape_input(n, 0);
  const auto starts = int_list(n, 1, "starts"), ends = int_list(n, 2, "ends"), axes = int_list(n, 3, "axes"),
             steps = int_list(n, 4, "steps");
  if (data.scalar || starts.size() != 1 || ends.size() != 1 ||
      !(axes.empty() || axes == std::vector<std::int64_t>{0}) ||
      !(steps.empty() || steps == std::vector<std::int64_t>{1}))
    fail_node(n, "is not a slice of a 1-D value with step 1", fix);
  const auto size = static_cast<std::int64_t>(data.dims.size());
  const auto clamp = [&](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + size : i, 0, size); };
  ShapeValue v;
  for (std::int64_t i = clamp(starts[0]); i < clamp(ends[0]); ++i)
    v.dims.push_back(data.dims[static_cast<std::size_t>(i)]);
  return v;
}

// Allowed only when the result is (batch, features): a target (b, f) whose b is the batch (the
// batch from Shape, -1, 0 meaning "copy", or a positive size: the batch the model was exported
// with, as a constant-folded x.view(x.size(0), -1) writes it) and whose f is -1, 0 on a flat
// tensor, or the feature count.
void Importer::on_reshape(const onnx::NodeProto& n) {
  expect_arity(n, 2, 2);
  if (n.input(0) != current_) fail_node(n, "reshapes a constant by a computed shape", "fold constants before export");
  const ShapeValue target = shape_input(n, 1);
  const bool allow_zero = attr_int(n, "allowzero", 0) != 0;  // then 0 means size 0, not "copy"
  const std::string fix = "reshape to (-1, features) or (batch, -1), or use Flatten";
  if (target.scalar || target.dims.size() != 2)
    fail_node(n,
              "target shape " + shape_value_str(target) + " of " + std::to_string(target.dims.size()) +
                  " dims does not keep (batch, features)",
              fix);
  for (const ShapeDim& d : target.dims)  // before any value is converted or compared
    if (d.kind == ShapeDim::Kind::value && (d.value < -1 || d.value > static_cast<std::int64_t>(kMaxFeatures)))
      fail_node(n, "target shape " + shape_value_str(target) + " holds " + dim_str(d) + ", not a size", fix);
  const ShapeDim b = target.dims[0], f = target.dims[1];
  const auto is = [](const ShapeDim& d, std::int64_t v) { return d.kind == ShapeDim::Kind::value && d.value == v; };
  const bool copy_b = is(b, 0) && !allow_zero, copy_f = is(f, 0) && !allow_zero;
  const bool batch =
      b.kind == ShapeDim::Kind::batch || is(b, -1) || copy_b || (b.kind == ShapeDim::Kind::value && b.value >= 1);
  if (!batch || (is(b, -1) && is(f, -1)) || (b.kind == ShapeDim::Kind::value && b.value >= 1 && copy_f))
    fail_node(n, "target shape " + shape_value_str(target) + " does not keep the batch dimension", fix);
  if (is(f, -1)) {
    // all of a sample's features
  } else if (copy_f) {
    if (!flat_) fail_node(n, "target shape (0, 0) keeps only the second of several feature dims", fix);
  } else if (f.kind == ShapeDim::Kind::value && f.value >= 1) {
    const auto features = static_cast<std::size_t>(f.value);  // 1 <= f <= 2^26, checked above
    if (width_ && *width_ != features)
      fail_node(n, "reshapes " + std::to_string(*width_) + " features per sample into " + std::to_string(features),
                fix);
    width_ = features;
  } else {
    fail_node(n, "target shape " + shape_value_str(target) + " has no valid feature count", fix);
  }
  flat_ = true;
}

}  // namespace nnproof::onnx_detail
