// SPDX-License-Identifier: Apache-2.0
#include "verifier/verifier.hpp"

#include <array>
#include <string>

#include "core/lazy.hpp"
#include "core/polynomial.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/input_binding.hpp"
#include "verifier/int8_chunk_dot.hpp"
#include "verifier/parallel.hpp"
#include "verifier/public_mle.hpp"
#include "verifier/separable_conv.hpp"
#include "verifier/separable_dense.hpp"
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
  if (layer.structured()) {  // O(nnz): W~(q, s) = sum_j (W^T eq_q)[j] eq_s[j]
    const std::vector<K> A = chain_transpose_apply<K>(layer.ops, eq_q);
    K acc = K::zero();
    for (std::size_t j = 0; j < layer.cols; ++j) acc += A[j] * eq_s[j];
    return acc;
  }
  // Dots of each row with eq(s, .), by the routes of verifier/weight_routes.hpp.
  return dense_rows_mle<K>(layer.weights, layer.rows, layer.cols, eq_q, eq_s);
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
  if (layer.structured() && pooled_dense_applies(layer.ops)) return pooled_dense_weight_mle<K>(layer.ops, q, s);
  eq_s = eq_table<K>(s);
  if (eq_q.empty()) {  // the caller builds eq(q, .) only where a route needs it
    const std::vector<K> built = eq_table<K>(q);
    return weight_mle<K>(layer, built, eq_s);
  }
  return weight_mle<K>(layer, eq_q, eq_s);
}

