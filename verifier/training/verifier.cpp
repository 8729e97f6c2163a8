// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/verifier.hpp"

#include <algorithm>
#include <string>

#include "verifier/magnitude.hpp"
#include "verifier/public_mle.hpp"
#include "verifier/training/computation.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/op_gradient.hpp"
#include "verifier/training/parameters.hpp"

namespace nnproof {
namespace {

// A failed check, thrown out of the walk and turned into a Verdict.
struct Rejection {
  std::string check;
};

template <class Cfg>
class VerifierSide {
 public:
  using F = typename Cfg::F;
  using K = typename Cfg::K;

  VerifierSide(const TrainingStatement<Cfg>& st, VerifierChannel<K>& ch)
      : st_(st), ch_(ch), model_(*st.model), target_(K::from_int(target_scale(model_))) {}

  NewClaims<K> seed(const Computation& c, const Seed& s) {
    const std::size_t L = c.depth();
    switch (s.kind) {
      case SeedKind::gradient:
        return gradient_seed(c, s.layer);
      case SeedKind::op_gradient:
        return op_gradient_seed(c, s);
      case SeedKind::loss: {
        std::vector<K> x;
        const K final = sumcheck_verifier(ch_, K::from_base(st_.claims.loss), c.vars(c.Z[L]), 2, x);
        const K z = receive<1>()[0], u = z - target_mle(c, x);
        if (final != u * u) throw Rejection{"loss sum-check: final claim != (Z_L~ - T~)^2"};
        return {{c.Z[L], {x, z}}};
      }
      case SeedKind::outputs: {
        const std::vector<K> q = draw_challenges(ch_, c.row_vars(c.Z[L])), r = draw_challenges(ch_, c.beta());
        const K v = sample_major_mle<K>(st_.claims.outputs, st_.samples, c.dims[L], eq_table<K>(q), eq_table<K>(r));
        return {{c.Z[L], {join_point(r, q), v}}};
      }
    }
    return {};
  }

  // All of a tensor's claims at once: sum_c rho_c v_c = sum_x (sum_c rho_c eq(x_c, x)) f(x).
  NewClaims<K> reduce(const Computation& c, std::size_t t, const std::vector<Claim<K>>& claims) {
    const TensorNode& node = c.tensors[t];
    const unsigned beta = c.beta();
    const std::size_t m = claims.size();
    const std::vector<K> rho = combination_weights<K>(ch_, m);
    K claim = K::zero();
    for (std::size_t i = 0; i < m; ++i) claim += rho[i] * claims[i].value;
    switch (node.op) {
      case TensorOp::linear: {  // PROTOCOL.md 5, steps 2.1 and 2.2, for each claim (r_c, q_c)
        const QuantizedLayer& layer = model_.layers[node.layer - 1];
        std::vector<std::vector<K>> eq_q(m);
        for (std::size_t i = 0; i < m; ++i) {
          eq_q[i] = eq_table<K>(point_rows(claims[i].point, beta));
          claim -= rho[i] * bias_mle<K>(layer, eq_q[i]) * mask_mle(eq_table<K>(point_cols(claims[i].point, beta)));
        }
        std::vector<K> s;
        const K final = sumcheck_verifier(ch_, claim, ceil_log2(layer.cols), 2, s);
        const std::vector<K> y = receive(m), eq_s = eq_table<K>(s);
        K expected = K::zero();
        for (std::size_t i = 0; i < m; ++i) expected += rho[i] * weight_mle<K>(layer, eq_q[i], eq_s) * y[i];
        if (final != expected)
          throw Rejection{node.name + " matrix-product sum-check: final claim != sum_c rho_c W~(q_c,s) y*_c"};
        NewClaims<K> out;
        for (std::size_t i = 0; i < m; ++i)
          out.push_back({node.operands[0], {join_point(point_cols(claims[i].point, beta), s), y[i]}});
        return out;
      }
      case TensorOp::square: {  // PROTOCOL.md 5, step 2.4
        std::vector<K> x;
        const K final = sumcheck_verifier(ch_, claim, c.vars(t), 3, x);
        const K z = receive(1)[0];
        if (final != weight_at(claims, rho, x) * z * z)
          throw Rejection{node.name + " activation sum-check: final claim != w~(x') z*^2"};
        return {{node.operands[0], {x, z}}};
      }
      case TensorOp::hadamard: {  // D = 2 Z o E
        std::vector<K> x;
        const K final = sumcheck_verifier(ch_, claim, c.vars(t), 3, x);
        const std::vector<K> ze = receive(2);
        if (final != K::from_int(2) * weight_at(claims, rho, x) * ze[0] * ze[1])
          throw Rejection{node.name + " Hadamard sum-check: final claim != 2 w~(x') z* e*"};
        return {{node.operands[0], {x, ze[0]}}, {node.operands[1], {x, ze[1]}}};
      }
      case TensorOp::transpose_linear: {  // E_{i-1} = W_i^T D_i, for each claim (r_c, s_c)
        const QuantizedLayer& layer = model_.layers[node.layer - 1];
        std::vector<K> a;
        const K final = sumcheck_verifier(ch_, claim, ceil_log2(layer.rows), 2, a);
        const std::vector<K> d = receive(m), eq_a = eq_table<K>(a);
        K expected = K::zero();
        for (std::size_t i = 0; i < m; ++i)
          expected += rho[i] * weight_mle<K>(layer, eq_a, eq_table<K>(point_rows(claims[i].point, beta))) * d[i];
        if (final != expected)
          throw Rejection{node.name + " transposed-product sum-check: final claim != sum_c rho_c W~(a,s_c) d*_c"};
        NewClaims<K> out;
        for (std::size_t i = 0; i < m; ++i)
          out.push_back({node.operands[0], {join_point(point_cols(claims[i].point, beta), a), d[i]}});
        return out;
      }
      default:
        throw std::logic_error("training verifier: no reduction for " + node.name);
    }
  }

