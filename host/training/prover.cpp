// SPDX-License-Identifier: Apache-2.0
#include "host/training/prover.hpp"

#include <string>

#include "host/sumcheck_driver.hpp"
#include "host/training/table_sumcheck.hpp"
#include "verifier/int8_chunk_dot.hpp"
#include "verifier/parallel.hpp"
#include "verifier/training/computation.hpp"
#include "verifier/training/op_gradient.hpp"
#include "verifier/training/verifier.hpp"
#include "verifier/weight_routes.hpp"

namespace nnproof {
namespace {

template <class K, class F>
std::vector<K> lift(const Table2D<F>& t) {
  std::vector<K> out(t.data.size());
  parallel_for(out.size(), [&](std::size_t i) { out[i] = K::from_base(t.data[i]); });
  return out;
}

// The prover's side of the walk: every reduction from the engine's tables, every message sent.
template <class Cfg>
class ProverSide {
 public:
  using F = typename Cfg::F;
  using K = typename Cfg::K;

  ProverSide(Engine<Cfg>& engine, const std::vector<FieldLayer<F>>& layers, const Computation& c,
             BackwardTrace<Cfg>& trace, ProverChannel<K>& ch, const ProgressFn& progress)
      : engine_(engine), layers_(layers), trace_(trace), ch_(ch), progress_(progress), tables_(c.tensors.size()) {
    const std::size_t L = c.depth();
    for (std::size_t i = 0; i < L; ++i) tables_[c.Y[i]] = &trace.forward.Y[i];
    for (std::size_t i = 1; i <= L; ++i) {
      tables_[c.Z[i]] = &trace.forward.Z[i - 1];
      tables_[c.D[i]] = &trace.D[i - 1];
      if (i < L) tables_[c.E[i]] = &trace.E[i - 1];
    }
  }

  NewClaims<K> seed(const Computation& c, const Seed& s) {
    const std::size_t L = c.depth();
    switch (s.kind) {
      case SeedKind::gradient:
        return gradient_seed(c, s.layer);
      case SeedKind::op_gradient:
        return op_gradient_seed(c, s);
      case SeedKind::loss: {
        report("proving the loss");
        const Table2D<F>& Z = table(c.Z[L]);
        std::vector<K> U(Z.data.size());
        parallel_for(U.size(), [&](std::size_t i) { U[i] = K::from_base(Z.data[i] - trace_.target.data[i]); });
        auto sc = engine_.product_sumcheck(U, U);
        const std::vector<K> x = run_sumcheck(*sc, c.vars(c.Z[L]), 2, ch_);
        const K z = sc->final_value() + target_mle(x);
        send_one(ch_, z);
        return {{c.Z[L], {x, z}}};
      }
      case SeedKind::outputs: {
        const std::vector<K> q = draw_challenges(ch_, c.row_vars(c.Z[L])), r = draw_challenges(ch_, c.beta());
        std::vector<K> x = join_point(r, q);
        const K v = mle_evaluate<K>(std::span<const F>(table(c.Z[L]).data), std::span<const K>(x));
        return {{c.Z[L], {std::move(x), v}}};
      }
    }
    return {};
  }

