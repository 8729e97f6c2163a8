#pragma once
// The quantized network of PROTOCOL.md section 2: L affine layers with exact integer weights and
// biases. Everything the verifier knows about the model; it never sees floats.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "core/hostdevice.hpp"
#include "verifier/sha256.hpp"

namespace nnproof {

// Applied by the verifier to the verified outputs; never proved (PROTOCOL.md section 2).
enum class FinalOp : std::uint8_t { none = 0, softmax = 1, log_softmax = 2 };

// Integer weights in the narrowest of int8 / int16 / int32 / int64 that holds them all. Quantized
// weights are usually int8: the verifier and the engines then read 8x fewer bytes than int64.
class WeightMatrix {
 public:
  WeightMatrix() = default;
  WeightMatrix(std::vector<std::int64_t> values);  // NOLINT: converting, so layers brace-initialize
  WeightMatrix(std::initializer_list<std::int64_t> values) : WeightMatrix(std::vector<std::int64_t>(values)) {}

  std::size_t size() const;
  std::int64_t operator[](std::size_t i) const;
  void set(std::size_t i, std::int64_t value);  // widens the storage when needed
  unsigned width() const;                       // bytes per entry: 1, 2, 4 or 8
  std::vector<std::int64_t> to_vector() const;
  std::uint64_t max_abs() const;

  // fn(const T* data) with T the storage type: kernels compile once per width.
  template <class Fn>
  decltype(auto) visit(Fn&& fn) const {
    return std::visit([&](const auto& v) -> decltype(auto) { return fn(v.data()); }, data_);
  }

 private:
  std::variant<std::vector<std::int8_t>, std::vector<std::int16_t>, std::vector<std::int32_t>, std::vector<std::int64_t>> data_;
};

struct QuantizedLayer {
  std::size_t rows = 0;                // n_i
  std::size_t cols = 0;                // n_{i-1}
  WeightMatrix weights;                // W_i, rows x cols, row-major
  std::vector<i128> bias;              // B_i, rows entries (grows with the scales: may exceed 2^63)
};

struct QuantizedModel {
  std::vector<QuantizedLayer> layers;
  double alpha = 1;  // input scale
  double beta = 1;   // weight scale
  FinalOp final_op = FinalOp::none;

  std::size_t depth() const { return layers.size(); }
  std::size_t in_dim() const { return layers.front().cols; }
  std::size_t out_dim() const { return layers.back().rows; }
  std::vector<std::size_t> dims() const;  // n_0, n_1, ..., n_L
  // The scale of the output Z_L: s_Z(L) of PROTOCOL.md section 7 (divide to dequantize).
  double output_scale() const;
  // Throws std::invalid_argument naming the layer if dimensions do not chain or sizes are off.
  void validate() const;
};

// SHA-256 over the canonical encoding of the model (docs/FORMAT.md, "Model digest").
Digest model_digest(const QuantizedModel& model);

}  // namespace nnproof
