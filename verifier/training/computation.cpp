// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/computation.hpp"

#include <cstdint>

#include "core/fields.hpp"
#include "verifier/model.hpp"
#include "verifier/training/parameters.hpp"

namespace nnproof {
namespace {

std::size_t add_tensor(Computation& c, TensorOp op, std::size_t layer, std::vector<std::size_t> operands,
                       std::size_t rows, std::string name) {
  c.tensors.push_back({op, layer, std::move(operands), rows, std::move(name)});
  return c.tensors.size() - 1;
}

// Y_0, Z_1, Y_1, .., Y_{L-1}, Z_L.
Computation forward_tensors(const std::vector<std::size_t>& dims, std::size_t samples) {
  if (dims.size() < 2 || samples == 0) throw std::invalid_argument("computation: need a layer and a sample");
  Computation c;
  c.dims = dims;
  c.samples = samples;
  const std::size_t L = c.depth();
  c.Y.assign(L, SIZE_MAX);
  c.Z.assign(L + 1, SIZE_MAX);
  c.D.assign(L + 1, SIZE_MAX);
  c.E.assign(L + 1, SIZE_MAX);
  c.Y[0] = add_tensor(c, TensorOp::data, 0, {}, dims[0], "Y_0");
  for (std::size_t i = 1; i <= L; ++i) {
    const std::string n = std::to_string(i);
    c.Z[i] = add_tensor(c, TensorOp::linear, i, {c.Y[i - 1]}, dims[i], "Z_" + n);
    if (i < L) c.Y[i] = add_tensor(c, TensorOp::square, i, {c.Z[i]}, dims[i], "Y_" + n);
  }
  return c;
}

// The counting side of the walk: every message and every error term, no arithmetic.
class CostSide {
 public:
  using K = Fp61;
  WalkCost cost;

  NewClaims<K> seed(const Computation& c, const Seed& s) {
    const std::size_t L = c.depth();
    switch (s.kind) {
      case SeedKind::gradient: {
        const std::size_t i = s.layer;
        sumcheck(c.beta(), 2, 2);
        cost.error_terms += ceil_log2(c.dims[i]) + ceil_log2(c.dims[i - 1]) + 1;  // the point (q, s, c)
        return {{c.D[i], claim(c, c.D[i])}, {c.Y[i - 1], claim(c, c.Y[i - 1])}};
      }
      case SeedKind::op_gradient: {
        const std::size_t i = s.layer;
        const bool op = s.op != SIZE_MAX;
        if (op) cost.error_terms += ceil_log2(s.params);                      // t*
        if (s.bias) cost.error_terms += ceil_log2(c.dims[i]) + (op ? 1 : 0);  // q (and c)
        sumcheck(c.vars(c.D[i]), 2, op ? 2 : 1);                              // over (a, k): d* [, w*]
        NewClaims<K> out{{c.D[i], claim(c, c.D[i])}};
        if (op) {
          sumcheck(ceil_log2(c.dims[i - 1]), 2, 1);  // over j: y*
          out.push_back({c.Y[i - 1], claim(c, c.Y[i - 1])});
        }
        return out;
      }
      case SeedKind::loss:
        sumcheck(c.vars(c.Z[L]), 2, 1);
        return {{c.Z[L], claim(c, c.Z[L])}};
      case SeedKind::outputs:
        cost.error_terms += c.vars(c.Z[L]);
        return {{c.Z[L], claim(c, c.Z[L])}};
    }
    return {};
  }
  NewClaims<K> reduce(const Computation& c, std::size_t t, const std::vector<Claim<K>>& claims) {
    const TensorNode& node = c.tensors[t];
    const std::size_t m = claims.size();
    if (m > 1) cost.error_terms += static_cast<double>(m);  // the random combination
    switch (node.op) {
      case TensorOp::linear:  // one value of the operand per claim: Y_{i-1}~(s, r_c)
        sumcheck(ceil_log2(c.dims[node.layer - 1]), 2, m);
        return repeat(m, node.operands[0], c);
      case TensorOp::square:
        sumcheck(c.vars(t), 3, 1);
        return {{node.operands[0], claim(c, node.operands[0])}};
      case TensorOp::hadamard:
        sumcheck(c.vars(t), 3, 2);
        return {{node.operands[0], claim(c, node.operands[0])}, {node.operands[1], claim(c, node.operands[1])}};
      case TensorOp::transpose_linear:  // one value of D_i per claim: D_i~(a*, r_c)
        sumcheck(ceil_log2(c.dims[node.layer]), 2, m);
        return repeat(m, node.operands[0], c);
      default:
        throw std::logic_error("computation: no reduction for " + node.name);
    }
  }
  Claim<K> pass_residual(const Computation& c, std::size_t t, const Claim<K>& /*claim*/) {
    return claim(c, c.tensors[t].operands[0]);
  }
  void check_data(const Computation&, std::size_t, const std::vector<Claim<K>>&) {}

