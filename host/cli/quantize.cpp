// SPDX-License-Identifier: Apache-2.0
// `nnproof quantize`: picks alpha and beta for a float model by calibration (PROTOCOL.md section 7)
// and writes them into the model's metadata, where prove and verify read them.
#include <fmt/core.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/calibrate.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/npy.hpp"
#include "kernels/cpu/cpu_engine.hpp"

namespace nnproof::cli {
namespace {

struct QuantizeOptions {
  std::string model, calibration, labels, out, field = "m61";
  int max_exponent = 12, threads = 0;
  bool json = false;
};

std::vector<std::int64_t> read_labels(const std::string& path) {
  NpyArray y = read_npy(path);
  if (!y.is_integer() || y.shape.size() != 1)
    throw UsageError(path + ": labels must be an integer array of shape (b,); save numpy int64 class indices");
  return y.integers;
}

std::string bits(std::optional<double> log2) {
  if (!log2) return "-";
  return std::isinf(*log2) ? "0" : fmt::format("2^{:.1f}", *log2);
}

// The paper's Table 1 for this model: one row per pair tried.
void print_table(const ScaleSearch& s, FieldId field) {
  fmt::print("{:>7} {:>7} {:>9} {:>12} {:>12}  {}\n", "alpha", "beta", "error", "worst case", "observed",
             fmt::format("in {}?", field_name(field)));
  for (std::size_t i = 0; i < s.trials.size(); ++i) {
    const ScaleTrial& t = s.trials[i];
    fmt::print("{:>7} {:>7} {:>9} {:>12} {:>12}  {}{}\n", t.alpha, t.beta,
               t.accuracy ? fmt::format("{:.2f}%", 100 * (1 - *t.accuracy)) : "-", bits(t.worst_log2),
               bits(t.observed_log2), t.feasible ? "yes" : "no: " + t.why, s.best == i ? "   <- chosen" : "");
  }
}

nlohmann::json to_json(const ScaleSearch& s, FieldId field, const std::string& out) {
  nlohmann::json trials = nlohmann::json::array();
  for (const ScaleTrial& t : s.trials) {
    nlohmann::json j{{"alpha", t.alpha}, {"beta", t.beta}, {"feasible", t.feasible}, {"worst_case_log2", t.worst_log2}};
    if (t.accuracy) j["accuracy"] = *t.accuracy;
    if (t.observed_log2 && std::isfinite(*t.observed_log2)) j["observed_log2"] = *t.observed_log2;
    if (!t.feasible) j["why"] = t.why;
    trials.push_back(j);
  }
  nlohmann::json j{{"field", field_name(field)}, {"trials", trials}, {"out", out}};
  if (s.best)
    j["chosen"] = {{"alpha", s.trials[*s.best].alpha},
                   {"beta", s.trials[*s.best].beta},
                   {"accuracy", *s.trials[*s.best].accuracy}};
  return j;
}

int run_quantize(const QuantizeOptions& o) {
  const FieldId field = parse_field(o.field);
  if (field == FieldId::m61_interactive) throw UsageError("--field: use m61 or m127 (the fields of proof files)");
  if (o.max_exponent < 0 || o.max_exponent > 30) throw UsageError("--max-exponent must be in [0, 30]");
  OutputFiles files({{o.out, "--out"}});
  set_cpu_threads(o.threads);
  const FloatModel model = import_onnx(o.model);
  const NpyArray x = read_npy(o.calibration);
  const std::vector<std::int64_t> labels = read_labels(o.labels);
  const ProgressFn progress = terminal_progress();
  const ScaleSearch s = search_scales(model, x, o.calibration, labels, field, o.max_exponent, progress);
  if (progress) fmt::print(stderr, "\r\033[K");
  if (!s.best) {
    const std::string why = s.trials.empty() ? "no scales tried" : s.trials.front().why;
    throw UsageError(o.model + ": no alpha, beta >= 1 keeps every value inside " + std::string(field_name(field)) +
                     " (" + why + ")" +
                     (field == FieldId::m61 ? "; use --field m127" : "; the network is too deep for exact proofs"));
  }
  const ScaleTrial& best = s.trials[*s.best];
  // The field goes into the metadata too: prove, interactive, train and prove-training default to it.
  files.stage(o.out,
              [&](const std::string& tmp) { write_onnx_with_scales(o.model, tmp, best.alpha, best.beta, field); });
  files.commit();
  if (o.json) {
    fmt::print("{}\n", to_json(s, field, o.out).dump(2));
  } else {
    print_table(s, field);
    fmt::print("chose alpha={} beta={}: calibration accuracy {:.2f}% on {} samples; wrote {} (field {})\n", best.alpha,
               best.beta, 100 * *best.accuracy, labels.size(), o.out, field_name(field));
  }
  return kExitOk;
}

}  // namespace

void add_quantize_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* cmd =
      app.add_subcommand("quantize", "choose the scales alpha, beta by calibration and write them into the model");
  cmd->add_option("--model", o->model, "float ONNX model (.onnx)")->required();
  cmd->add_option("--calibration", o->calibration, "calibration inputs (.npy, as for prove)")->required();
  cmd->add_option("--labels", o->labels, "their class labels (.npy, integers, (b,))")->required();
  cmd->add_option("--out", o->out, "the model with the chosen scales in its metadata (.onnx)")->required();
  cmd->add_option("--field", o->field,
                  "m61 (default) or m127: every value must fit it; written into the model's metadata (nnproof.field)");
  cmd->add_option("--max-exponent", o->max_exponent, "try alpha, beta = 2^0 .. 2^E (default 12)");
  add_threads_option(*cmd, o->threads);
  cmd->add_flag("--json", o->json, "print the table as JSON");
  cmd->callback([o, &exit_code] { exit_code = run_quantize(*o); });
}

}  // namespace nnproof::cli
