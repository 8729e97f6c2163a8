// SPDX-License-Identifier: Apache-2.0
#include "verifier/verifier.hpp"

#include <array>
#include <string>

#include "core/lazy.hpp"
#include "core/polynomial.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/int8_chunk_dot.hpp"
#include "verifier/public_mle.hpp"
#include "verifier/separable_conv.hpp"
#include "verifier/weight_routes.hpp"

namespace nnproof {

template <class K>
K sumcheck_verifier(VerifierChannel<K>& ch, K claim, unsigned n, unsigned degree, std::vector<K>& point) {
  point.assign(n, K::zero());
  std::array<K, 4> msg{};  // h(0), h(2), .., h(d)
  std::array<K, 4> values{};
  for (unsigned t = 1; t <= n; ++t) {
    ch.receive(std::span<K>(msg.data(), degree));
    values[0] = msg[0];
    values[1] = claim - msg[0];
    for (unsigned x = 2; x <= degree; ++x) values[x] = msg[x - 1];
    K r = ch.challenge();
    claim = interpolate(std::span<const K>(values.data(), degree + 1), r);
    point[n - t] = r;
  }
  return claim;
}

namespace {

template <class K>
K receive_one(VerifierChannel<K>& ch) {
  K x;
  ch.receive(std::span<K>(&x, 1));
  return x;
}

std::string layer_name(std::size_t i) { return "layer " + std::to_string(i); }

}  // namespace

template <class K>
K weight_mle(const QuantizedLayer& layer, std::span<const K> eq_q, std::span<const K> eq_s) {
  using F = base_field_t<K>;
  if (layer.structured()) {  // O(nnz): W~(q, s) = sum_j (W^T eq_q)[j] eq_s[j]
    const std::vector<K> A = chain_transpose_apply<K>(layer.ops, eq_q);
    K acc = K::zero();
    for (std::size_t j = 0; j < layer.cols; ++j) acc += A[j] * eq_s[j];
    return acc;
  }
  // Dots of each row with eq(s, .), by the route of verifier/weight_routes.hpp.
  switch (weight_route<K>(layer.weights, layer.cols)) {
    case WeightRoute::int8_bytes: {
      const std::int8_t* w = layer.weights.int8_data();
      const Int8ChunkDot<K> chunks(eq_s.first(layer.cols));
      return parallel_sum<K, 1>(layer.rows, [&](std::size_t a) {
        return std::array<K, 1>{eq_q[a] * chunks.dot(w + a * layer.cols, layer.cols)};
      })[0];
    }
    case WeightRoute::exact_ints: {
      const std::vector<std::int64_t> pieces = exact_int_pieces<K>(eq_s.first(layer.cols));
      return layer.weights.visit([&](const auto* w) {
        return parallel_sum<K, 1>(layer.rows, [&](std::size_t a) {
          return std::array<K, 1>{eq_q[a] * exact_int_dot<K>(w + a * layer.cols, pieces.data(), layer.cols)};
        })[0];
      });
    }
    case WeightRoute::field_products:
      break;
  }
  K acc = K::zero();
  for (std::size_t a = 0; a < layer.rows; ++a) {
    K row = K::zero();
    for (std::size_t j = 0; j < layer.cols; ++j) {
      const std::int64_t w = layer.weights[a * layer.cols + j];
      if (w != 0) row += mul_base(eq_s[j], F::from_int(w));
    }
    acc += eq_q[a] * row;
  }
  return acc;
}

// Whether the separable route applies to a layer and costs less than the direct one.
static bool separable_layer(const QuantizedLayer& layer) {
  if (!layer.structured()) return false;
  const std::optional<std::size_t> cost = separable_cost(layer.ops);
  if (!cost) return false;
  std::size_t direct = layer.cols;
  for (const LinearOp& op : layer.ops) direct += op.nnz_bound();
  return *cost <= direct;
}

template <class K>
K layer_weight_mle(const QuantizedLayer& layer, std::span<const K> q, std::span<const K> eq_q, std::span<const K> s,
                   std::vector<K>& eq_s) {
  if (separable_layer(layer)) return separable_weight_mle<K>(layer.ops, q, s);
  eq_s = eq_table<K>(s);
  return weight_mle<K>(layer, eq_q, eq_s);
}

template <class Cfg>
Transcript statement_transcript(const Digest& statement_digest, std::uint32_t version) {
  Transcript t(Cfg::kId, kModeNonInteractive);
  t.absorb("statement", statement_digest);
  if (version >= kPow2ImageVersion) {
    const std::array<unsigned char, 4> v{static_cast<unsigned char>(version), static_cast<unsigned char>(version >> 8),
                                         static_cast<unsigned char>(version >> 16),
                                         static_cast<unsigned char>(version >> 24)};
    t.absorb("version", v);
  }
  return t;
}

template <class Cfg>
Verdict verify_protocol(const Statement<Cfg>& st, VerifierChannel<typename Cfg::K>& ch, std::uint32_t version) {
  using K = typename Cfg::K;
  if (st.batch == 0 || st.input.size() != st.batch * st.model->in_dim() ||
      st.outputs.size() != st.batch * st.model->out_dim())
    return Verdict::reject("statement: the input or output size does not match the model and the batch");
  const ProofLayout layout(*st.model, version);
  const QuantizedModel& model = layout.model();  // the proof's tables: images padded from version 3
  const ProofShape shape{model.dims(), st.batch};
  const std::size_t L = model.depth();

  // Step 1: the claim about the outputs at random (q, r).
  std::vector<K> q = draw_challenges(ch, shape.nu(L));
  std::vector<K> r = draw_challenges(ch, shape.beta());
  std::vector<K> eq_q = eq_table<K>(q), eq_r = eq_table<K>(r);
  K v = sample_major_mle<K>(st.outputs, st.batch, shape.dims[L], eq_q, eq_r);

  std::vector<K> s, point;
  for (std::size_t i = L; i >= 1; --i) {
    const QuantizedLayer& layer = model.layers[i - 1];
    // Step 2.1: remove the bias. m~(r) = sum_{k < b} eq(r, k).
    K mask = K::zero();
    for (std::size_t k = 0; k < st.batch; ++k) mask += eq_r[k];
    v -= bias_mle<K>(layer, eq_q) * mask;

    // Step 2.2: the matrix product, then W~(q, s) * y* against the final claim.
    K claim = sumcheck_verifier(ch, v, shape.nu(i - 1), 2, s);
    K y_star = receive_one(ch);
    std::vector<K> eq_s;  // eq(s, .), built only where needed
    if (claim != layer_weight_mle<K>(layer, q, eq_q, s, eq_s) * y_star)
      return Verdict::reject(layer_name(i) + " matrix-product sum-check: final claim != W~(q,s) * y*");

    if (i == 1) {  // Step 2.3: the input, computed by the verifier itself.
      if (eq_s.empty()) eq_s = eq_table<K>(s);
      // A padded input's rows are moved by the layout: gather eq(s, map[j]) into the input's order.
      if (const auto& map = layout.input_map(); !map.empty()) {
        std::vector<K> moved(map.size());
        for (std::size_t j = 0; j < map.size(); ++j) moved[j] = eq_s[map[j]];
        eq_s = std::move(moved);
      }
      if (y_star != sample_major_mle<K>(st.input, st.batch, st.model->in_dim(), eq_s, eq_r))
        return Verdict::reject("input check: y* != X~(s,r) at layer 1");
      break;
    }

    // Step 2.4: the quadratic activation Y_{i-1} = Z_{i-1} o Z_{i-1}.
    claim = sumcheck_verifier(ch, y_star, shape.nu(i - 1) + shape.beta(), 3, point);
    K z_star = receive_one(ch);
    std::span<const K> r_new(point.data(), shape.beta()), s_new(point.data() + shape.beta(), shape.nu(i - 1));
    if (claim != eq_eval<K>(s, s_new) * eq_eval<K>(r, r_new) * z_star * z_star)
      return Verdict::reject(layer_name(i - 1) + " activation sum-check: final claim != eq(s,s') eq(r,r') z*^2");
    q.assign(s_new.begin(), s_new.end());
    r.assign(r_new.begin(), r_new.end());
    eq_q = eq_table<K>(q);
    eq_r = eq_table<K>(r);
    v = z_star;
  }
  return Verdict::accept();
}

template <class Cfg>
Verdict verify_bundle(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, double min_bits) {
  return verify_bundle(st, bundle, statement_bindings(st), min_bits);
}

template <class Cfg>
Verdict verify_bundle(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, const StatementBindings& bindings,
                      double min_bits) {
  const ProofShape shape{proof_dims(*st.model, bundle.header.version), st.batch};
  if (bundle.outputs != st.outputs) return Verdict::reject("the statement's outputs are not the proof's outputs");
  if (bindings.model != bundle.header.model_binding)
    return Verdict::reject("model digest: the proof was made for another model or other scales");
  if (bindings.input != bundle.header.input_binding)
    return Verdict::reject("input digest: the proof was made for another input");
  Digest digest = statement_digest(st, bindings);
  if (digest != bundle.header.statement_digest)
    return Verdict::reject("statement digest: the header does not match the outputs");
  double bits = shape.soundness_bits(Cfg::kId);
  if (!(bits >= std::max(min_bits, kMinSoundnessBits)))  // negated: a NaN floor rejects
    return Verdict::reject("soundness: " + std::to_string(bits) + " bits is below the floor of " +
                           std::to_string(std::max(min_bits, kMinSoundnessBits)));
  Transcript t = statement_transcript<Cfg>(digest, bundle.header.version);
  FiatShamirVerifierChannel<typename Cfg::K> ch(t, bundle.messages);
  Verdict v = verify_protocol(st, ch, bundle.header.version);
  if (v.accepted && ch.consumed() != bundle.messages.size()) return Verdict::reject("proof has unused messages");
  return v;
}

#define NNP_INSTANTIATE(Cfg)                                                                        \
  template Verdict verify_protocol(const Statement<Cfg>&, VerifierChannel<Cfg::K>&, std::uint32_t); \
  template Transcript statement_transcript<Cfg>(const Digest&, std::uint32_t);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE
#define NNP_INSTANTIATE(Cfg)                                                              \
  template Verdict verify_bundle(const Statement<Cfg>&, const ProofBundle<Cfg>&, double); \
  template Verdict verify_bundle(const Statement<Cfg>&, const ProofBundle<Cfg>&, const StatementBindings&, double);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
template Fp61x2 sumcheck_verifier(VerifierChannel<Fp61x2>&, Fp61x2, unsigned, unsigned, std::vector<Fp61x2>&);
template Fp61 sumcheck_verifier(VerifierChannel<Fp61>&, Fp61, unsigned, unsigned, std::vector<Fp61>&);
template Fp127 sumcheck_verifier(VerifierChannel<Fp127>&, Fp127, unsigned, unsigned, std::vector<Fp127>&);
template Fp61x2 weight_mle(const QuantizedLayer&, std::span<const Fp61x2>, std::span<const Fp61x2>);
template Fp61 weight_mle(const QuantizedLayer&, std::span<const Fp61>, std::span<const Fp61>);
template Fp127 weight_mle(const QuantizedLayer&, std::span<const Fp127>, std::span<const Fp127>);
#define NNP_INSTANTIATE_LAYER(K)                                                                                 \
  template K layer_weight_mle(const QuantizedLayer&, std::span<const K>, std::span<const K>, std::span<const K>, \
                              std::vector<K>&);
NNP_INSTANTIATE_LAYER(Fp61x2)
NNP_INSTANTIATE_LAYER(Fp61)
NNP_INSTANTIATE_LAYER(Fp127)
#undef NNP_INSTANTIATE_LAYER
#undef NNP_INSTANTIATE

}  // namespace nnproof