  // D_L = 2 (Z_L - T): Z_L~(x) = D_L~(x) / 2 + T~(x).
  Claim<K> pass_residual(const Computation& c, std::size_t /*t*/, const Claim<K>& claim) {
    return {claim.point, claim.value * K::from_int(2).inverse() + target_mle(c, claim.point)};
  }

  void check_data(const Computation& c, std::size_t /*t*/, const std::vector<Claim<K>>& claims) {
    const unsigned beta = c.beta();
    for (const Claim<K>& claim : claims) {
      const std::vector<K> r = point_cols(claim.point, beta), s = point_rows(claim.point, beta);
      if (claim.value != sample_major_mle<K>(st_.input, st_.samples, c.dims[0], eq_table<K>(s), eq_table<K>(r)))
        throw Rejection{"input check: a claim on Y_0 != X~"};
    }
  }

 private:
  // G_i~(q, s) + c g_i~(q) = sum_k D_i~(q, k) (Y_{i-1}~(s, k) + c): both gradients of layer i.
  NewClaims<K> gradient_seed(const Computation& c, std::size_t i) {
    const std::vector<K> q = draw_challenges(ch_, ceil_log2(c.dims[i])),
                         s = draw_challenges(ch_, ceil_log2(c.dims[i - 1]));
    const K shift = ch_.challenge();
    const std::vector<K> eq_q = eq_table<K>(q);
    const K v =
        sample_major_mle<K>(st_.claims.weight_gradients[i - 1], c.dims[i], c.dims[i - 1], eq_table<K>(s), eq_q) +
        shift * vector_mle<K>(st_.claims.bias_gradients[i - 1], eq_q);
    std::vector<K> rho;
    const K final = sumcheck_verifier(ch_, v, c.beta(), 2, rho);
    const auto [d, y] = receive<2>();
    if (final != d * (y + shift))
      throw Rejection{"layer " + std::to_string(i) + " gradient sum-check: final claim != d* (y* + c)"};
    return {{c.D[i], {join_point(rho, q), d}}, {c.Y[i - 1], {join_point(rho, s), y}}};
  }

