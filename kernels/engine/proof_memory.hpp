// SPDX-License-Identifier: Apache-2.0
#pragma once
// What an engine's inference proof holds beside its forward trace, in the terms the prover's memory
// estimate counts (host/memory.hpp: estimate_prove_bytes, plan_chunks). Each engine states its own
// facts (Engine::proof_memory) next to the allocations that make them true; the estimate adds them
// to the trace's tables.
#include <cstddef>
#include <functional>

#include "verifier/model.hpp"

namespace nnproof {

// The trace is Y_0 and Z_1 .. Z_L, each padded n_i x b in F (b: the batch padded to a power of two).
// The defaults are the conservative count for an engine that says nothing: the most tables any
// engine here holds, but no scratch sized in bytes or lanes, which only the engine can size.
struct ProofMemory {
  // Y_1 .. Y_{L-1} = Z o Z kept as tables (Engine::proof_reads_activations). false: each Z_{i-1} is
  // squared where layer i's forward reads it, into scratch that lives for that layer alone (a Z_{i-1}
  // in F for a dense layer or a chain that does not start with a sum pool, which squares as it pools).
  bool keeps_activations = true;
  // What the activation sum-check over Z_i holds at once beside the trace, in tables of Z_i's size:
  // in K, counted in halves (a table folded once before it is made is one half), and in F.
  unsigned activation_k_halves = 6, activation_f_tables = 1;
  // A structured layer's forward: whether it writes its chain's last op into a vector of rows x batch
  // (as every op before it) rather than straight into Z; and the bytes it holds per entry of an op's
  // input (Y_{i-1} for the first op), such as a copy of Y_{i-1} or its limbs: the input's rows padded
  // to a power of two, its columns to a multiple of 32.
  bool chain_writes_last_op = true;
  std::size_t chain_input_bytes = 0;
  // A dense layer's forward through an int8 limb GEMM (0 limbs: none): limb columns per sample, and the
  // bytes it holds per limb column of each input feature (the split input) and of each output feature
  // (the products). Rows, inner size and columns are each padded to a multiple of 16; the engine keeps
  // the largest of each across layers.
  std::size_t gemm_limbs = 0, gemm_input_bytes = 0, gemm_output_bytes = 0;
  // The matrix product's V summed in lanes (0: none): partial sums of min(b, lanes) columns for each
  // row of Y_{i-1}, in K, kept across layers at the widest Y.
  std::size_t combine_lanes = 0;
  // A dense layer's forward scratch in bytes for `batch` samples, where the engine sizes it per layer
  // (the cpu engine's GEMM routes, whose limbs follow the weights); none where empty. The largest
  // layer's is counted, beside that layer's square of its input.
  std::function<std::size_t(const QuantizedLayer& layer, std::size_t batch)> dense_forward_bytes;
};

}  // namespace nnproof
