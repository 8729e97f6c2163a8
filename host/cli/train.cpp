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
#include "host/npy.hpp"
#include "host/training/trainer.hpp"

namespace nnproof::cli {
namespace {

// The default learning rate, 2^-6: on the quadratic networks nnproof proves (squared activations
// make the loss surface steep), larger rates diverged on the examples tried, and smaller ones
// round most steps to zero at 8-bit weight scales.
constexpr std::uint32_t kDefaultLrExponent = 6;

struct TrainCliOptions {
  std::string model, data, labels, out, field = "m61", engine = "auto";
  ScaleOptions scales;
  std::size_t epochs = 10, batch = 0;
  std::optional<double> lr;
  std::uint64_t seed = 0;
  int threads = 0;
  bool json = false;
};

// N class indices in [0, classes): an integer .npy of shape (N,) or (N, 1).
std::vector<std::int64_t> read_labels(const std::string& path, std::size_t samples, std::size_t classes) {
  const NpyArray y = read_npy(path);
  const bool column = y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1);
  if (!y.is_integer() || !column)
    throw UsageError(path + ": labels must be an integer array of shape (N,); save numpy int64 class indices");
  if (y.integers.size() != samples)
    throw UsageError(path + ": holds " + std::to_string(y.integers.size()) + " labels for " + std::to_string(samples) +
                     " samples; give one label per row of --data");
  for (std::size_t k = 0; k < samples; ++k)
    if (y.integers[k] < 0 || static_cast<std::size_t>(y.integers[k]) >= classes)
      throw UsageError(path + ": label " + std::to_string(k) + " is " + std::to_string(y.integers[k]) +
                       ", outside the model's " + std::to_string(classes) + " classes; labels must be class indices");
  return y.integers;
}

// --lr rounded to the nearest power of two in log scale: eta = 2^-e, e >= 0.
std::uint32_t lr_exponent(const std::optional<double>& lr) {
  if (!lr) return kDefaultLrExponent;
  if (!(*lr > 0) || *lr > 1 || !std::isfinite(*lr))
    throw UsageError("--lr must be in (0, 1]; it is rounded to a power of two");
  const double e = std::round(-std::log2(*lr));
  if (e > 200) throw UsageError("--lr is below 2^-200; every step would round to nothing");
  return static_cast<std::uint32_t>(e);
}

std::string exact_integer(i128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  u128 m = neg ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v);
  std::string s;
  for (; m != 0; m /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
  if (neg) s.insert(s.begin(), '-');
  return s;
}

int run_train(const TrainCliOptions& o) {
  const FieldId field = parse_field(o.field);
  if (field == FieldId::m61_interactive) throw UsageError("--field: use m61 or m127");
  if (o.epochs == 0) throw UsageError("--epochs must be at least 1");
  const std::uint32_t e = lr_exponent(o.lr);
  Problem p = load_problem(o.model, o.data, {o.scales.alpha, o.scales.beta});
  TrainingData data;
  data.labels = read_labels(o.labels, p.batch, p.model.out_dim());
  data.input = std::move(p.input);
  TrainOptions opts;
  opts.epochs = o.epochs;
  opts.batch = o.batch;
  opts.lr_exponent = e;
  opts.seed = o.seed;
  const double eta = std::ldexp(1.0, -static_cast<int>(e));
  if (o.lr && *o.lr != eta && !o.json) fmt::print(stderr, "learning rate {} rounded to 2^-{} = {}\n", *o.lr, e, eta);
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
                {"epoch", r.epoch},       {"loss", exact_integer(r.loss)},        {"loss_float", r.loss_float},
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
    write_quantized_onnx(p.model, o.out);
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
  cmd->add_option("--field", o->field, "m61 (default) or m127: every value of every step must fit it");
  cmd->add_option("--seed", o->seed, "seed of the batches' order (default 0)");
  add_engine_options(*cmd, o->engine, o->threads);
  add_scale_options(*cmd, o->scales);
  cmd->add_flag("--json", o->json, "one JSON object per epoch on stdout");
  cmd->callback([o, &exit_code] { exit_code = run_train(*o); });
}

}  // namespace nnproof::cli