  // All of a tensor's claims at once (TRAINING.md section 5): several instances of the engine's
  // sum-check run as one where the operation's structure is a product (linear, square, transposed),
  // one host sum-check with the combined eq weights for the Hadamard.
  NewClaims<K> reduce(const Computation& c, std::size_t t, const std::vector<Claim<K>>& claims) {
    const TensorNode& node = c.tensors[t];
    report("proving " + node.name);
    const unsigned beta = c.beta();
    const std::size_t m = claims.size();
    const std::vector<K> rho = combination_weights<K>(ch_, m);
    std::vector<std::unique_ptr<SumcheckProver<K>>> parts;
    switch (node.op) {
      case TensorOp::linear: {  // sum_j sum_c rho_c W~(q_c, j) Y~(j, r_c), then y*_c = Y~(s, r_c)
        const FieldLayer<F>& layer = layers_[node.layer - 1];
        for (const Claim<K>& claim : claims) {
          std::vector<K> V = engine_.col_combine(table(node.operands[0]), eq_table<K>(point_cols(claim.point, beta)));
          parts.push_back(engine_.product_sumcheck(
              engine_.row_combine(layer, eq_table<K>(point_rows(claim.point, beta))), std::move(V)));
        }
        CombinedSumcheck<K> sc(rho, std::move(parts));
        const std::vector<K> s = run_sumcheck(sc, ceil_log2(layer.cols()), 2, ch_);
        return send_finals(sc, m, node.operands[0], claims, beta, s);
      }
      case TensorOp::square: {  // sum_y w(y) Z~(y)^2, then z* = Z~(x')
        for (const Claim<K>& claim : claims)
          parts.push_back(engine_.square_sumcheck(table(node.operands[0]), point_rows(claim.point, beta),
                                                  point_cols(claim.point, beta), claim.value, {}));
        CombinedSumcheck<K> sc(rho, std::move(parts));
        std::vector<K> x = run_sumcheck(sc, c.vars(t), 3, ch_);
        const K z = sc.final_value();
        send_one(ch_, z);
        return {{node.operands[0], {std::move(x), z}}};
      }
      case TensorOp::hadamard: {  // sum_y 2 w(y) Z~(y) E~(y), then z*, e*
        std::vector<K> x;
        const std::array<K, 2> ze = hadamard(c, t, claims, rho, x);
        ch_.send(std::span<const K>(ze.data(), 2));
        return {{node.operands[0], {x, ze[0]}}, {node.operands[1], {x, ze[1]}}};
      }
      case TensorOp::transpose_linear: {  // sum_a sum_c rho_c W~(a, s_c) D~(a, r_c), then d*_c
        const FieldLayer<F>& layer = layers_[node.layer - 1];
        for (const Claim<K>& claim : claims) {
          std::vector<K> V = engine_.col_combine(table(node.operands[0]), eq_table<K>(point_cols(claim.point, beta)));
          parts.push_back(engine_.product_sumcheck(weight_columns(layer, eq_table<K>(point_rows(claim.point, beta))),
                                                   std::move(V)));
        }
        CombinedSumcheck<K> sc(rho, std::move(parts));
        const std::vector<K> a = run_sumcheck(sc, ceil_log2(layer.rows()), 2, ch_);
        return send_finals(sc, m, node.operands[0], claims, beta, a);
      }
      default:
        throw std::logic_error("training prover: no reduction for " + node.name);
    }
  }

  Claim<K> pass_residual(const Computation& /*c*/, std::size_t /*t*/, const Claim<K>& claim) {
    return {claim.point, claim.value * K::from_int(2).inverse() + target_mle(claim.point)};
  }

  void check_data(const Computation&, std::size_t, const std::vector<Claim<K>>&) {}  // the verifier's

 private:
  // G_i~(q, s) + c g_i~(q) = sum_k P[k] (Q[k] + c), P = eq_q^T D_i, Q = eq_s^T Y_{i-1}.
  NewClaims<K> gradient_seed(const Computation& c, std::size_t i) {
    report("proving the gradient of layer " + std::to_string(i));
    const std::vector<K> q = draw_challenges(ch_, ceil_log2(c.dims[i])),
                         s = draw_challenges(ch_, ceil_log2(c.dims[i - 1]));
    const K shift = ch_.challenge();
    std::vector<K> P = engine_.row_weighted_sum(table(c.D[i]), eq_table<K>(q));
    std::vector<K> Q = engine_.row_weighted_sum(table(c.Y[i - 1]), eq_table<K>(s));
    for (K& x : Q) x += shift;
    auto sc = engine_.product_sumcheck(P, std::move(Q));
    const std::vector<K> rho = run_sumcheck(*sc, c.beta(), 2, ch_);
    const std::array<K, 2> dy{mle_evaluate<K>(std::span<const K>(P), std::span<const K>(rho)),
                              sc->final_value() - shift};
    ch_.send(std::span<const K>(dy.data(), 2));
    return {{c.D[i], {join_point(rho, q), dy[0]}}, {c.Y[i - 1], {join_point(rho, s), dy[1]}}};
  }

