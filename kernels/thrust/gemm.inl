// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Thrust engine's forward pass for dense layers (kernels/thrust/thrust_engine.inl): Z = W Y + B
// as the exact int8 limb GEMM of DESIGN.md ("Exact modular GEMM"): Y cut into 7-bit limbs
// (SplitLimbs, functors.hpp), one int8 x int8 -> int32 GEMM by the backend's gemm_s8 (cuBLAS on
// tensor cores, or exact BLAS DGEMM in the OpenMP build), the limbs' products recombined mod p
// (Recombine). Weights wider than int8, or an inner size at which the int32 sums could overflow,
// take a direct modular kernel instead (DirectRow). The int8 weights stay on the device between
// calls (DeviceInt8Weights), for the forward pass and row_combine alike.
//
// Include with NNP_THRUST_NS, exec() and gemm_s8 defined, as thrust_engine.inl.
#include <thrust/fill.h>
#include <thrust/for_each.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/engine/table.hpp"
#include "kernels/engine/weights_cache.hpp"
#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/functors.hpp"
#include "kernels/thrust/thrust_errors.hpp"
#include "kernels/thrust/transfers.hpp"
#include "verifier/parallel.hpp"

namespace nnproof::NNP_THRUST_NS {

inline bool int8_gemm_exact(std::size_t inner) { return inner * 127 * 128 < (std::size_t{1} << 31); }

// Every dimension handed to the int8 GEMM (the weights' rows and inner size, the limb columns) is
// padded with zeros to a multiple of this: cuBLAS's int8 kernels need leading dimensions that are
// multiples of 4, 16 keeps rows aligned for IMMA, and some architectures' int8 GEMMs have refused
// unpadded row counts (the output layer's 183, say). The padding rows' products are computed and
// never read.
constexpr Index kGemmAlign = 16;
inline Index align_up(Index x) { return (x + kGemmAlign - 1) / kGemmAlign * kGemmAlign; }

// A layer's int8 weights on the device, align_up(rows) rows of align_up(cols) entries (zero padded)
// as the limb GEMM reads them; row_combine reads the real rows too. The engine keeps them across
// calls in a WeightsCache, found by the weights' stamp (weights_cache.hpp), so a proof uploads each
// layer's weights once instead of in every forward and row_combine, and compares no weights.
class DeviceInt8Weights {
 public:
  DeviceInt8Weights(const std::int8_t* w, Index rows, Index cols)
      : cols_(cols), rows_(rows), padded_(filled_table<std::int8_t>(align_up(rows) * align_up(cols), 0)) {
    const auto dense = upload<std::int8_t>(w, w + rows * cols);
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(rows * cols),
                                WidenWeights{raw(dense), raw(padded_), cols, stride()}));
  }
  Index stride() const { return align_up(cols_); }       // entries per row on the device
  Index padded_rows() const { return align_up(rows_); }  // rows on the device, the real ones first
  const std::int8_t* data() const { return raw(padded_); }

 private:
  Index cols_, rows_;
  DeviceVector<std::int8_t> padded_;
};

// The layers' biases on the device, kept across calls and proofs as the weights are: a proof
// uploads each bias once per contents, not in every forward pass (one transfer and one wait per
// layer before). An entry is found by its entries, compared with the host copy kept beside it:
// rows x sizeof(F) bytes (32 KiB for a TIMIT layer in m127, ~2 us of memcmp), exact where a digest
// could collide, and without a stamp to trust (FieldLayer::bias is a plain vector, made anew for
// each proof). Bytes that differ but name equal field elements only cost an upload. At most
// kMaxEntries are kept, the oldest dropped first.
template <class F>
class DeviceBiases {
 public:
  // The device copy of `bias`, uploaded on first use.
  const F* get(const std::vector<F>& bias) {
    for (const auto& e : entries_)
      if (e.host.size() == bias.size() &&
          (bias.empty() || std::memcmp(e.host.data(), bias.data(), bias.size() * sizeof(F)) == 0))
        return raw(e.device);
    if (entries_.size() == kMaxEntries) entries_.erase(entries_.begin());
    entries_.push_back({bias, upload<F>(bias)});
    return raw(entries_.back().device);
  }

 private:
  struct Entry {
    std::vector<F> host;
    DeviceVector<F> device;
  };
  static constexpr std::size_t kMaxEntries = 64;
  std::vector<Entry> entries_;
};

// The forward pass's tables that do not outlive it, kept by the engine across layers and proofs
// (resize_unwritten): the input's limbs and the GEMM's int32 products were allocations per layer;
// and the biases, uploaded once (DeviceBiases).
template <class F>
struct ForwardScratch {
  DeviceBiases<F> biases;
  DeviceVector<std::int8_t> limbs_t;
  DeviceVector<std::int32_t> products;
};

// Z = W Y + B m^T for a dense layer, Y already on the device (y_cols columns, the first `batch`
// real): padded(rows) x y_cols, zero in padding rows and in columns >= batch. `weights` holds the
// engine's device copies of int8 weights; this layer's is taken from it or added to it.
template <class F>
DeviceVector<F> dense_forward(const FieldLayer<F>& layer, const DeviceVector<F>& y, Index y_cols, Index batch,
                              WeightsCache<DeviceInt8Weights>& weights, ForwardScratch<F>& scratch) {
  const Index rows = layer.rows(), cols = layer.cols();
  const F* bias = scratch.biases.get(layer.bias);
  auto z = filled_table<F>(padded(rows) * y_cols, F::zero());
  if (const std::int8_t* w8 = layer.q->weights.int8_data(); w8 && int8_gemm_exact(cols)) {
    const DeviceInt8Weights& w = weights.get(layer.q->weights, rows, cols);
    const Index kp = w.stride(), n = align_up(limb_count<F>() * batch);
    auto& limbs_t = scratch.limbs_t;
    resize_unwritten(limbs_t, n * kp);
    NNP_THRUST(thrust::fill(exec_nosync(), limbs_t.begin(), limbs_t.end(), std::int8_t{0}));  // the split's padding
    auto& g = scratch.products;
    resize_unwritten(g, w.padded_rows() * n);
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(batch * cols),
                                SplitLimbs<F>{raw(y), raw(limbs_t), y_cols, cols, batch, kp}));
    gemm_s8(w.data(), raw(limbs_t), raw(g), w.padded_rows(), kp, n);
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(rows * batch),
                                Recombine<F>{raw(g), bias, raw(z), y_cols, batch, n}));
  } else {
    const std::vector<std::int64_t> w64 = layer.q->weights.to_vector();
    const auto w = upload<std::int64_t>(w64);
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(rows * batch),
                                DirectRow<F>{raw(w), raw(y), bias, raw(z), cols, y_cols, batch}));
  }
  return z;
}

}  // namespace nnproof::NNP_THRUST_NS
