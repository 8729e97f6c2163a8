#pragma once
// Writes small ONNX models from C++ through the protobuf API, so that the import tests need no
// Python. The graphs look like what torch.onnx.export produces for a stack of nn.Linear layers with
// x*x activations: opset 13, a dynamic "batch" dimension, initializers named "fc1.weight", ...
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace nnproof::testing {

struct BuilderLayer {
  std::size_t rows, cols;       // W is rows x cols (output x input features)
  std::vector<double> weights;  // rows x cols, row-major
  std::vector<double> bias;     // rows entries; empty = no bias
};

enum class LinearStyle { gemm_transB, gemm, matmul_add };  // how each linear layer is written
enum class SquareStyle { mul, pow };

struct BuildOptions {
  LinearStyle linear = LinearStyle::gemm_transB;
  SquareStyle square = SquareStyle::mul;
  bool softmax = false;        // append Softmax(axis=-1)
  bool flatten_first = false;  // input (batch, 1, n_0) followed by Flatten
  std::optional<double> alpha, beta;  // metadata nnproof.alpha / nnproof.beta
  // FLOAT tensors (raw_data, as PyTorch writes them), else INT64 (int64_data) with an INT64 input
  // and output; ONNX defines no integer Softmax, so that combination fails onnx's full check.
  bool float_weights = true;
};

// Throws std::invalid_argument if a layer's sizes are inconsistent (layers need not chain: tests
// write mismatched models on purpose) and std::runtime_error if the file cannot be written.
void write_mlp_onnx(const std::string& path, const std::vector<BuilderLayer>& layers, const BuildOptions& opt = {});

// For negative tests: the first activation (needs >= 2 layers) replaced by a node of `op_type`
// named lowercase(op_type) + "1" (e.g. "relu1"); binary ops ("Div", "Sub", ...) get a constant
// second input.
void write_mlp_with_op(const std::string& path, const std::vector<BuilderLayer>& layers, const std::string& op_type);

}  // namespace nnproof::testing
