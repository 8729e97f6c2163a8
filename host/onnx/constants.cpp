// SPDX-License-Identifier: Apache-2.0
// Ops on constants only, evaluated at import into new constants. torch.onnx.export leaves them in
// the graph when constant folding is off (do_constant_folding=False) or does not reach them:
//   x ** 2          Constant(2) -> Cast(to=FLOAT) -> Pow(x, .)          (opsets 9-12)
//   nn.Linear(bias=False)   Transpose(weight) -> MatMul(x, .)
// A Cast to a float type and a Transpose whose input is a constant are folded; every other op that
// reads only constants is still refused by the walk ("a constant subgraph"). Casts to integer
// types stay with the shape computation (shapes.cpp), which reads integers exactly.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "host/onnx/importer.hpp"

namespace nnproof::onnx_detail {
namespace {

constexpr std::uint64_t kFoldSlack = 1 << 16;

bool is_float_type(std::int64_t type) { return type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE; }

// A permutation of 0..rank-1, or empty.
bool is_permutation(const std::vector<std::int64_t>& perm, std::size_t rank) {
  if (perm.size() != rank) return false;
  std::vector<bool> seen(rank, false);
  for (std::int64_t p : perm) {
    if (p < 0 || static_cast<std::size_t>(p) >= rank || seen[static_cast<std::size_t>(p)]) return false;
    seen[static_cast<std::size_t>(p)] = true;
  }
  return true;
}

// ONNX Transpose: output dim i is input dim perm[i]. One pass over the output in row-major order,
// carrying the input offset with an odometer over the output's multi-index.
Tensor transpose(const Tensor& in, const std::vector<std::int64_t>& perm) {
  const std::size_t rank = in.rank();
  std::vector<std::size_t> in_stride(rank, 1);
  for (std::size_t i = rank; i-- > 1;) in_stride[i - 1] = in_stride[i] * in.dims[i];
  Tensor out;
  std::vector<std::size_t> stride(rank);  // the input stride of each output dim
  for (std::size_t i = 0; i < rank; ++i) {
    out.dims.push_back(in.dims[static_cast<std::size_t>(perm[i])]);
    stride[i] = in_stride[static_cast<std::size_t>(perm[i])];
  }
  out.values.resize(in.values.size());
  std::vector<std::size_t> index(rank, 0);
  std::size_t offset = 0;
  for (double& v : out.values) {
    v = in.values[offset];
    for (std::size_t i = rank; i-- > 0;) {  // the odometer: the last dim moves fastest
      offset += stride[i];
      if (++index[i] < out.dims[i]) break;
      offset -= stride[i] * out.dims[i];
      index[i] = 0;
    }
  }
  return out;
}

}  // namespace

bool Importer::fold_constant_op(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if ((op != "Cast" && op != "Transpose") || n.input_size() != 1 || !constants_.count(n.input(0))) return false;
  if (op == "Cast" && !is_float_type(attr_int(n, "to", 0))) return false;  // integers: the shape computation's
  if (n.output_size() != 1 || n.output(0).empty()) fail_node(n, "has no output", "re-export the model");
  const std::string& out = n.output(0);
  if (produced_.count(out) || constants_.count(out))
    fail_node(n, "writes " + in_quotes(out) + ", which already exists",
              "ONNX tensors are assigned once; re-export the model");
  Tensor t = constant_input(n, 0);  // bounded, checked and finite (tensors.cpp)
  // Each fold keeps a copy, so many folds of one weight could hold far more than the file: all the
  // folds of a model together may hold at most one element per byte of the file (a float32 weight
  // can be folded about four times), plus a little for scalars. Each element is a double (8 bytes,
  // ~16 while the Tensor and its protobuf copy coexist): a bounded multiple of the file's size.
  if (!fold_budget_) fold_budget_ = static_cast<std::uint64_t>(model_.ByteSizeLong()) + kFoldSlack;
  if ((folded_elements_ += t.values.size()) > *fold_budget_)
    fail_node(n,
              "folds more constant data than the file holds (" + std::to_string(folded_elements_) +
                  " elements, the limit is one per byte of the model)",
              "fold constants before export: torch.onnx.export(..., do_constant_folding=True) or onnxsim");
  if (op == "Cast") {
    if (attr_int(n, "to", 0) == onnx::TensorProto::FLOAT)
      for (double& v : t.values) {
        v = static_cast<double>(static_cast<float>(v));  // what the cast computes: float32 rounding
        if (!std::isfinite(v))
          fail_node(n, "casts " + in_quotes(n.input(0)) + " to float32, which overflows it", "re-export the model");
      }
  } else {
    std::vector<std::int64_t> perm;
    for (std::size_t i = t.rank(); i-- > 0;) perm.push_back(static_cast<std::int64_t>(i));  // default: reversed
    perm = attr_ints(n, "perm", perm);
    if (!is_permutation(perm, t.rank()))
      fail_node(n, "perm is not a permutation of the " + std::to_string(t.rank()) + " axes of " + in_quotes(n.input(0)),
                "re-export the model");
    t = transpose(t, perm);
  }
  // The value as a DOUBLE constant: exact for every value load() returns.
  onnx::TensorProto folded;
  folded.set_name(out);
  folded.set_data_type(onnx::TensorProto::DOUBLE);
  for (std::size_t d : t.dims) folded.add_dims(static_cast<std::int64_t>(d));
  folded.mutable_double_data()->Add(t.values.begin(), t.values.end());
  owned_.push_back(std::move(folded));
  constants_[out] = &owned_.back();
  return true;
}

}  // namespace nnproof::onnx_detail