  // A structured layer's trained op t (verifier/training/op_gradient.hpp), with the bias when
  // s.bias: v = G_t~(t*) + c g_i~(q) = sum_{a,k} D_i(a, k) ((W'_t Y_{i-1})(a, k) + c eq(q, a)); the
  // prover sends d* = D_i~(x*) and w* = (W'_t Y_{i-1})~(x*), then sum_j W'_t~(a*, j) Y_{i-1}~(j, k*) =
  // w* leaves y* = Y_{i-1}~(s*, k*). A bias-only seed (no trained op) is v = g_i~(q), f = D_i eq_q.
  NewClaims<K> op_gradient_seed(const Computation& c, const Seed& sd) {
    const std::size_t i = sd.layer;
    const QuantizedLayer& layer = model_.layers[i - 1];
    const bool op = sd.op != SIZE_MAX;
    const unsigned beta = c.beta();
    std::vector<K> eq_t, q;
    K shift = K::one(), v = K::zero();
    if (op) {
      eq_t = eq_table<K>(draw_challenges(ch_, ceil_log2(sd.params)));
      const std::vector<typename Cfg::F>& G = st_.claims.weight_gradients[i - 1];
      for (std::size_t w = 0; w < sd.params; ++w) v += mul_base(eq_t[w], G[sd.offset + w]);
    }
    if (sd.bias) {
      q = draw_challenges(ch_, ceil_log2(c.dims[i]));
      if (op) shift = ch_.challenge();
      v += shift * vector_mle<K>(st_.claims.bias_gradients[i - 1], eq_table<K>(q));
    }
    std::vector<K> x;
    const K final = sumcheck_verifier(ch_, v, c.vars(c.D[i]), 2, x);
    const std::vector<K> dw = receive(op ? 2 : 1);
    const std::vector<K> a = point_rows(x, beta), k = point_cols(x, beta);
    const K w = op ? dw[1] : K::zero();
    if (final != dw[0] * (w + (sd.bias ? shift * eq_eval<K>(q, a) : K::zero())))
      throw Rejection{"layer " + std::to_string(i) + " op gradient sum-check: final claim != d* (w* + c eq(q, a*))"};
    NewClaims<K> out{{c.D[i], {x, dw[0]}}};
    if (!op) return out;
    std::vector<K> s;
    const K final2 = sumcheck_verifier(ch_, w, ceil_log2(c.dims[i - 1]), 2, s);
    const K y = receive(1)[0];
    const std::vector<K> A = replaced_chain_transpose_apply<K>(layer.ops, sd.op, eq_t, eq_table<K>(a));
    const std::vector<K> eq_s = eq_table<K>(s);
    K wmle = K::zero();
    for (std::size_t j = 0; j < layer.cols; ++j) wmle += A[j] * eq_s[j];
    if (final2 != wmle * y)
      throw Rejection{"layer " + std::to_string(i) + " op gradient product sum-check: final claim != W'~(a*,s) y*"};
    out.push_back({c.Y[i - 1], {join_point(k, s), y}});
    return out;
  }

  // T~(r, q) = s_Z(L) sum_{k < N} eq(r, k) eq(q, y_k): the one-hot target, O(N).
  K target_mle(const Computation& c, const std::vector<K>& point) const {
    const unsigned beta = c.beta();
    const std::vector<K> eq_r = eq_table<K>(point_cols(point, beta));
    const std::vector<K> eq_q = eq_table<K>(point_rows(point, beta));
    K acc = K::zero();
    for (std::size_t k = 0; k < st_.samples; ++k) acc += eq_r[k] * eq_q[static_cast<std::size_t>(st_.labels[k])];
    return acc * target_;
  }

  K mask_mle(const std::vector<K>& eq_r) const {
    K m = K::zero();
    for (std::size_t k = 0; k < st_.samples; ++k) m += eq_r[k];
    return m;
  }

  template <std::size_t N>
  std::array<K, N> receive() {
    std::array<K, N> v;
    ch_.receive(std::span<K>(v.data(), N));
    return v;
  }
  std::vector<K> receive(std::size_t n) {
    std::vector<K> v(n);
    ch_.receive(std::span<K>(v));
    return v;
  }

  // w~(x) = sum_c rho_c eq(x_c, x): the combined claims' weight at the sum-check's point.
  static K weight_at(const std::vector<Claim<K>>& claims, const std::vector<K>& rho, const std::vector<K>& x) {
    K w = K::zero();
    for (std::size_t i = 0; i < claims.size(); ++i) w += rho[i] * eq_eval<K>(claims[i].point, x);
    return w;
  }

  const TrainingStatement<Cfg>& st_;
  VerifierChannel<K>& ch_;
  const QuantizedModel& model_;
  K target_;
};

}  // namespace

template <class Cfg>
Verdict verify_training_protocol(const TrainingStatement<Cfg>& st, VerifierChannel<typename Cfg::K>& ch) {
  const QuantizedModel& model = *st.model;
  const std::size_t L = model.depth();
  const TrainingClaims<typename Cfg::F>& claims = st.claims;
  if (st.samples == 0 || st.input.size() != st.samples * model.in_dim() || st.labels.size() != st.samples ||
      claims.outputs.size() != st.samples * model.out_dim() || claims.weight_gradients.size() != L ||
      claims.bias_gradients.size() != L)
    return Verdict::reject("statement: the data, labels or claims do not match the model and N");
  for (std::size_t i = 0; i < L; ++i)
    if (claims.weight_gradients[i].size() != layer_parameters(model.layers[i]) ||
        claims.bias_gradients[i].size() != model.layers[i].rows)
      return Verdict::reject("statement: the claimed gradients of layer " + std::to_string(i + 1) +
                             " do not match the model");
  for (std::int64_t y : st.labels)
    if (y < 0 || static_cast<std::size_t>(y) >= model.out_dim())
      return Verdict::reject("statement: a label is outside [0, n_L)");
  try {
    VerifierSide<Cfg> side(st, ch);
    walk<typename Cfg::K>(training_computation(model, st.samples), side);
  } catch (const Rejection& r) {
    return Verdict::reject(r.check);
  } catch (const std::exception& e) {  // a model without an integer target, a proof too short, ..
    return Verdict::reject(std::string("statement: ") + e.what());
  }
  return Verdict::accept();
}

// The largest |x| of the quantized data, read back from the field.
template <class Cfg>
u128 max_abs_input(const TrainingStatement<Cfg>& st) {
  u128 m = 0;
  for (const auto& x : st.input) {
    const i128 v = x.centered();
    m = std::max(m, v < 0 ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v));
  }
  return m;
}

