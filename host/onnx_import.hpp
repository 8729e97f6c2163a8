#pragma once
// ONNX import: reads a fully connected quadratic network (what PyTorch exports for nn.Linear layers
// with x*x activations) into float layers, before quantization. Anything nnproof cannot prove is
// refused with one line that names the file, the node and, where one exists, the fix.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "verifier/model.hpp"

namespace nnproof {

// A model nnproof cannot import. what() is ONE line: "<path>: <problem>; <fix>" naming the node when
// there is one, e.g.
// "m.onnx: node 'relu1' (Relu): Relu is not an arithmetic circuit; use a quadratic activation x*x".
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct FloatLayer {
  std::string name;                // the MatMul/Gemm node's name (or "layer i"), for messages
  std::size_t rows = 0, cols = 0;  // W is rows x cols = n_i x n_{i-1} (output x input features)
  std::vector<double> weights;     // row-major rows x cols
  std::vector<double> bias;        // rows entries, zeros when the model has no bias
};

struct FloatModel {
  std::string path;
  std::vector<FloatLayer> layers;     // affine layers; a square activation sits between consecutive layers
  FinalOp final_op = FinalOp::none;   // trailing Softmax / LogSoftmax (applied by the verifier, not proved)
  std::optional<double> alpha, beta;  // from metadata_props "nnproof.alpha" / "nnproof.beta"
  std::size_t in_dim() const { return layers.front().cols; }
};

// Reads `path`. The graph must be one chain from its single input to its single output of
// MatMul/Gemm (+ Add bias), Mul(x,x) / Pow(x,2), pass-through ops (Flatten, Reshape, Identity,
// Dropout) and an optional trailing Softmax / LogSoftmax. Throws ModelError otherwise.
FloatModel import_onnx(const std::string& path);

}  // namespace nnproof
