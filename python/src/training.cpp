// SPDX-License-Identifier: Apache-2.0
// train, prove_training and verify_training: the steps of `nnproof train`, `prove-training` and
// `verify-training`, through the same library functions (verify-training's checks are
// cli::verify_training_proof itself), with the GIL released while they run. The data and labels
// arrive as paths (the Python layer writes arrays to .npy files), read as the CLI reads them.
#include "bindings.hpp"
#include "host/cli/training_common.hpp"
#include "host/cli/verify_training.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/training/prover.hpp"
#include "host/training/trainer.hpp"
#include "kernels/cpu/cpu_engine.hpp"

namespace nnproof::python {
namespace {

struct Trained {
  std::vector<EpochReport> epochs;
  std::string engine, field;
};

// `nnproof train`: exact gradient descent on the quantized model, the result written to `out`
// (float64 weights that quantize back exactly, the field in the metadata).
Trained train_model(const std::string& model, const std::string& data, const std::string& labels,
                    const std::string& out, const std::string& field_flag, const std::string& engine,
                    std::size_t epochs, std::size_t batch, std::optional<double> lr, std::uint64_t seed,
                    const ScaleChoice& sc) {
  (void)cli::parse_field_flag(field_flag);
  if (epochs == 0) throw InputError("epochs must be at least 1");
  std::string note;
  TrainOptions opts;
  opts.epochs = epochs;
  opts.batch = batch;
  opts.lr_exponent = cli::learning_rate_exponent(lr, note);
  opts.seed = seed;
  cli::TrainingProblem tp = cli::load_training_problem(model, data, labels, sc);
  const FieldId field = cli::choose_field(field_flag, tp.problem.float_model);
  cli::Problem& p = tp.problem;
  TrainingData td;
  td.labels = std::move(tp.labels);
  td.input = std::move(p.input);
  return cli::with_file_field(field, [&]<class Cfg>() {
    const std::size_t step_batch = batch == 0 || batch >= p.batch ? p.batch : batch;
    auto eng = make_engine<Cfg>(engine, 0, dense_work(p.model, step_batch));
    Trained r;
    (void)nnproof::train(*eng, p.model, td, opts, [&](const EpochReport& e) { r.epochs.push_back(e); });
    write_quantized_onnx(p.model, out, field);
    r.engine = eng->name();
    r.field = field_name(field);
    return r;
  });
}

py::dict py_train(const std::string& model, const std::string& data, const std::string& labels, const std::string& out,
                  const std::string& field, const std::string& engine, std::size_t epochs, std::size_t batch,
                  std::optional<double> lr, std::uint64_t seed, std::optional<double> alpha,
                  std::optional<double> beta) {
  const Trained r = call_library([&] {
    return train_model(model, data, labels, out, field, engine, epochs, batch, lr, seed, scales(alpha, beta));
  });
  py::list history;
  for (const EpochReport& e : r.epochs) {
    py::dict d;
    d["epoch"] = e.epoch;
    d["loss"] = to_int(e.loss);
    d["loss_float"] = e.loss_float;
    d["accuracy"] = e.accuracy;
    d["weights_changed"] = e.weights_changed;
    d["converged"] = e.converged;
    d["seconds"] = e.seconds;
    history.append(d);
  }
  py::dict d;
  d["history"] = history;
  d["engine"] = r.engine;
  d["field"] = r.field;
  return d;
}

// `nnproof prove-training`: the field from `field` or the model's metadata, the forward's magnitudes
// checked first, the backward's (from the outputs) before the bundle is returned.
std::vector<unsigned char> prove_training(const std::string& model, const std::string& data, const std::string& labels,
                                          const std::string& field_flag, const std::string& engine,
                                          std::optional<double> lr) {
  (void)cli::parse_field_flag(field_flag);
  std::string note;
  const std::uint32_t lr_exponent = cli::learning_rate_exponent(lr, note);
  const cli::TrainingProblem tp = cli::load_training_problem(model, data, labels);
  const FieldId field = cli::choose_field(field_flag, tp.problem.float_model);
  const MagnitudeProfile profile = cli::check_training_magnitudes(tp, field);
  return cli::with_file_field(field, [&]<class Cfg>() {
    // Forward, transposed and batch products: about three times the forward pass's work.
    auto eng = make_engine<Cfg>(engine, 0, 3 * dense_work(tp.problem.model, tp.problem.batch));
    TrainingStatement<Cfg> st = cli::make_training_statement<Cfg>(tp, lr_exponent);
    // The backward values' bound reads the outputs, as verify-training does: no bundle it rejects.
    const TrainingBundle<Cfg> bundle =
        prove_training_bundle(*eng, st, {}, cli::backward_magnitude_check<typename Cfg::F>(tp, profile, field));
    return serialize_training_bundle(bundle);
  });
}

py::bytes py_prove_training(const std::string& model, const std::string& data, const std::string& labels,
                            const std::string& field, const std::string& engine, std::optional<double> lr) {
  const std::vector<unsigned char> b =
      call_library([&] { return prove_training(model, data, labels, field, engine, lr); });
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// `nnproof verify-training` through cli::verify_training_proof: the same checks and reasons.
py::dict py_verify_training(const std::string& model, const std::string& data, const std::string& labels,
                            const py::bytes& proof, const std::string& field, std::optional<double> lr,
                            std::size_t max_changed) {
  const std::string bytes(proof);
  std::size_t classes = 0;
  const cli::TrainingOutcome r = call_library([&] {
    const cli::VerifyTrainingTargets t{cli::parse_field_flag(field), lr, max_changed, ""};
    std::string note;
    (void)cli::learning_rate_exponent(lr, note);  // a bad lr is the caller's, before any file
    cli::OutputFiles files;
    const cli::TrainingProblem tp = cli::load_training_problem(model, data, labels);
    classes = tp.problem.model.out_dim();
    const cli::ProofReader read = [&](std::size_t max_bytes) {
      const std::size_t n = std::min(max_bytes, bytes.size());
      return std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    };
    return cli::verify_training_proof(tp, read, t, files);
  });
  py::dict d;
  d["accepted"] = r.verified();
  d["reason"] = r.reason;
  if (!r.verified()) return d;
  d["converged"] = r.converged;
  d["field"] = std::string(field_name(r.field));
  d["loss"] = to_int(r.loss);
  d["loss_float"] = r.loss_float;
  d["accuracy"] = r.accuracy;
  d["weights_changed"] = r.weights_changed;
  d["weights_total"] = r.weights_total;
  d["gradient_norms"] = r.gradient_norms;
  d["learning_rate"] = std::exp2(-static_cast<double>(r.lr_exponent));
  d["soundness_bits"] = r.soundness_bits;
  d["proof_bytes"] = r.proof_bytes;
  d["labels"] = to_array(r.predicted);
  d["exact"] = to_int_rows(r.outputs, classes);
  return d;
}

}  // namespace

void bind_training(py::module_& m) {
  using namespace pybind11::literals;
  m.def("train", &py_train, "model"_a, "data"_a, "labels"_a, "out"_a, "field"_a, "engine"_a, "epochs"_a, "batch"_a,
        "lr"_a, "seed"_a, "alpha"_a, "beta"_a,
        "Trains the quantized model (as `nnproof train`), writing it to out: a dict with history, engine, field.");
  m.def("prove_training", &py_prove_training, "model"_a, "data"_a, "labels"_a, "field"_a, "engine"_a, "lr"_a,
        "Proves the loss and gradients (as `nnproof prove-training`): the bundle's bytes.");
  m.def("verify_training", &py_verify_training, "model"_a, "data"_a, "labels"_a, "proof"_a, "field"_a, "lr"_a,
        "max_changed"_a,
        "Verifies a training bundle (as `nnproof verify-training`): a dict with accepted, reason and, when "
        "accepted, the verified figures.");
}

}  // namespace nnproof::python