template <class Cfg>
Transcript training_transcript(const Digest& statement_digest) {
  Transcript t(Cfg::kId, kModeNonInteractive);
  t.absorb("training-statement", statement_digest);
  return t;
}

template <class Cfg>
Verdict verify_training_bundle(const TrainingStatement<Cfg>& st, const TrainingBundle<Cfg>& bundle,
                               const TrainingBindings& bindings, double min_bits) {
  const TrainingShape shape = training_shape(*st.model, st.samples);
  if (bundle.header.structure != shape.structure)
    return Verdict::reject("structure: the proof's trained ops are not the model's");
  if (bindings.model != bundle.header.model_binding)
    return Verdict::reject("model digest: the proof was made for another model or other scales");
  if (bindings.data != bundle.header.data_binding)
    return Verdict::reject("data digest: the proof was made for other data or labels");
  if (st.lr_exponent != bundle.header.lr_exponent)
    return Verdict::reject("learning rate: the proof was made for another learning rate");
  // The claims are the integers' only if nothing can wrap in the field the prover chose. The bound
  // reads the claimed outputs: a proof that verifies has claimed the true Z_L, which the forward
  // bound (checked first) keeps below p / 2 (docs/TRAINING_PROTOCOL.md, "Magnitudes").
  // (Checked here, not left to the protocol: output_gradient_bounds takes mismatched sizes for a
  // logic error, and only invalid_argument is caught below.)
  if (st.claims.outputs.size() != st.samples * st.model->out_dim() || st.labels.size() != st.samples)
    return Verdict::reject("statement: the data, labels or claims do not match the model and N");
  try {
    const std::int64_t s = target_scale(*st.model);
    const auto outputs = output_gradient_bounds(st.claims.outputs, st.labels, st.model->out_dim(), s);
    if (auto wrap = training_magnitude_violation(magnitude_profile(*st.model), *st.model, max_abs_input(st), s, outputs,
                                                 Cfg::kId))
      return Verdict::reject("magnitude: " + wrap->describe(Cfg::kId) +
                             ": the field can wrap, so these values need not be the integers'; " +
                             (Cfg::kId == FieldId::m127 ? "the model needs smaller scales or fewer samples"
                                                        : "the prover must use m127 or smaller scales"));
  } catch (const std::invalid_argument& e) {
    return Verdict::reject(std::string("statement: ") + e.what());
  }
  const Digest digest = training_statement_digest(st, bindings);
  if (digest != bundle.header.statement_digest)
    return Verdict::reject("statement digest: the header does not match the claimed loss, gradients or outputs");
  const double bits = shape.soundness_bits(Cfg::kId);
  if (!(bits >= std::max(min_bits, kMinSoundnessBits)))
    return Verdict::reject("soundness: " + std::to_string(bits) + " bits is below the floor of " +
                           std::to_string(std::max(min_bits, kMinSoundnessBits)));
  Transcript t = training_transcript<Cfg>(digest);
  FiatShamirVerifierChannel<typename Cfg::K> ch(t, bundle.messages);
  Verdict v = verify_training_protocol(st, ch);
  if (v.accepted && ch.consumed() != bundle.messages.size()) return Verdict::reject("proof has unused messages");
  return v;
}

#define NNP_INSTANTIATE(Cfg)                                                                          \
  template Verdict verify_training_protocol(const TrainingStatement<Cfg>&, VerifierChannel<Cfg::K>&); \
  template Transcript training_transcript<Cfg>(const Digest&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE
#define NNP_INSTANTIATE(Cfg)                                                                         \
  template Verdict verify_training_bundle(const TrainingStatement<Cfg>&, const TrainingBundle<Cfg>&, \
                                          const TrainingBindings&, double);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