template <class K>
K layer_bias_mle(const QuantizedLayer& layer, std::span<const K> q, std::vector<K>& eq_q) {
  if (layer.structured() && layer.ops.back().kind == LinearOp::Kind::conv)
    if (const auto b = channel_bias(layer.ops.back().conv, layer.bias))
      return channel_bias_mle<K>(layer.ops.back().conv, *b, q);
  if (eq_q.empty()) eq_q = eq_table<K>(q);
  return bias_mle<K>(layer, eq_q);
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

namespace {

// What the protocol leaves for the input: y* must equal X~(s, r), eq_s = eq(s, .), eq_r = eq(r, .).
template <class K>
struct InputClaim {
  K y_star{};
  std::vector<K> eq_s, eq_r;
};

// Steps 1 and 2 of PROTOCOL.md section 5 down to layer 1's y*, the input check left to the caller
// (which may read the input once for it and its binding together).
template <class Cfg>
Verdict verify_layers(const Statement<Cfg>& st, VerifierChannel<typename Cfg::K>& ch, std::uint32_t version,
                      InputClaim<typename Cfg::K>& input) {
  using K = typename Cfg::K;
  if (st.batch == 0 || input_size(st) != st.batch * st.model->in_dim() ||
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
    v -= layer_bias_mle<K>(layer, q, eq_q) * mask;

    // Step 2.2: the matrix product, then W~(q, s) * y* against the final claim.
    K claim = sumcheck_verifier(ch, v, shape.nu(i - 1), 2, s);
    K y_star = receive_one(ch);
    std::vector<K> eq_s;  // eq(s, .), built only where needed
    if (claim != layer_weight_mle<K>(layer, q, eq_q, s, eq_s) * y_star)
      return Verdict::reject(layer_name(i) + " matrix-product sum-check: final claim != W~(q,s) * y*");

    if (i == 1) {  // Step 2.3: the input, computed by the verifier itself (the caller).
      if (eq_s.empty()) eq_s = eq_table<K>(s);
      // A padded input's rows are moved by the layout: gather eq(s, map[j]) into the input's order.
      if (const auto& map = layout.input_map(); !map.empty()) {
        std::vector<K> moved(map.size());
        for (std::size_t j = 0; j < map.size(); ++j) moved[j] = eq_s[map[j]];
        eq_s = std::move(moved);
      }
      input = {y_star, std::move(eq_s), std::move(eq_r)};
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
    eq_q.clear();  // built by the next layer's bias or W~ route only if it needs it (O(rows))
    eq_r = eq_table<K>(r);
    v = z_star;
  }
  return Verdict::accept();
}

constexpr const char* kInputCheckFailed = "input check: y* != X~(s,r) at layer 1";

}  // namespace

template <class Cfg>
Verdict verify_protocol(const Statement<Cfg>& st, VerifierChannel<typename Cfg::K>& ch, std::uint32_t version) {
  using K = typename Cfg::K;
  InputClaim<K> input;
  Verdict v = verify_layers(st, ch, version, input);
  if (!v.accepted) return v;
  std::vector<typename Cfg::F> storage;  // an input held as small integers, as elements
  if (input.y_star !=
      sample_major_mle<K>(input_elements(st, storage), st.batch, st.model->in_dim(), input.eq_s, input.eq_r))
    return Verdict::reject(kInputCheckFailed);
  return v;
}

namespace {

// The checks that hash no data: the outputs are the file's, the model binding, the soundness floor.
template <class Cfg>
Verdict check_model_and_floor(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, const Digest& model,
                              double min_bits) {
  if (bundle.outputs != st.outputs) return Verdict::reject("the statement's outputs are not the proof's outputs");
  if (model != bundle.header.model_binding)
    return Verdict::reject("model digest: the proof was made for another model or other scales");
  // The soundness of the file's tables (images padded from version 3).
  const double bits = ProofShape{proof_dims(*st.model, bundle.header.version), st.batch}.soundness_bits(Cfg::kId);
  if (!(bits >= std::max(min_bits, kMinSoundnessBits)))  // negated: a NaN floor rejects
    return Verdict::reject("soundness: " + std::to_string(bits) + " bits is below the floor of " +
                           std::to_string(std::max(min_bits, kMinSoundnessBits)));
  return Verdict::accept();
}

// The input binding and the statement digest (from the bindings b) against the header's.
template <class Cfg>
Verdict check_bindings(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, const StatementBindings& b) {
  if (b.input != bundle.header.input_binding) return Verdict::reject(kInputBindingRejection);
  if (statement_digest(st, b) != bundle.header.statement_digest)
    return Verdict::reject("statement digest: the header does not match the outputs");
  return Verdict::accept();
}

}  // namespace

// One read of the data (input_binding.hpp): the challenges are drawn from the header's statement
// digest, and the one parallel pass that evaluates X~(s, r) also hashes the input and the outputs;
// their bindings and the digest they give must then be the header's, so the challenges were drawn
// from this statement's digest. Where the protocol rejects, a header that is not this statement's
// (another input, changed outputs) is named first: that hashes the data once more.
template <class Cfg>
Verdict verify_bundle(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, double min_bits) {
  using K = typename Cfg::K;
  const InputEncoding encoding = input_encoding(bundle.header.version);
  if (st.batch == 0 || input_size(st) != st.batch * st.model->in_dim())
    return Verdict::reject("statement: the input or output size does not match the model and the batch");
  const Digest model = model_binding(st);
  Verdict v = check_model_and_floor(st, bundle, model, min_bits);
  if (!v.accepted) return v;
  // Checked after the pass.
  Transcript t = statement_transcript<Cfg>(bundle.header.statement_digest, bundle.header.version);
  FiatShamirVerifierChannel<K> ch(t, bundle.messages);
  InputClaim<K> claim;
  // Version 3: the outputs' binding (one SHA-256 stream) is hashed beside the layer checks.
  const bool outputs_beside = encoding == InputEncoding::compact;
  Digest outputs{};
  if (outputs_beside)
    with_side_task([&] { v = verify_layers(st, ch, bundle.header.version, claim); },
                   [&] { outputs = output_binding(st); });
  else
    v = verify_layers(st, ch, bundle.header.version, claim);
  if (!v.accepted) {
    const Verdict header = check_bindings(st, bundle, statement_bindings(st, encoding));
    return header.accepted ? v : header;
  }
  InputPass<K> pass =
      input_pass(st, encoding, std::span<const K>(claim.eq_s), std::span<const K>(claim.eq_r), !outputs_beside);
  if (outputs_beside) pass.outputs = outputs;
  v = check_bindings(st, bundle, StatementBindings{model, pass.binding, pass.outputs});
  if (!v.accepted) return v;
  if (claim.y_star != pass.mle) return Verdict::reject(kInputCheckFailed);
  if (ch.consumed() != bundle.messages.size()) return Verdict::reject("proof has unused messages");
  return Verdict::accept();
}

template <class Cfg>
Verdict verify_bundle(const Statement<Cfg>& st, const ProofBundle<Cfg>& bundle, const StatementBindings& bindings,
                      double min_bits) {
  Verdict v = check_model_and_floor(st, bundle, bindings.model, min_bits);
  if (v.accepted) v = check_bindings(st, bundle, bindings);
  if (!v.accepted) return v;
  Transcript t = statement_transcript<Cfg>(bundle.header.statement_digest, bundle.header.version);
  FiatShamirVerifierChannel<typename Cfg::K> ch(t, bundle.messages);
  v = verify_protocol(st, ch, bundle.header.version);
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
#define NNP_INSTANTIATE_BIAS(K) template K layer_bias_mle(const QuantizedLayer&, std::span<const K>, std::vector<K>&);
NNP_INSTANTIATE_BIAS(Fp61x2)
NNP_INSTANTIATE_BIAS(Fp61)
NNP_INSTANTIATE_BIAS(Fp127)
#undef NNP_INSTANTIATE_BIAS

}  // namespace nnproof
