// SPDX-License-Identifier: Apache-2.0
#pragma once
// A description of a computation over the integers, and the one walk that proves it (DESIGN.md,
// "A description of the computation"; docs/TRAINING_PROTOCOL.md). Tensors are feature x batch
// tables, each made by one operation from earlier tensors; the statement puts claims on some of
// them (seeds). The walk takes the tensors in the reverse of the order they were made and reduces
// all of a tensor's claims at once through its operation (TRAINING.md section 5): m >= 2 claims
// (x_c, v_c) are combined by random rho_c, and one sum-check proves sum_c rho_c v_c =
// sum_x (sum_c rho_c eq(x_c, x)) f(x) for the expression f that makes the tensor, leaving claims on
// its operands. Prover, verifier and the shape (message count, soundness) are three sides of the
// same walk, so they cannot disagree on order.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/polynomial.hpp"

namespace nnproof {

enum class TensorOp : std::uint8_t {
  data,              // public (Y_0 = X): the verifier evaluates it itself
  linear,            // Z_i = W_i Y_{i-1} + B_i m^T          operand: Y_{i-1}
  square,            // Y_i = Z_i o Z_i                       operand: Z_i
  residual,          // D_L = 2 (Z_L - T), T public           operand: Z_L (affine: claims pass through)
  transpose_linear,  // E_{i-1} = W_i^T D_i                   operand: D_i
  hadamard,          // D_{i-1} = 2 Z_{i-1} o E_{i-1}         operands: Z_{i-1}, E_{i-1}
};

struct TensorNode {
  TensorOp op = TensorOp::data;
  std::size_t layer = 0;              // the i of the W_i it involves (linear, transpose_linear); else its own index
  std::vector<std::size_t> operands;  // tensor indices, all made earlier
  std::size_t rows = 0;               // real feature rows; every tensor has one column per sample
  std::string name;                   // "Z_2", "D_1", ...: for messages
};

enum class SeedKind : std::uint8_t {
  gradient,     // layer i: G_i~(q, s) + c g_i~(q) as a batch sum of D_i and Y_{i-1}: claims on both
  loss,         // the loss as sum (Z_L - T)^2: a claim on Z_L
  outputs,      // the claimed outputs' MLE at a random point: a claim on Z_L
  op_gradient,  // structured layer i, trained op t: G_t~(t*) [+ c g_i~(q)] = sum_{a,k} D_i (W'_t Y_{i-1} [+ c eq_q]),
                // then sum_j W'_t~(a*, j) Y_{i-1}~(j, k*) (verifier/training/op_gradient.hpp): claims on both
};

struct Seed {
  SeedKind kind = SeedKind::outputs;
  std::size_t layer = 0;      // gradient and op_gradient seeds
  std::size_t op = SIZE_MAX;  // op_gradient: the trained op's index in the chain (SIZE_MAX: the bias alone)
  std::size_t params = 0;     // op_gradient: the op's weight count (its point has ceil_log2(params) coordinates)
  std::size_t offset = 0;     // op_gradient: where the op's entries start in the layer's G_i
  bool bias = false;          // op_gradient: the layer's bias gradient is proved with this seed
};

struct Computation {
  std::vector<std::size_t> dims;  // n_0 .. n_L
  std::size_t samples = 0;        // N (columns; padded to a power of two)
  std::vector<TensorNode> tensors;
  std::vector<Seed> seeds;  // in protocol order
  // Tensor indices by role (SIZE_MAX where the computation has none).
  std::vector<std::size_t> Y, Z, D, E;  // Y_0..Y_{L-1}; Z, D, E at index i (index 0 unused)

