// SPDX-License-Identifier: Apache-2.0
// nnproof prove-training and verify-training (issue 18; docs/TRAINING_PROTOCOL.md).
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/cli/commands.hpp"
#include "host/cli/training_common.hpp"
#include "host/npy.hpp"
#include "host/npz.hpp"
#include "host/training/prover.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "verifier/training/convergence.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/verifier.hpp"

namespace nnproof::cli {
namespace {

constexpr int kExitNotConverged = 3;

struct ProveTrainingOptions {
  std::string model, data, labels, proof, field, engine = "auto";
  std::optional<double> lr;
  int threads = 0;
};

int run_prove_training(const ProveTrainingOptions& o) {
  (void)parse_field_flag(o.field);  // a bad --field is refused before any work
  std::string lr_note;
  const std::uint32_t lr_exponent = learning_rate_exponent(o.lr, lr_note);
  OutputFiles files({{o.proof, "--proof"}});
  if (!lr_note.empty()) fmt::print(stderr, "note: {}\n", lr_note);
  const TrainingProblem tp = load_training_problem(o.model, o.data, o.labels);
  const FieldId field = choose_field(o.field, tp.problem.float_model);
  check_training_magnitudes(tp, field);
  return with_file_field(field, [&]<class Cfg>() {
    // Forward, transposed and batch products: about three times the forward pass's work.
    auto engine = make_engine<Cfg>(o.engine, o.threads, 3 * dense_work(tp.problem.model, tp.problem.batch));
    TrainingStatement<Cfg> st = make_training_statement<Cfg>(tp, lr_exponent);
    const ProgressFn progress = terminal_progress();
    const auto t0 = std::chrono::steady_clock::now();
    const TrainingBundle<Cfg> bundle = prove_training_bundle(*engine, st, progress);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto bytes = serialize_training_bundle(bundle);
    files.stage_bytes(o.proof, bytes);
    files.commit();
    const TrainingShape shape = training_shape(tp.problem.model, tp.problem.batch);
    fmt::print(
        stderr,
        "{}proved the loss and gradients of {} samples on the {} engine in {:.3f} s: {}, {:.1f} bits, {} bytes -> {}\n",
        progress ? "\r\033[K" : "", tp.problem.batch, engine->name(), seconds, field_name(field),
        shape.soundness_bits(field), bytes.size(), o.proof);
    return kExitOk;
  });
}

struct VerifyTrainingOptions {
  std::string model, data, labels, proof, gradient_out, field;
  std::optional<double> lr;
  std::size_t max_changed = 0;
  int threads = 0;
  bool json = false;
};

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

// The verdict's printout: text or one JSON object.
template <class Cfg>
int report_verified(const VerifyTrainingOptions& o, const TrainingProblem& tp, const TrainingStatement<Cfg>& st,
                    std::size_t proof_bytes, OutputFiles& files) {
  const QuantizedModel& m = tp.problem.model;
  const ConvergenceReport r = convergence_report(m, st.claims, st.samples, st.lr_exponent);
  const auto predicted = argmax_labels(st.claims.outputs, st.samples, m.out_dim());
  std::size_t correct = 0;
  for (std::size_t k = 0; k < st.samples; ++k) correct += predicted[k] == tp.labels[k];
  const double accuracy = static_cast<double>(correct) / static_cast<double>(st.samples);
  const bool converged = r.weights_changed <= o.max_changed;
  const double bits = training_shape(m, st.samples).soundness_bits(Cfg::kId);
  const std::string lr = fmt::format("2^-{}", st.lr_exponent);
  if (!o.gradient_out.empty()) write_gradients(files, o.gradient_out, m, st);
  files.commit();
  if (o.json) {
    nlohmann::json j;
    j["verified"] = true;
    j["converged"] = converged;
    j["loss"] = to_decimal(st.claims.loss.centered());
    j["loss_float"] = r.loss_float;
    j["accuracy"] = accuracy;
    j["weights_changed"] = r.weights_changed;
    j["weights_total"] = r.weights_total;
    j["gradient_norms"] = r.gradient_norms;
    j["learning_rate"] = std::exp2(-static_cast<double>(st.lr_exponent));
    j["soundness_bits"] = bits;
    j["proof_bytes"] = proof_bytes;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("VERIFIED\n");
    fmt::print("loss: {} exact, {:.6g} mean squared error per sample\n", to_decimal(st.claims.loss.centered()),
               r.loss_float);
    fmt::print("training accuracy: {:.2f}% ({} of {})\n", 100 * accuracy, correct, st.samples);
    for (std::size_t i = 0; i < r.gradient_norms.size(); ++i)
      fmt::print("gradient norm, layer {}: {:.6g}\n", i + 1, r.gradient_norms[i]);
    fmt::print("soundness: {:.1f} bits, proof {} bytes\n", bits, proof_bytes);
    if (converged)
      fmt::print("CONVERGED: no weight would change at lr {}\n", lr);
    else
      fmt::print("NOT CONVERGED: {} of {} weights would change at lr {}\n", r.weights_changed, r.weights_total, lr);
  }
  return converged ? kExitOk : kExitNotConverged;
}

int reject(const VerifyTrainingOptions& o, const std::string& check) {
  if (o.json)
    fmt::print("{}\n", nlohmann::json{{"verified", false}, {"converged", false}, {"rejected", check}}.dump());
  else
    fmt::print("REJECTED: {}\n", check);
  return kExitRejected;
}

template <class Cfg>
int verify_training_file(const VerifyTrainingOptions& o, const TrainingProblem& tp,
                         const std::vector<unsigned char>& bytes, const TrainingShape& shape, OutputFiles& files) {
  TrainingBundle<Cfg> bundle;
  try {
    bundle = parse_training_bundle<Cfg>(bytes, shape);
  } catch (const ProofFormatError& e) {
    return reject(o, std::string("proof format: ") + e.what());
  }
  std::string lr_note;
  // The client's learning rate, never the server's: the verdict is about the client's rate, and at
  // a tiny rate every step rounds to nothing (TRAINING.md sections 1 and 4).
  const std::uint32_t lr_exponent = learning_rate_exponent(o.lr, lr_note);
  if (!lr_note.empty()) fmt::print(stderr, "note: {}\n", lr_note);
  if (lr_exponent != bundle.header.lr_exponent)
    return reject(o, fmt::format("learning rate: the proof was made for 2^-{}, not your 2^-{} (--lr, default 2^-6)",
                                 bundle.header.lr_exponent, lr_exponent));
  TrainingStatement<Cfg> st = make_training_statement<Cfg>(tp, lr_exponent);
  st.claims = bundle.claims;
  const TrainingBindings bindings = training_bindings(st);
  // A proof about another model or other data is worthless to the client, whoever made the mistake.
  if (bindings.model != bundle.header.model_binding)
    return reject(o, "model binding: the proof was made for another model or other scales (check --model)");
  if (bindings.data != bundle.header.data_binding)
    return reject(o, "data binding: the proof was made for other data or labels (check --data and --labels)");
  const Verdict v = verify_training_bundle(st, bundle, bindings);
  if (!v.accepted) return reject(o, v.failed_check);
  return report_verified(o, tp, st, bytes.size(), files);
}

int run_verify_training(const VerifyTrainingOptions& o) {
  // The client's side first (exit 2): flags, the output path, the proof path, model, data, labels.
  const std::optional<FieldId> want = parse_field_flag(o.field);
  if (o.lr) {
    std::string note;
    (void)learning_rate_exponent(o.lr, note);
  }
  OutputFiles files({{o.gradient_out, "--gradient-out"}});
  check_proof_path(o.proof);
  set_cpu_threads(o.threads);
  const TrainingProblem tp = load_training_problem(o.model, o.data, o.labels);
  const TrainingShape shape = training_shape(tp.problem.model, tp.problem.batch);
  const auto head = read_file_prefix(o.proof, training_bundle_header_size(tp.problem.model.depth()));
  TrainingBundleHeader h;
  try {
    h = parse_training_header(head, tp.problem.model.depth());
  } catch (const ProofFormatError& e) {
    return reject(o, std::string("proof format: ") + e.what());
  }
  if (want && h.field != *want)
    return reject(
        o, fmt::format("field: the proof is over {}, not {} as --field asks", field_name(h.field), field_name(*want)));
  // Exactly the size the trusted model and data imply (plus one byte, to see trailing data).
  const auto bytes = read_file_prefix(o.proof, training_bundle_size(h.field, shape) + 1);
  return with_file_field(h.field, [&]<class Cfg>() { return verify_training_file<Cfg>(o, tp, bytes, shape, files); });
}

}  // namespace

void add_training_proof_commands(CLI::App& app, int& exit_code) {
  {
    auto o = std::make_shared<ProveTrainingOptions>();
    CLI::App* cmd = app.add_subcommand(
        "prove-training", "prove a model's exact loss and gradient over a labelled training set (.nnpt bundle)");
    cmd->add_option("--model", o->model, "the trained model (.onnx, scales in its metadata)")->required();
    cmd->add_option("--data", o->data, "training inputs (.npy, (N, n_0))")->required();
    cmd->add_option("--labels", o->labels, "training labels (.npy, integers, (N,))")->required();
    cmd->add_option("--proof", o->proof, "training-proof bundle to write (.nnpt)")->required();
    cmd->add_option("--lr", o->lr, "learning rate, rounded to a power of two and bound into the proof (default 2^-6)");
    cmd->add_option("--field", o->field, "m61 or m127 (default: the model's nnproof.field metadata, else m61)");
    add_engine_options(*cmd, o->engine, o->threads);
    cmd->callback([o, &exit_code] { exit_code = run_prove_training(*o); });
  }
  {
    auto o = std::make_shared<VerifyTrainingOptions>();
    CLI::App* cmd = app.add_subcommand(
        "verify-training",
        "check a training proof: VERIFIED and CONVERGED (exit 0), NOT CONVERGED (3), REJECTED (1), bad input (2)");
    cmd->add_option("--model", o->model, "the returned model (.onnx)")->required();
    cmd->add_option("--data", o->data, "your training inputs (.npy, (N, n_0))")->required();
    cmd->add_option("--labels", o->labels, "your training labels (.npy, integers, (N,))")->required();
    cmd->add_option("--proof", o->proof, "training-proof bundle (.nnpt)")->required();
    cmd->add_option("--lr", o->lr,
                    "your learning rate, rounded to a power of two (default 2^-6); the proof's must match");
    cmd->add_option("--max-changed", o->max_changed, "weights a further step may change and still count as converged")
        ->default_val(0);
    cmd->add_option("--gradient-out", o->gradient_out,
                    "write the verified gradients in real units (.npz: G1, g1, G2, g2, .. per layer)");
    cmd->add_option("--field", o->field, "m61 or m127: the field the proof must be over (default: the proof's)");
    add_threads_option(*cmd, o->threads);
    cmd->add_flag("--json", o->json, "print one JSON object");
    cmd->callback([o, &exit_code] { exit_code = run_verify_training(*o); });
  }
}

}  // namespace nnproof::cli
