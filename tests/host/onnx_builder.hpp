// SPDX-License-Identifier: Apache-2.0
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
  bool softmax = false;               // append Softmax(axis=-1)
  bool flatten_first = false;         // input (batch, 1, n_0) followed by Flatten
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

// A convolutional network as PyTorch exports it: an image input (batch, C, H, W) and a list of
// stages. Float weights in raw_data; metadata from opt.alpha / opt.beta.
struct BuilderStage {
  enum class Kind { conv, square, average_pool, global_average_pool, sum_pool_conv, flatten, dense, channel_bias };
  Kind kind = Kind::square;
  std::size_t out_channels = 0;                  // conv
  std::size_t kernel_h = 1, kernel_w = 1;        // conv, pools
  std::size_t stride_h = 1, stride_w = 1;        // conv, pools
  std::vector<std::size_t> pads = {0, 0, 0, 0};  // conv, pools: top, left, bottom, right
  std::size_t group = 1;                         // conv
  std::vector<double> weights;                   // conv: (M, C/group, kH, kW); dense: rows x cols
  std::vector<double> bias;                      // conv: M entries (empty = none); dense; channel_bias: C
  std::size_t rows = 0, cols = 0;                // dense
  bool count_include_pad = false;                // average_pool
};

void write_cnn_onnx(const std::string& path, const std::vector<std::size_t>& chw,
                    const std::vector<BuilderStage>& stages, const BuildOptions& opt = {});

}  // namespace nnproof::testing
