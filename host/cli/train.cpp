// SPDX-License-Identifier: Apache-2.0
// `nnproof train`: exact gradient descent on the quantized model (TRAINING.md section 3) on any
// engine, bit for bit the same on every engine, then the trained integers written as ONNX that
// prove and verify read back exactly.
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/cli/training_common.hpp"
#include "host/npy.hpp"
#include "host/training/trainer.hpp"

namespace nnproof::cli {
namespace {

struct TrainCliOptions {
  std::string model, data, labels, out, field, engine = "auto";
  ScaleOptions scales;
  std::size_t epochs = 10, batch = 0;
  std::optional<double> lr;
  std::uint64_t seed = 0;
  int threads = 0;
  bool json = false;
};

int run_train(const TrainCliOptions& o) {
  (void)parse_field_flag(o.field);  // a bad --field is refused before any work
  if (o.epochs == 0) throw UsageError("--epochs must be at least 1");
  std::string lr_note;
  const std::uint32_t e = learning_rate_exponent(o.lr, lr_note);
  OutputFiles files({{o.out, "--out"}});
  TrainingProblem tp = load_training_problem(o.model, o.data, o.labels, {o.scales.alpha, o.scales.beta});
  const FieldId field = choose_field(o.field, tp.problem.float_model);
  Problem& p = tp.problem;
  TrainingData data;
  data.labels = std::move(tp.labels);
  data.input = std::move(p.input);
  TrainOptions opts;
  opts.epochs = o.epochs;
  opts.batch = o.batch;
  opts.lr_exponent = e;
  opts.seed = o.seed;
  if (!lr_note.empty() && !o.json) fmt::print(stderr, "note: {}\n", lr_note);
  return with_file_field(field, [&]<class Cfg>() {
    const std::size_t step_batch = o.batch == 0 || o.batch >= p.batch ? p.batch : o.batch;
    auto engine = make_engine<Cfg>(o.engine, o.threads, dense_work(p.model, step_batch));
    const ProgressFn progress = terminal_progress();
    const auto t0 = std::chrono::steady_clock::now();
    bool converged = false;
    const std::size_t epochs = train(
        *engine, p.model, data, opts,
        [&](const EpochReport& r) {
          converged = r.converged;
          if (o.json) {
            const nlohmann::json j{
                {"epoch", r.epoch},       {"loss", to_decimal(r.loss)},           {"loss_float", r.loss_float},
                {"accuracy", r.accuracy}, {"weights_changed", r.weights_changed}, {"seconds", r.seconds}};
            fmt::print("{}\n", j.dump());
            std::fflush(stdout);
          } else {
            fmt::print(stderr,
                       "{}epoch {}/{}: loss {:.6g}, accuracy {:.2f}%, {} weights changed by the last step, {:.3f} s\n",
                       progress ? "\r\033[K" : "", r.epoch, o.epochs, r.loss_float, 100 * r.accuracy, r.weights_changed,
                       r.seconds);
          }
        },
        progress);
    // The field trained in goes into the metadata: prove-training and prove default to it.
    files.stage(o.out, [&](const std::string& tmp) { write_quantized_onnx(p.model, tmp, field); });
    files.commit();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o.json)
      fmt::print(stderr, "{}trained {} samples for {} epoch{} on the {} engine in {:.3f} s ({}, lr 2^-{}{}) -> {}\n",
                 progress ? "\r\033[K" : "", p.batch, epochs, epochs == 1 ? "" : "s", engine->name(), seconds,
                 field_name(field), e, converged ? ", converged: the last epoch changed no weight" : "", o.out);
    return kExitOk;
  });
}

}  // namespace

void add_train_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TrainCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train", "train the quantized model by exact gradient descent (the same bytes on every engine)");
  cmd->add_option("--model", o->model, "ONNX model (.onnx) with power-of-two scales (from nnproof quantize)")
      ->required();
  cmd->add_option("--data", o->data, "training inputs (.npy, (N, n_0), quantized as prove's --input)")->required();
  cmd->add_option("--labels", o->labels, "their classes (.npy, integers in [0, n_L), (N,))")->required();
  cmd->add_option("--out", o->out, "the trained model (.onnx, float64 weights that quantize back exactly)")->required();
  cmd->add_option("--epochs", o->epochs, "passes over the data (default 10; stops early once nothing changes)");
  cmd->add_option("--batch", o->batch, "samples per step, in an order drawn from --seed (default: the whole set)");
  cmd->add_option("--lr", o->lr, "learning rate, rounded to a power of two (default 2^-6 = 0.015625)");
  cmd->add_option("--field", o->field,
                  "m61 or m127: every value of every step must fit it (default: the model's nnproof.field metadata, "
                  "else m61); written into --out's metadata");
  cmd->add_option("--seed", o->seed, "seed of the batches' order (default 0)");
  add_engine_options(*cmd, o->engine, o->threads);
  add_scale_options(*cmd, o->scales);
  cmd->add_flag("--json", o->json, "one JSON object per epoch on stdout");
  cmd->callback([o, &exit_code] { exit_code = run_train(*o); });
}

}  // namespace nnproof::cli
