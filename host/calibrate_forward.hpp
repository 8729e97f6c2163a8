// SPDX-License-Identifier: Apache-2.0
#pragma once
// The forward passes of `nnproof quantize`'s scale search (host/calibrate.hpp): the float model's,
// once per calibration batch (what the exact outputs are compared with when there are no labels),
// and each candidate pair's exact integer network without the field: while every partial sum stays
// below 2^53 an op runs in double (exact: integers below 2^53 add and multiply exactly), else in
// int64, from the actual values of the batch. Tables are feature-major (row f: feature f of every
// sample of a chunk), so every tap is one multiply-add along the chunk, which vectorizes. A pair whose values
// could pass 2^62 is left to the field engine (the caller's fallback).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// Per sample and output, the float model's outputs, row per sample (batch x n_L), before a final
// softmax (monotone, so it changes no argmax). `x` is the calibration array, row per sample.
std::vector<double> float_outputs(const FloatModel& model, const NpyArray& x);

struct ExactOutputs {
  std::vector<std::int64_t> z;  // Z_L, n_L x batch (feature-major)
  double observed_log2 = 0;     // log2 of the largest |value| (input, every Z_i, Y_i = Z_i^2)
};

// A table of an exact run: its `size` values as doubles (when `real`) or int64, all integers, and
// their largest magnitude. The vectors may hold more entries (from earlier, larger tables).
struct CalibrationTable {
  bool real = false;
  std::vector<double> d;
  std::vector<std::int64_t> i;
  std::size_t size = 0;
  long double max = 0;
};

// The tables of one thread's exact runs, kept from pair to pair: the same sizes come back each
// time, and fresh ones cost a page fault per 4 KB (a third of the search's time before they were kept).
struct CalibrationWorkspace {
  CalibrationTable tables[2];
};

// The exact network q on `input` (batch x n_0, row per sample, |x| < 2^62), in chunks of samples
// run in parallel (one workspace per thread, `ws` resized to the thread count), or nothing when
// some value could reach 2^62 (then the field engine must run it).
std::optional<ExactOutputs> exact_forward_int64(const QuantizedModel& q, const std::vector<std::int64_t>& input,
                                                std::size_t batch, std::vector<CalibrationWorkspace>& ws);

}  // namespace nnproof
