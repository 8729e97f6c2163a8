// SPDX-License-Identifier: Apache-2.0
#include "host/training/backward.hpp"

#include <stdexcept>
#include <string>

namespace nnproof {
namespace {

void report(const ProgressFn& progress, const std::string& stage) {
  if (progress) progress(stage);
}

// D_L = 2 (Z_L - T) on the host: both tables are zero outside the real n_L x N corner, so D_L is too.
template <class F>
Table2D<F> output_delta(const Table2D<F>& Z, const Table2D<F>& T) {
  if (Z.rows != T.rows || Z.cols != T.cols) throw std::logic_error("run_backward: Z_L and T differ in shape");
  Table2D<F> D(Z.rows, Z.cols);
  for (std::size_t i = 0; i < D.data.size(); ++i) {
    const F d = Z.data[i] - T.data[i];
    D.data[i] = d + d;
  }
  return D;
}

}  // namespace

template <class F>
Table2D<F> target_table(const std::vector<std::int64_t>& labels, std::size_t classes, F scale) {
  Table2D<F> T(padded(classes), padded(labels.size()));
  for (std::size_t k = 0; k < labels.size(); ++k) {
    if (labels[k] < 0 || static_cast<std::size_t>(labels[k]) >= classes)
      throw std::invalid_argument("target_table: label " + std::to_string(labels[k]) + " of sample " +
                                  std::to_string(k) + " is outside [0, " + std::to_string(classes) + ")");
    T.at(static_cast<std::size_t>(labels[k]), k) = scale;
  }
  return T;
}

template <class Cfg>
BackwardTrace<Cfg> run_backward(Engine<Cfg>& engine, const std::vector<FieldLayer<typename Cfg::F>>& layers,
                                const std::vector<typename Cfg::F>& input, const std::vector<std::int64_t>& labels,
                                typename Cfg::F target_scale, const ProgressFn& progress,
                                const OutputsCheck<typename Cfg::F>& check_outputs) {
  if (layers.empty()) throw std::invalid_argument("run_backward: the model has no layers");
  const std::size_t L = layers.size(), N = labels.size();
  if (N == 0) throw std::invalid_argument("run_backward: no samples");
  if (input.size() != N * layers.front().cols())
    throw std::invalid_argument("run_backward: " + std::to_string(input.size()) + " input values for " +
                                std::to_string(N) + " samples of " + std::to_string(layers.front().cols()));
  BackwardTrace<Cfg> tr;
  tr.forward = run_forward(engine, layers, input, N, progress);  // leaves Z_L on the host
  if (check_outputs) check_outputs(trace_outputs(tr.forward, layers.back().rows()));
  tr.target = target_table(labels, layers.back().rows(), target_scale);
  tr.D.resize(L);
  tr.E.resize(L - 1);
  tr.D[L - 1] = output_delta(tr.forward.Z[L - 1], tr.target);
  for (std::size_t i = L; i >= 2; --i) {
    report(progress, "backward layer " + std::to_string(L - i + 1) + "/" + std::to_string(L - 1));
    // The tables stay where the engine keeps them: its own operations read them there, and the
    // defaults (backward_ops.hpp) download what they need (Engine::on_host).
    tr.E[i - 2] = engine.transpose_product(layers[i - 1], tr.D[i - 1]);
    tr.D[i - 2] = engine.double_hadamard(tr.forward.Z[i - 2], tr.E[i - 2]);
  }
  return tr;
}

template <class Cfg>
TrainingClaims<typename Cfg::F> gradient_claims(Engine<Cfg>& engine,
                                                const std::vector<FieldLayer<typename Cfg::F>>& layers,
                                                BackwardTrace<Cfg>& trace) {
  using F = typename Cfg::F;
  const std::size_t L = layers.size(), N = trace.forward.batch, classes = layers.back().rows();
  if (trace.D.size() != L || trace.forward.Z.size() != L)
    throw std::logic_error("gradient_claims: trace depth differs");
  TrainingClaims<F> claims;
  engine.to_host(trace.forward.Z[L - 1]);
  const Table2D<F>& Z = trace.forward.Z[L - 1];
  for (std::size_t o = 0; o < classes; ++o)
    for (std::size_t k = 0; k < N; ++k) {
      const F d = Z.at(o, k) - trace.target.at(o, k);
      claims.loss += d * d;
    }
  for (std::size_t i = 1; i <= L; ++i) {
    const FieldLayer<F>& l = layers[i - 1];
    claims.weight_gradients.push_back(
        l.q->structured() ? engine.structured_gradients(l, trace.D[i - 1], trace.forward.Y[i - 1])
                          : engine.batch_outer_product(trace.D[i - 1], trace.forward.Y[i - 1], l.rows(), l.cols()));
    claims.bias_gradients.push_back(engine.batch_row_sums(trace.D[i - 1], layers[i - 1].rows()));
  }
  claims.outputs = trace_outputs(trace.forward, classes);
  return claims;
}

#define NNP_INSTANTIATE(Cfg)                                                                                     \
  template BackwardTrace<Cfg> run_backward(Engine<Cfg>&, const std::vector<FieldLayer<Cfg::F>>&,                 \
                                           const std::vector<Cfg::F>&, const std::vector<std::int64_t>&, Cfg::F, \
                                           const ProgressFn&, const OutputsCheck<Cfg::F>&);                      \
  template TrainingClaims<Cfg::F> gradient_claims(Engine<Cfg>&, const std::vector<FieldLayer<Cfg::F>>&,          \
                                                  BackwardTrace<Cfg>&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE
// Per base field: M61 and M61Interactive share Fp61.
template Table2D<Fp61> target_table(const std::vector<std::int64_t>&, std::size_t, Fp61);
template Table2D<Fp127> target_table(const std::vector<std::int64_t>&, std::size_t, Fp127);

}  // namespace nnproof
