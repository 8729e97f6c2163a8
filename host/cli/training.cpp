// SPDX-License-Identifier: Apache-2.0
// nnproof prove-training and verify-training (issue 18; docs/TRAINING_PROTOCOL.md).
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/cli/commands.hpp"
#include "host/cli/training_common.hpp"
#include "host/cli/verify_training.hpp"
#include "host/npy.hpp"
#include "host/npz.hpp"
#include "host/training/prover.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "verifier/training/convergence.hpp"
#include "verifier/training/magnitude.hpp"
#include "verifier/training/verifier.hpp"

namespace nnproof::cli {
namespace {

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
  // The forward pass; the backward's bound reads the outputs (with the same profile).
  const MagnitudeProfile profile = check_training_magnitudes(tp, field);
  return with_file_field(field, [&]<class Cfg>() {
    // Forward, transposed and batch products: about three times the forward pass's work.
    auto engine = make_engine<Cfg>(o.engine, o.threads, 3 * dense_work(tp.problem.model, tp.problem.batch));
    TrainingStatement<Cfg> st = make_training_statement<Cfg>(tp, lr_exponent);
    const ProgressFn progress = terminal_progress();
    const auto t0 = std::chrono::steady_clock::now();
    // The verifier's bound on the backward values, from the forward pass's outputs (exact: the
    // forward bound held), before the backward pass: a bundle it would reject is never computed.
    const auto check = backward_magnitude_check<typename Cfg::F>(tp, profile, field);
    const TrainingBundle<Cfg> bundle = prove_training_bundle(*engine, st, progress, [&](const auto& outputs) {
      try {
        check(outputs);
      } catch (const UsageError&) {
        if (progress) fmt::print(stderr, "\r\033[K");  // the error's line, not after the progress
        throw;
      }
    });
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

// The verdict's printout: text or one JSON object.
void report_verified(const VerifyTrainingOptions& o, const TrainingOutcome& r) {
  const std::string lr = fmt::format("2^-{}", r.lr_exponent);
  if (o.json) {
    nlohmann::json j;
    j["verified"] = true;
    j["converged"] = r.converged;
    j["loss"] = to_decimal(r.loss);
    j["loss_float"] = r.loss_float;
    j["accuracy"] = r.accuracy;
    j["weights_changed"] = r.weights_changed;
    j["weights_total"] = r.weights_total;
    j["gradient_norms"] = r.gradient_norms;
    j["learning_rate"] = std::exp2(-static_cast<double>(r.lr_exponent));
    j["soundness_bits"] = r.soundness_bits;
    j["proof_bytes"] = r.proof_bytes;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("VERIFIED\n");
    fmt::print("loss: {} exact, {:.6g} mean squared error per sample\n", to_decimal(r.loss), r.loss_float);
    fmt::print("training accuracy: {:.2f}% ({} of {})\n", 100 * r.accuracy, r.correct, r.samples);
    for (std::size_t i = 0; i < r.gradient_norms.size(); ++i)
      fmt::print("gradient norm, layer {}: {:.6g}\n", i + 1, r.gradient_norms[i]);
    fmt::print("soundness: {:.1f} bits, proof {} bytes\n", r.soundness_bits, r.proof_bytes);
    if (r.converged)
      fmt::print("CONVERGED: no weight would change at lr {}\n", lr);
    else
      fmt::print("NOT CONVERGED: {} of {} weights would change at lr {}\n", r.weights_changed, r.weights_total, lr);
  }
}

void report_rejected(const VerifyTrainingOptions& o, const std::string& check) {
  if (o.json)
    fmt::print("{}\n", nlohmann::json{{"verified", false}, {"converged", false}, {"rejected", check}}.dump());
  else
    fmt::print("REJECTED: {}\n", check);
}

int run_verify_training(const VerifyTrainingOptions& o) {
  // The client's side first (exit 2): flags, the output path, the proof path, model, data, labels.
  const VerifyTrainingTargets t{parse_field_flag(o.field), o.lr, o.max_changed, o.gradient_out};
  if (o.lr) {
    std::string note;
    (void)learning_rate_exponent(o.lr, note);
  }
  OutputFiles files({{o.gradient_out, "--gradient-out"}});
  check_proof_path(o.proof);
  set_cpu_threads(o.threads);
  const TrainingProblem tp = load_training_problem(o.model, o.data, o.labels);
  const TrainingOutcome r = verify_training_proof(
      tp, [&](std::size_t max_bytes) { return read_file_prefix(o.proof, max_bytes); }, t, files);
  if (!r.lr_note.empty()) fmt::print(stderr, "note: {}\n", r.lr_note);
  if (!r.verified()) {
    report_rejected(o, r.reason);
    return r.code;
  }
  report_verified(o, r);
  return r.code;
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
