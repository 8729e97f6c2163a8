// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's forward pass of a dense layer, Z = W Y + B m^T exactly (DESIGN.md, "Exact
// modular GEMM"): int8 weights as oneDNN int8 matmuls on the input's 8-bit limbs (CPUs with VNNI or
// AMX), wider ones as OpenBLAS DGEMM on limbs whose products stay exact in doubles, else a direct
// kernel. Split from cpu_engine.cpp by concern: the engine's other passes are its sum-checks.
#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/fields.hpp"
#include "kernels/cpu/layer_gemm_plan.hpp"
#include "kernels/cpu/limb_gemm.hpp"
#include "kernels/engine/table.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "kernels/engine/weights_cache.hpp"

namespace nnproof {

template <class F>
class CpuDenseForward {
 public:
  // Z (padded(rows) x Y.cols, zero in padding rows and in columns >= batch) for a dense layer.
  Table2D<F> forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch);

  // The scratch of forward's routes for a layer and `batch` samples, for the estimates of one plan
  // (the memory estimate, ProofMemory::dense_forward_bytes): forward_int8's limbs (int8) and
  // products (int32) of a block of at most kInt8ColumnBlock samples (limb_scratch_,
  // product_scratch_, kept across layers); forward_limbs's weights, limbs and products in doubles
  // for the whole batch (its limbs follow the weights: plan_layer_limbs, an O(weights) pass, made
  // once per layer, not once per batch size that plan_chunks tries); forward_direct's none.
  static std::function<std::size_t(const QuantizedLayer&, std::size_t)> scratch_bytes_planned();
  static bool takes_int8_route(const QuantizedLayer& q);

 private:
  static constexpr std::size_t kInt8ColumnBlock = 256;

  static std::size_t int8_scratch_bytes(const QuantizedLayer& q, std::size_t batch);
  static std::size_t dgemm_scratch_bytes(const QuantizedLayer& q, std::size_t batch, const LimbPlan& plan);

  void forward_limbs(const FieldLayer<F>& layer, const LayerGemmPlan& gemm, const Table2D<F>& Y, std::size_t batch,
                     Table2D<F>& Z);
  void forward_int8(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch, Table2D<F>& Z);
  void forward_int8_block(const FieldLayer<F>& layer, Int8WeightsMatmul& matmul, const std::vector<F>& bias,
                          const Table2D<F>& Y, std::size_t k0, std::size_t k1, Table2D<F>& Z);
  void forward_direct(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch, Table2D<F>& Z);

  // Both written in full before they are read, and kept across blocks and layers.
  UninitializedVector<std::int8_t> limb_scratch_;
  UninitializedVector<std::int32_t> product_scratch_;
  // The matmul for each layer's weights, found by the weights' stamp (weights_cache.hpp; it was a
  // byte comparison, ~0.25 ms per 4 MB layer on 2 cores). Each entry holds a copy of its weights
  // and their repacked form (twice the layer's int8 weights, more only if oneDNN packs them
  // differently for a narrower last block), and a first forward pass pays each layer's repacking
  // (~1.8 ms per 2000 x 2000 layer here).
  WeightsCache<Int8WeightsMatmul> matmuls_;
};

extern template class CpuDenseForward<Fp61>;
extern template class CpuDenseForward<Fp127>;

}  // namespace nnproof