  // A structured layer's trained op (or its bias alone): the verifier's op_gradient_seed, proved
  // over the host tables D_i and X = W'_t Y_{i-1} (+ c eq(q, a)); X costs one pass of the chain per
  // sample, as the engines' structured gradients do.
  NewClaims<K> op_gradient_seed(const Computation& c, const Seed& sd) {
    const std::size_t i = sd.layer;
    report("proving the gradient of layer " + std::to_string(i));
    const std::vector<LinearOp>& ops = layers_[i - 1].q->ops;
    const bool op = sd.op != SIZE_MAX;
    const unsigned beta = c.beta();
    std::vector<K> eq_t, eq_q;
    K shift = K::one();
    if (op) eq_t = eq_table<K>(draw_challenges(ch_, ceil_log2(sd.params)));
    std::vector<K> q;
    if (sd.bias) {
      q = draw_challenges(ch_, ceil_log2(c.dims[i]));
      if (op) shift = ch_.challenge();
      eq_q = eq_table<K>(q);
    }
    const Table2D<F>& D = table(c.D[i]);
    const Table2D<F>& Y = table(c.Y[i - 1]);
    std::vector<K> X(D.rows * D.cols, K::zero());
    if (op)
      parallel_for(c.samples, [&](std::size_t k) {
        std::vector<K> y(c.dims[i - 1]);
        for (std::size_t j = 0; j < y.size(); ++j) y[j] = K::from_base(Y.data[j * Y.cols + k]);
        const std::vector<K> out = replaced_chain_apply<K>(ops, sd.op, eq_t, y);
        for (std::size_t a = 0; a < out.size(); ++a) X[a * D.cols + k] = out[a];
      });
    if (sd.bias)
      parallel_for(D.rows, [&](std::size_t a) {
        const K e = shift * eq_q[a];
        for (std::size_t k = 0; k < D.cols; ++k) X[a * D.cols + k] += e;
      });
    HostTableSumcheck<K> sc({lift<K>(D), std::move(X)});
    std::vector<K> x = run_sumcheck(sc, c.vars(c.D[i]), 2, ch_);
    const std::vector<K> a = point_rows(x, beta), k = point_cols(x, beta);
    const K d = sc.value(0), w = sc.value(1) - (sd.bias ? shift * eq_eval<K>(q, a) : K::zero());
    const std::array<K, 2> dw{d, w};
    ch_.send(std::span<const K>(dw.data(), op ? 2 : 1));
    NewClaims<K> out{{c.D[i], {x, d}}};
    if (!op) return out;
    std::vector<K> V = engine_.col_combine(Y, eq_table<K>(k));
    std::vector<K> A = replaced_chain_transpose_apply<K>(ops, sd.op, eq_t, eq_table<K>(a));
    A.resize(V.size(), K::zero());
    auto sc2 = engine_.product_sumcheck(std::move(A), std::move(V));
    const std::vector<K> s = run_sumcheck(*sc2, ceil_log2(c.dims[i - 1]), 2, ch_);
    const K y = sc2->final_value();
    send_one(ch_, y);
    out.push_back({c.Y[i - 1], {join_point(k, s), y}});
    return out;
  }

  // The Hadamard's sum-check with weights 2 rho_c on the claims' eq tables: the engine's where it
  // has one (claim c's own sum is its value / 2: D = 2 Z o E), else the host's over the combined
  // eq table. Returns (Z~(x), E~(x)) and sets x.
  std::array<K, 2> hadamard(const Computation& c, std::size_t t, const std::vector<Claim<K>>& claims,
                            const std::vector<K>& rho, std::vector<K>& x) {
    const TensorNode& node = c.tensors[t];
    const unsigned beta = c.beta();
    const K half = K::from_int(2).inverse();
    std::vector<EqClaim<K>> eq_claims;
    for (std::size_t i = 0; i < claims.size(); ++i)
      eq_claims.push_back({point_rows(claims[i].point, beta), point_cols(claims[i].point, beta), rho[i] + rho[i],
                           claims[i].value * half});
    if (auto sc = engine_.hadamard_sumcheck(table(node.operands[0]), table(node.operands[1]), eq_claims)) {
      x = run_sumcheck(*sc, c.vars(t), 3, ch_);
      return sc->operand_values();
    }
    std::vector<std::vector<K>> points;
    std::vector<K> weights;
    for (std::size_t i = 0; i < claims.size(); ++i) {
      points.push_back(claims[i].point);
      weights.push_back(eq_claims[i].weight);
    }
    HostTableSumcheck<K> sc(
        {weighted_eq_sum(c, t, points, weights), lift<K>(table(node.operands[0])), lift<K>(table(node.operands[1]))});
    x = run_sumcheck(sc, c.vars(t), 3, ch_);
    return {sc.value(1), sc.value(2)};
  }

