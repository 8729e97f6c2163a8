// SPDX-License-Identifier: Apache-2.0
#include "host/prover.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "host/sumcheck_driver.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {
namespace {

void report(const ProgressFn& progress, const std::string& stage) {
  if (progress) progress(stage);
}

}  // namespace

template <class Cfg>
ForwardTrace<Cfg> run_forward(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                              const std::vector<typename Cfg::F>& input, std::size_t batch, const ProgressFn& progress,
                              Activations keep, std::span<const std::size_t> input_rows) {
  using F = typename Cfg::F;
  const std::size_t n0 = layers.front().cols();
  const bool keep_y = keep == Activations::all || engine.proof_reads_activations();
  ForwardTrace<Cfg> tr;
  tr.batch = batch;
  tr.Y.push_back(input_rows.empty() ? engine.input_table(input, n0, batch, {}, 0)
                                    : engine.input_table(input, input_rows.size(), batch, input_rows, n0));
  for (std::size_t i = 1; i <= layers.size(); ++i) {
    report(progress, "forward layer " + std::to_string(i) + "/" + std::to_string(layers.size()));
    if (!keep_y && i < layers.size()) {  // a hidden Z that only the engine's proof reads
      const bool first = i == 1;         // from the input, else from the square of the last Z
      tr.Z.push_back(engine.forward_hidden(layers[i - 1], layers[i], first ? tr.Y.back() : tr.Z.back(), batch,
                                           first ? InputIs::values : InputIs::squared));
    } else if (i == 1 || keep_y) {
      tr.Z.push_back(engine.forward(layers[i - 1], tr.Y.back(), batch));
    } else {
      tr.Z.push_back(engine.forward_of_square(layers[i - 1], tr.Z.back(), batch));
    }
    if (i == layers.size()) break;
    if (keep_y) {
      tr.Y.push_back(engine.square(tr.Z.back()));
    } else {
      Table2D<F> shape;  // Y_i's shape only: the proof reads Z_i (ForwardTrace)
      shape.rows = tr.Z.back().rows, shape.cols = tr.Z.back().cols;
      tr.Y.push_back(std::move(shape));
    }
  }
  engine.to_host(tr.Z.back());  // the outputs; the other tables may stay on the engine's device
  return tr;
}

template <class Cfg>
std::vector<typename Cfg::F> trace_outputs(const ForwardTrace<Cfg>& trace, std::size_t out_dim) {
  std::vector<typename Cfg::F> out(trace.batch * out_dim);
  const auto& Z = trace.Z.back();
  for (std::size_t k = 0; k < trace.batch; ++k)
    for (std::size_t o = 0; o < out_dim; ++o) out[k * out_dim + o] = Z.at(o, k);
  return out;
}

template <class Cfg>
void prove_layers(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                  const ForwardTrace<Cfg>& trace, ProverChannel<typename Cfg::K>& ch, const ProgressFn& progress) {
  using K = typename Cfg::K;
  const std::size_t L = layers.size();
  const unsigned beta = ceil_log2(trace.batch);
  std::vector<K> q = draw_challenges(ch, ceil_log2(layers.back().rows()));
  std::vector<K> r = draw_challenges(ch, beta);
  for (std::size_t i = L; i >= 1; --i) {
    report(progress, "proving layer " + std::to_string(L - i + 1) + "/" + std::to_string(L));
    const auto& layer = layers[i - 1];
    const auto& Y = trace.Y[i - 1];
    const unsigned nu = ceil_log2(layer.cols());
    // Matrix product: sum_j W~(q, j) Y~(j, r), then y* = Y~(s, r).
    SquareCarry<K> carry;  // below the first layer Y = Z o Z: the activation sum-check reuses V's pass
    auto product = engine.layer_product_sumcheck(layer, Y, i == 1 ? nullptr : &trace.Z[i - 2], q, r, carry);
    std::vector<K> s = run_sumcheck(*product, nu, 2, ch);
    const K y_star = product->final_value();
    send_one(ch, y_star);
    if (i == 1) break;
    // Activation: y* = Y~(s, r) = sum eq(s, j) eq(r, k) Z~(j, k)^2, then z* = Z~(s', r').
    auto square = engine.square_sumcheck(trace.Z[i - 2], s, r, y_star, std::move(carry));
    std::vector<K> point = run_sumcheck(*square, nu + beta, 3, ch);
    send_one(ch, square->final_value());
    r.assign(point.begin(), point.begin() + beta);
    q.assign(point.begin() + beta, point.end());
  }
}

template <class Cfg>
ProofBundle<Cfg> prove_bundle(Engine<Cfg>& engine, Statement<Cfg>& st, const ProgressFn& progress,
                              std::uint32_t version) {
  if (version < kOldestProofVersion || version > kProofVersion)
    throw std::invalid_argument("prove_bundle: proof format version " + std::to_string(version) + " is not written");
  // The tables in the version's layout (image_layout.hpp): a padded model, the input's rows moved.
  const ProofLayout layout(*st.model, version);
  const auto layers = field_layers<typename Cfg::F>(layout.model());
  ProofBundle<Cfg> bundle;
  bundle.header.version = version;
  bundle.header.field = Cfg::kId;
  ForwardTrace<Cfg> trace =
      run_forward(engine, layers, st.input, st.batch, progress, Activations::for_proof, layout.input_map());
  st.outputs = trace_outputs(trace, st.model->out_dim());
  // Hashed after the forward pass: prove_s measured ~1% lower than hashing first (PERFORMANCE.md).
  const StatementBindings bindings = statement_bindings(st, input_encoding(version));
  bundle.header.model_binding = bindings.model;
  bundle.header.input_binding = bindings.input;
  bundle.header.statement_digest = statement_digest(st, bindings);
  bundle.header.dims = layout.dims();
  bundle.header.batch = st.batch;
  bundle.outputs = st.outputs;
  Transcript transcript = statement_transcript<Cfg>(bundle.header.statement_digest, version);
  FiatShamirProverChannel<typename Cfg::K> ch(transcript);
  prove_layers(engine, layers, trace, ch, progress);
  bundle.messages = std::move(ch.messages());
  return bundle;
}

#define NNP_INSTANTIATE(Cfg)                                                                                      \
  template ForwardTrace<Cfg> run_forward(Engine<Cfg>&, const std::vector<FieldLayer<Cfg::F>>&,                    \
                                         const std::vector<Cfg::F>&, std::size_t, const ProgressFn&, Activations, \
                                         std::span<const std::size_t>);                                           \
  template std::vector<Cfg::F> trace_outputs(const ForwardTrace<Cfg>&, std::size_t);                              \
  template void prove_layers(Engine<Cfg>&, const std::vector<FieldLayer<Cfg::F>>&, const ForwardTrace<Cfg>&,      \
                             ProverChannel<Cfg::K>&, const ProgressFn&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE
#define NNP_INSTANTIATE(Cfg) \
  template ProofBundle<Cfg> prove_bundle(Engine<Cfg>&, Statement<Cfg>&, const ProgressFn&, std::uint32_t);
NNP_FOR_EACH_FILE_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