 private:
  // n rounds of degree d, then `finals` values of the tables at the end.
  void sumcheck(unsigned n, unsigned d, unsigned finals) {
    cost.messages += std::size_t{n} * d + finals;
    cost.error_terms += static_cast<double>(n) * d;
  }
  // No point: the counting side reads none, and a structure from a file (inspect) may have many ops.
  static Claim<K> claim(const Computation&, std::size_t) { return {{}, K::zero()}; }
  static NewClaims<K> repeat(std::size_t m, std::size_t t, const Computation& c) {
    NewClaims<K> out;
    for (std::size_t i = 0; i < m; ++i) out.push_back({t, claim(c, t)});
    return out;
  }
};

}  // namespace

Computation inference_computation(const std::vector<std::size_t>& dims, std::size_t samples) {
  Computation c = forward_tensors(dims, samples);
  c.seeds.push_back({SeedKind::outputs, 0});
  return c;
}

Computation training_computation(const std::vector<std::size_t>& dims, std::size_t samples) {
  Computation c = forward_tensors(dims, samples);
  const std::size_t L = c.depth();
  c.D[L] = add_tensor(c, TensorOp::residual, L, {c.Z[L]}, dims[L], "D_" + std::to_string(L));
  for (std::size_t i = L; i >= 2; --i) {
    const std::string n = std::to_string(i - 1);
    c.E[i - 1] = add_tensor(c, TensorOp::transpose_linear, i, {c.D[i]}, dims[i - 1], "E_" + n);
    c.D[i - 1] = add_tensor(c, TensorOp::hadamard, i - 1, {c.Z[i - 1], c.E[i - 1]}, dims[i - 1], "D_" + n);
  }
  for (std::size_t i = L; i >= 1; --i) c.seeds.push_back({SeedKind::gradient, i});
  c.seeds.push_back({SeedKind::loss, 0});
  c.seeds.push_back({SeedKind::outputs, 0});
  return c;
}

Computation training_computation(const std::vector<std::size_t>& dims, std::size_t samples,
                                 const std::vector<LayerStructure>& structure) {
  Computation c = training_computation(dims, samples);
  const std::size_t L = c.depth();
  if (structure.empty()) return c;
  if (structure.size() != L) throw std::invalid_argument("computation: the structure has another depth than dims");
  std::vector<Seed> seeds;
  for (std::size_t i = L; i >= 1; --i) {
    const LayerStructure& l = structure[i - 1];
    if (!l) {
      seeds.push_back({SeedKind::gradient, i});
      continue;
    }
    std::size_t offset = 0;
    for (const TrainedOp& t : *l) {
      seeds.push_back({SeedKind::op_gradient, i, t.op, t.params, offset, &t == &l->front()});
      offset += t.params;
    }
    if (l->empty()) seeds.push_back({SeedKind::op_gradient, i, SIZE_MAX, 0, 0, true});
  }
  seeds.push_back({SeedKind::loss, 0});
  seeds.push_back({SeedKind::outputs, 0});
  c.seeds = std::move(seeds);
  return c;
}

std::vector<LayerStructure> layer_structure(const QuantizedModel& model) {
  std::vector<LayerStructure> out;
  bool any = false;
  for (const QuantizedLayer& l : model.layers) {
    if (!l.structured()) {
      out.emplace_back(std::nullopt);
      continue;
    }
    any = true;
    std::vector<TrainedOp> ops;
    for (std::size_t t = 0; t < l.ops.size(); ++t)
      if (trained(l.ops[t])) ops.push_back({t, l.ops[t].weights.size()});
    out.emplace_back(std::move(ops));
  }
  if (!any) out.clear();
  return out;
}

Computation training_computation(const QuantizedModel& model, std::size_t samples) {
  return training_computation(model.dims(), samples, layer_structure(model));
}

WalkCost walk_cost(const Computation& c) {
  CostSide side;
  walk<Fp61>(c, side);
  return side.cost;
}

}  // namespace nnproof