  // The m instances' final values (the operand's MLE at (r_c, point) for each claim c), sent as one
  // message, and the claims they make.
  NewClaims<K> send_finals(const CombinedSumcheck<K>& sc, std::size_t m, std::size_t operand,
                           const std::vector<Claim<K>>& claims, unsigned beta, const std::vector<K>& point) {
    std::vector<K> finals(m);
    for (std::size_t i = 0; i < m; ++i) finals[i] = sc.final_value(i);
    ch_.send(std::span<const K>(finals));
    NewClaims<K> out;
    for (std::size_t i = 0; i < m; ++i)
      out.push_back({operand, {join_point(point_cols(claims[i].point, beta), point), finals[i]}});
    return out;
  }

  // sum_m rho_m eq(x_m, .) over tensor t's table, each eq table the outer product of its row and
  // column halves (row bits high): built a row at a time on every core, not as long sequential eq
  // tables.
  std::vector<K> weighted_eq_sum(const Computation& c, std::size_t t, const std::vector<std::vector<K>>& points,
                                 const std::vector<K>& rho) const {
    const unsigned beta = c.beta();
    const std::size_t cols = std::size_t{1} << beta, rows = std::size_t{1} << c.row_vars(t);
    std::vector<std::vector<K>> eq_rows, eq_cols;
    for (std::size_t m = 0; m < points.size(); ++m) {
      eq_cols.push_back(eq_table<K>(point_cols(points[m], beta)));
      eq_rows.push_back(eq_table<K>(point_rows(points[m], beta)));
      for (K& e : eq_rows.back()) e *= rho[m];
    }
    std::vector<K> w(rows * cols);
    parallel_for(rows, [&](std::size_t a) {
      K* row = w.data() + a * cols;
      for (std::size_t k = 0; k < cols; ++k) row[k] = eq_rows[0][a] * eq_cols[0][k];
      for (std::size_t m = 1; m < points.size(); ++m)
        for (std::size_t k = 0; k < cols; ++k) row[k] += eq_rows[m][a] * eq_cols[m][k];
    });
    return w;
  }

  // A[a] = sum_j W[a][j] eq_s[j] for a < padded(rows): W applied to eq(s, .).
  std::vector<K> weight_columns(const FieldLayer<F>& layer, const std::vector<K>& eq_s) const {
    if (layer.q->structured()) {  // the chain applied to eq(s, .), O(nnz)
      std::vector<K> A = replaced_chain_apply<K>(layer.q->ops, SIZE_MAX, {}, eq_s);
      A.resize(padded(layer.rows()), K::zero());
      return A;
    }
    std::vector<K> A(padded(layer.rows()), K::zero());
    const std::size_t cols = layer.cols();
    const WeightMatrix& W = layer.q->weights;
    const std::span<const K> v(eq_s.data(), cols);
    // The verifier's exact routes for W~ (weight_routes.hpp): int8 bytes in chunks, or small
    // integers times limbs, instead of a field product per weight (0.08 s -> ~0.02 s at TIMIT m127).
    switch (weight_route<K>(W, cols)) {
      case WeightRoute::int8_bytes: {
        const Int8ChunkDot<K> chunks(v);
        const std::int8_t* w = W.int8_data();
        parallel_for(layer.rows(), [&](std::size_t a) { A[a] = chunks.dot(w + a * cols, cols); });
        return A;
      }
      case WeightRoute::exact_ints: {
        const std::vector<std::int64_t> pieces = exact_int_pieces<K>(v);
        W.visit([&](const auto* w) {
          parallel_for(layer.rows(),
                       [&](std::size_t a) { A[a] = exact_int_dot<K>(w + a * cols, pieces.data(), cols); });
        });
        return A;
      }
      case WeightRoute::field_products:
        break;
    }
    parallel_for(layer.rows(), [&](std::size_t a) {
      K acc = K::zero();
      for (std::size_t j = 0; j < cols; ++j)
        if (const std::int64_t w = W[a * cols + j]; w != 0) acc += mul_base(eq_s[j], F::from_int(w));
      A[a] = acc;
    });
    return A;
  }