  std::size_t depth() const { return dims.size() - 1; }
  unsigned beta() const { return ceil_log2(samples); }
  unsigned row_vars(std::size_t t) const { return ceil_log2(tensors[t].rows); }
  unsigned vars(std::size_t t) const { return row_vars(t) + beta(); }
};

// PROTOCOL.md section 5 as a description: Y_0, Z_1, Y_1, .., Z_L, one seed (the outputs).
Computation inference_computation(const std::vector<std::size_t>& dims, std::size_t samples);
// TRAINING.md sections 2 and 5: the forward tensors, then D_L, E_{L-1}, D_{L-1}, .., E_1, D_1;
// seeds: the gradients of layers L..1, the loss, the outputs.
Computation training_computation(const std::vector<std::size_t>& dims, std::size_t samples);

// A structured layer's trained ops: each op's index in the chain and its weight count, in chain
// order (parameters.hpp). std::nullopt for a dense layer.
struct TrainedOp {
  std::size_t op = 0, params = 0;
  bool operator==(const TrainedOp&) const = default;
};
using LayerStructure = std::optional<std::vector<TrainedOp>>;

// The same with structured layers (structure: one entry per layer, or empty when every layer is
// dense): a structured layer's gradient seed is one op_gradient seed per trained op (the first
// also proves the bias), or one bias-only seed when no op is trained. A dense layer's is the
// dims version's, so an all-dense structure gives exactly that description.
Computation training_computation(const std::vector<std::size_t>& dims, std::size_t samples,
                                 const std::vector<LayerStructure>& structure);
struct QuantizedModel;
std::vector<LayerStructure> layer_structure(const QuantizedModel& model);  // empty when all dense
Computation training_computation(const QuantizedModel& model, std::size_t samples);

// A claim that tensor t's MLE at `point` is `value`. point: the column (sample) coordinates first,
// low bit first, then the row coordinates (PROTOCOL.md section 3: row bits high).
template <class K>
struct Claim {
  std::vector<K> point;
  K value{};
};

// A point's column (sample) coordinates and row coordinates, and the point they make.
template <class K>
std::vector<K> point_cols(const std::vector<K>& point, unsigned beta) {
  return std::vector<K>(point.begin(), point.begin() + beta);
}
template <class K>
std::vector<K> point_rows(const std::vector<K>& point, unsigned beta) {
  return std::vector<K>(point.begin() + beta, point.end());
}
template <class K>
std::vector<K> join_point(std::vector<K> cols, const std::vector<K>& rows) {
  cols.insert(cols.end(), rows.begin(), rows.end());
  return cols;
}

// The weights combining m claims on one tensor: none drawn for a single claim (weight 1), so a chain
// of single claims is exactly PROTOCOL.md section 5's protocol; m fresh challenges otherwise.
template <class K, class Channel>
std::vector<K> combination_weights(Channel& channel, std::size_t m) {
  if (m == 1) return {K::one()};
  std::vector<K> rho(m);
  for (K& x : rho) x = channel.challenge();
  return rho;
}

template <class K>
using NewClaims = std::vector<std::pair<std::size_t, Claim<K>>>;

// The walk. Side provides, for its K:
//   NewClaims<K> seed(const Computation&, const Seed&)
//   NewClaims<K> reduce(const Computation&, std::size_t t, const std::vector<Claim<K>>&)  (>= 1 claim)
//   Claim<K>     pass_residual(const Computation&, std::size_t t, const Claim<K>&)        (the claim on Z_L)
//   void         check_data(const Computation&, std::size_t t, const std::vector<Claim<K>>&)
template <class K, class Side>
void walk(const Computation& c, Side& side) {
  std::vector<std::vector<Claim<K>>> claims(c.tensors.size());
  auto add = [&](NewClaims<K> fresh) {
    for (auto& [t, claim] : fresh) claims.at(t).push_back(std::move(claim));
  };
  for (const Seed& seed : c.seeds) add(side.seed(c, seed));
  for (std::size_t t = c.tensors.size(); t-- > 0;) {
    const TensorNode& node = c.tensors[t];
    std::vector<Claim<K>>& on_t = claims[t];
    if (on_t.empty()) throw std::logic_error("computation: nothing claims tensor " + node.name);
    switch (node.op) {
      case TensorOp::data:
        side.check_data(c, t, on_t);
        break;
      case TensorOp::residual:  // affine: each claim passes through, no merge needed
        for (const Claim<K>& claim : on_t) add({{node.operands[0], side.pass_residual(c, t, claim)}});
        break;
      default:
        add(side.reduce(c, t, on_t));
    }
    on_t.clear();
    on_t.shrink_to_fit();
  }
}

// The walk's sizes: message elements and the soundness sum (TRAINING.md section 5), in units of
// 1 / |K|: sum-check rounds weighted by degree, each random evaluation point's variables, and for
// each combination of m claims, m.
struct WalkCost {
  std::size_t messages = 0;
  double error_terms = 0;
};
WalkCost walk_cost(const Computation& c);

}  // namespace nnproof
