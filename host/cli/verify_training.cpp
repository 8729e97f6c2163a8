// SPDX-License-Identifier: Apache-2.0
// verify_training_proof: `nnproof verify-training`'s checks (issue 18; docs/TRAINING_PROTOCOL.md),
// without its printing (host/cli/training.cpp prints, python/src returns the outcome).
#include "host/cli/verify_training.hpp"

#include <fmt/core.h>

#include "host/npy.hpp"
#include "host/npz.hpp"
#include "verifier/training/convergence.hpp"
#include "verifier/training/verifier.hpp"

namespace nnproof::cli {
namespace {

TrainingOutcome reject(const std::string& check) {
  TrainingOutcome r;
  r.reason = check;
  return r;
}

// The verified gradients in real units as .npz: G1, g1, G2, g2, .. (weights as out x in, PyTorch's
// weight.grad layout, and biases), for the mean squared error over the N samples.
template <class Cfg>
void write_gradients(OutputFiles& files, const std::string& path, const QuantizedModel& m,
                     const TrainingStatement<Cfg>& st) {
  const RealGradients g = real_gradients(m, st.claims, st.samples);
  std::vector<std::pair<std::string, std::vector<unsigned char>>> arrays;
  for (std::size_t i = 0; i < m.depth(); ++i) {
    const std::string n = std::to_string(i + 1);
    // A structured layer's G_i is its trained ops' weights in order (one vector), not rows x cols.
    const std::vector<std::size_t> shape = m.layers[i].structured()
                                               ? std::vector<std::size_t>{g.weights[i].size()}
                                               : std::vector<std::size_t>{m.layers[i].rows, m.layers[i].cols};
    arrays.emplace_back("G" + n, npy_bytes_f64(shape, g.weights[i]));
    arrays.emplace_back("g" + n, npy_bytes_f64({m.layers[i].rows}, g.biases[i]));
  }
  files.stage(path, [&](const std::string& tmp) { write_npz(tmp, arrays); });
}

// The verified claims' figures: loss, accuracy, convergence at the client's rate.
template <class Cfg>
TrainingOutcome verified(const VerifyTrainingTargets& t, const TrainingProblem& tp, const TrainingStatement<Cfg>& st,
                         std::size_t proof_bytes, OutputFiles& files) {
  const QuantizedModel& m = tp.problem.model;
  const ConvergenceReport r = convergence_report(m, st.claims, st.samples, st.lr_exponent);
  TrainingOutcome o;
  o.predicted = argmax_labels(st.claims.outputs, st.samples, m.out_dim());
  for (std::size_t k = 0; k < st.samples; ++k) o.correct += o.predicted[k] == tp.labels[k];
  o.samples = st.samples;
  o.accuracy = static_cast<double>(o.correct) / static_cast<double>(st.samples);
  o.converged = r.weights_changed <= t.max_changed;
  o.code = o.converged ? kExitOk : kExitNotConverged;
  o.field = Cfg::kId;
  o.loss = st.claims.loss.centered();
  o.loss_float = r.loss_float;
  o.weights_changed = r.weights_changed;
  o.weights_total = r.weights_total;
  o.gradient_norms = r.gradient_norms;
  o.lr_exponent = st.lr_exponent;
  o.soundness_bits = training_shape(m, st.samples).soundness_bits(Cfg::kId);
  o.proof_bytes = proof_bytes;
  o.outputs.reserve(st.claims.outputs.size());
  for (const auto& y : st.claims.outputs) o.outputs.push_back(y.centered());
  if (!t.gradient_out.empty()) write_gradients(files, t.gradient_out, m, st);
  files.commit();
  return o;
}

template <class Cfg>
TrainingOutcome verify_training_bytes(const VerifyTrainingTargets& t, std::uint32_t lr_exponent,
                                      const std::string& lr_note, const TrainingProblem& tp,
                                      const std::vector<unsigned char>& bytes, const TrainingShape& shape,
                                      OutputFiles& files) {
  TrainingBundle<Cfg> bundle;
  try {
    bundle = parse_training_bundle<Cfg>(bytes, shape);
  } catch (const ProofFormatError& e) {
    return reject(std::string("proof format: ") + e.what());
  }
  // The client's learning rate, never the server's: the verdict is about the client's rate, and at
  // a tiny rate every step rounds to nothing (TRAINING.md sections 1 and 4).
  auto outcome = [&]() -> TrainingOutcome {
    if (lr_exponent != bundle.header.lr_exponent)
      return reject(fmt::format("learning rate: the proof was made for 2^-{}, not your 2^-{} (--lr, default 2^-6)",
                                bundle.header.lr_exponent, lr_exponent));
    TrainingStatement<Cfg> st = make_training_statement<Cfg>(tp, lr_exponent);
    st.claims = bundle.claims;
    const TrainingBindings bindings = training_bindings(st);
    // A proof about another model or other data is worthless to the client, whoever made the mistake.
    if (bindings.model != bundle.header.model_binding)
      return reject("model binding: the proof was made for another model or other scales (check --model)");
    if (bindings.data != bundle.header.data_binding)
      return reject("data binding: the proof was made for other data or labels (check --data and --labels)");
    const Verdict v = verify_training_bundle(st, bundle, bindings);
    if (!v.accepted) return reject(v.failed_check);
    return verified(t, tp, st, bytes.size(), files);
  }();
  outcome.lr_note = lr_note;
  return outcome;
}

}  // namespace

TrainingOutcome verify_training_proof(const TrainingProblem& tp, const ProofReader& read,
                                      const VerifyTrainingTargets& t, OutputFiles& files) {
  std::string lr_note;
  const std::uint32_t lr_exponent = learning_rate_exponent(t.lr, lr_note);  // a bad --lr: UsageError first
  const TrainingShape shape = training_shape(tp.problem.model, tp.problem.batch);
  const auto head = read(training_bundle_header_size(tp.problem.model.depth()));
  TrainingBundleHeader h;
  try {
    h = parse_training_header(head, tp.problem.model.depth());
  } catch (const ProofFormatError& e) {
    return reject(std::string("proof format: ") + e.what());
  }
  if (t.field && h.field != *t.field)
    return reject(
        fmt::format("field: the proof is over {}, not {} as --field asks", field_name(h.field), field_name(*t.field)));
  // Exactly the size the trusted model and data imply (plus one byte, to see trailing data).
  const auto bytes = read(training_bundle_size(h.field, shape) + 1);
  return with_file_field(h.field, [&]<class Cfg>() {
    return verify_training_bytes<Cfg>(t, lr_exponent, lr_note, tp, bytes, shape, files);
  });
}

}  // namespace nnproof::cli
