// SPDX-License-Identifier: Apache-2.0
#pragma once
// ONNX import: reads a quadratic network into float layers, before quantization. The graph is one
// chain of affine layers with a square activation, Mul(x, x) or Pow(x, 2), between consecutive
// ones. A layer is a chain of linear ops plus a bias: fully connected (MatMul, Gemm), 2-D
// convolutions (Conv, with strides, pads and groups) and sum pooling (AveragePool and
// GlobalAveragePool, whose 1/k^2 is folded into the scale, or a Conv with a ones kernel); Flatten
// and Reshape to (batch, features), Identity, Dropout and Constant nodes pass through, and a final
// Softmax / LogSoftmax is recorded for the verifier to apply. A zero Pad, BatchNormalization and
// Add / Sub / Mul / Div by constants fold into the neighbouring linear op, and shape computations
// (Shape, Gather, Unsqueeze, Concat, ...) are evaluated for a Reshape's target
// (docs/ARCHITECTURE.md, "Import folds"). Anything nnproof cannot prove is
// refused with one line that names the file, the node and, where one exists, the fix. The code is
// in host/onnx/ (importer.hpp says which file does what).
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// A model nnproof cannot import. what() is ONE line: "<path>: <problem>; <fix>" naming the node when
// there is one, e.g.
// "m.onnx: node 'relu1' (Relu): Relu is not an arithmetic circuit; use a quadratic activation x*x".
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One linear operator in float, before quantization: a dense matrix or a convolution kernel, in
// LinearOp's layouts (verifier/linear_op.hpp).
struct FloatOp {
  LinearOp::Kind kind = LinearOp::Kind::dense;
  std::size_t rows = 0, cols = 0;
  ConvShape conv;               // kind == conv only
  std::vector<double> weights;  // dense: rows x cols row-major; conv: the kernel
  // Sum pooling: integer weights (ones) kept as they are at any scale, so the pool is exact. The
  // float map is `factor` times them (1/k^2 for AveragePool, 1 for a Conv with a ones kernel), and
  // quantization folds 1/factor into the next scale (PROTOCOL.md section 7).
  bool exact = false;
  double factor = 1;
};

// An affine layer: a square activation sits between consecutive layers. Chains of fully connected
// maps with nothing between them are multiplied out into one dense matrix when no partial product
// is larger than the maps together; other chains (a convolution or a pool in them, or a large
// partial product) stay a chain of ops (never a dense matrix).
struct FloatLayer {
  std::string name;                // the first linear node's name (or "layer i"), for messages
  std::size_t rows = 0, cols = 0;  // W is rows x cols = n_i x n_{i-1} (output x input features)
  std::vector<double> weights;     // dense layers: row-major rows x cols
  std::vector<double> bias;        // rows entries, zeros when the model has no bias
  std::vector<FloatOp> ops;        // structured layers: applied first to last
  bool structured() const { return !ops.empty(); }
};

// The smallest and largest input value of a calibration batch.
struct InputRange {
  double lo = 0, hi = 0;
};

struct FloatModel {
  std::string path;
  std::vector<FloatLayer> layers;     // affine layers; a square activation sits between consecutive layers
  FinalOp final_op = FinalOp::none;   // trailing Softmax / LogSoftmax (applied by the verifier, not proved)
  std::optional<double> alpha, beta;  // from metadata_props "nnproof.alpha" / "nnproof.beta"
  // From metadata_props "nnproof.field" ("m61" or "m127", the field `nnproof quantize` chose): the
  // field prove, interactive, train and prove-training use when --field is not given.
  std::optional<FieldId> field;
  // From metadata_props "nnproof.input_range" ("<lo>,<hi>", written by `nnproof quantize`): the range
  // of the calibration inputs, which prove, verify and interactive compare the user's input with.
  std::optional<InputRange> input_range;
  // Exact integer biases by layer (from 1), from metadata_props "nnproof.bias.<i>" (decimal integers,
  // comma-separated), which write_quantized_onnx adds where a bias has no exact float64 form. The
  // quantizer takes them where the float bias is that integer rounded (quantize.hpp).
  std::map<std::size_t, std::vector<i128>> exact_biases;
  std::vector<std::size_t> input_shape;  // per-sample input dims when the model declares them, e.g. {1, 28, 28}
  std::size_t in_dim() const { return layers.front().cols; }
};

// Reads `path`. The graph must be one chain from its single input to its single output of
// MatMul/Gemm/Conv (+ Add bias), AveragePool / GlobalAveragePool (sum pooling), Mul(x,x) / Pow(x,2),
// pass-through ops (Flatten, Reshape, Identity, Dropout), folded ones (zero Pad, BatchNormalization,
// Add / Sub / Mul / Div by constants), shape computations read by a Reshape, and an optional
// trailing Softmax / LogSoftmax. Throws ModelError otherwise.
FloatModel import_onnx(const std::string& path);

// Copies the model at `in` to `out` with the metadata keys nnproof.alpha / nnproof.beta set to the
// given scales and, when given, nnproof.field to the field's name and nnproof.input_range to the
// calibration range (replacing earlier values), the form `nnproof prove` and `verify` read them in.
void write_onnx_with_scales(const std::string& in, const std::string& out, double alpha, double beta,
                            std::optional<FieldId> field = std::nullopt,
                            std::optional<InputRange> input_range = std::nullopt);

// Writes a quantized dense model as ONNX (float64 initializers w' = W / beta, b' = B / s_Z(i), one
// Gemm per layer, Mul(x, x) between layers, the final op, the scales in the metadata) that
// import_onnx and quantize_model read back as exactly these integers. Biases without an exact
// float64 form are also written exactly in the metadata (FloatModel::exact_biases). Throws
// ModelError for structured layers and for weights that have no exact float64 form (|W| > 2^53, or
// a scale that is not a power of two). `field`, when given, is written as nnproof.field.
void write_quantized_onnx(const QuantizedModel& model, const std::string& path,
                          std::optional<FieldId> field = std::nullopt);

}  // namespace nnproof