  K target_mle(const std::vector<K>& x) const {
    return mle_evaluate<K>(std::span<const F>(trace_.target.data), std::span<const K>(x));
  }

  const Table2D<F>& table(std::size_t t) const { return *tables_.at(t); }
  void report(const std::string& stage) const {
    if (progress_) progress_(stage);
  }

  Engine<Cfg>& engine_;
  const std::vector<FieldLayer<F>>& layers_;
  BackwardTrace<Cfg>& trace_;
  ProverChannel<K>& ch_;
  const ProgressFn& progress_;
  std::vector<const Table2D<F>*> tables_;
};

}  // namespace

template <class Cfg>
void prove_training(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                    BackwardTrace<Cfg>& trace, const TrainingStatement<Cfg>& st, ProverChannel<typename Cfg::K>& ch,
                    const ProgressFn& progress) {
  // The walk's host-side steps (merges, the Hadamard, the loss) read the tables on the host.
  for (auto* group : {&trace.forward.Y, &trace.forward.Z, &trace.D, &trace.E})
    for (auto& t : *group) engine.to_host(t);
  const Computation c = training_computation(*st.model, st.samples);
  ProverSide<Cfg> side(engine, layers, c, trace, ch, progress);
  walk<typename Cfg::K>(c, side);
}

template <class Cfg>
TrainingBundle<Cfg> prove_training_bundle(Engine<Cfg>& engine, TrainingStatement<Cfg>& st, const ProgressFn& progress,
                                          const OutputsCheck<typename Cfg::F>& check_outputs) {
  using F = typename Cfg::F;
  const auto layers = field_layers<F>(*st.model);
  BackwardTrace<Cfg> trace =
      run_backward(engine, layers, st.input, st.labels, F::from_int(target_scale(*st.model)), progress, check_outputs);
  st.claims = gradient_claims(engine, layers, trace);
  const TrainingBindings bindings = training_bindings(st);
  TrainingBundle<Cfg> bundle;
  bundle.header.field = Cfg::kId;
  bundle.header.statement_digest = training_statement_digest(st, bindings);
  bundle.header.model_binding = bindings.model;
  bundle.header.data_binding = bindings.data;
  bundle.header.lr_exponent = st.lr_exponent;
  bundle.header.dims = st.model->dims();
  bundle.header.samples = st.samples;
  bundle.header.structure = layer_structure(*st.model);
  bundle.header.structured = !bundle.header.structure.empty();
  bundle.claims = st.claims;
  Transcript transcript = training_transcript<Cfg>(bundle.header.statement_digest);
  FiatShamirProverChannel<typename Cfg::K> ch(transcript);
  prove_training(engine, layers, trace, st, ch, progress);
  bundle.messages = std::move(ch.messages());
  return bundle;
}

#define NNP_INSTANTIATE(Cfg)                                                                              \
  template void prove_training(Engine<Cfg>&, const std::vector<FieldLayer<Cfg::F>>&, BackwardTrace<Cfg>&, \
                               const TrainingStatement<Cfg>&, ProverChannel<Cfg::K>&, const ProgressFn&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE
#define NNP_INSTANTIATE(Cfg)                                                                                   \
  template TrainingBundle<Cfg> prove_training_bundle(Engine<Cfg>&, TrainingStatement<Cfg>&, const ProgressFn&, \
                                                     const OutputsCheck<Cfg::F>&);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
