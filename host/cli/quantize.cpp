// SPDX-License-Identifier: Apache-2.0
// `nnproof quantize`: picks alpha and beta for a float model by calibration (PROTOCOL.md section 7)
// and writes them into the model's metadata, where prove and verify read them.
#include <fmt/core.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/calibrate.hpp"
#include "host/calibrate_range.hpp"
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

std::optional<std::vector<std::int64_t>> read_labels(const std::string& path) {
  if (path.empty()) return std::nullopt;
  NpyArray y = read_npy(path);
  if (!y.is_integer() || y.shape.size() != 1)
    throw UsageError(path + ": labels must be an integer array of shape (b,); save numpy int64 class indices");
  return y.integers;
}

std::string bits(std::optional<double> log2) {
  if (!log2) return "-";
  return std::isinf(*log2) ? "0" : fmt::format("2^{:.1f}", *log2);
}

std::string percent(std::optional<double> fraction) { return fraction ? fmt::format("{:.2f}%", 100 * *fraction) : "-"; }

// The paper's Table 1 for this model: one row per pair tried. "error" is against the labels (only
// with labels), "vs float" the exact outputs' relative distance from the float model's, "agree"
// the samples whose argmax is the float model's.
void print_table(const ScaleSearch& s, FieldId field) {
  fmt::print("{:>7} {:>7} {:>9} {:>9} {:>8} {:>12} {:>12}  {}\n", "alpha", "beta", "error", "vs float", "agree",
             "worst case", "observed", fmt::format("in {}?", field_name(field)));
  for (std::size_t i = 0; i < s.trials.size(); ++i) {
    const ScaleTrial& t = s.trials[i];
    fmt::print("{:>7} {:>7} {:>9} {:>9} {:>8} {:>12} {:>12}  {}{}\n", t.alpha, t.beta,
               t.accuracy ? percent(1 - *t.accuracy) : "-",
               t.output_error ? fmt::format("{:.2e}", *t.output_error) : "-", percent(t.agreement), bits(t.worst_log2),
               bits(t.observed_log2), t.feasible ? "yes" : "no: " + t.why, s.best == i ? "   <- chosen" : "");
  }
}

nlohmann::json to_json(const ScaleSearch& s, FieldId field, const std::string& out) {
  nlohmann::json trials = nlohmann::json::array();
  for (const ScaleTrial& t : s.trials) {
    nlohmann::json j{{"alpha", t.alpha}, {"beta", t.beta}, {"feasible", t.feasible}, {"worst_case_log2", t.worst_log2}};
    if (t.accuracy) j["accuracy"] = *t.accuracy;
    if (t.output_error) j["output_error"] = *t.output_error;
    if (t.agreement) j["agreement"] = *t.agreement;
    if (t.observed_log2 && std::isfinite(*t.observed_log2)) j["observed_log2"] = *t.observed_log2;
    if (!t.feasible) j["why"] = t.why;
    trials.push_back(j);
  }
  nlohmann::json j{{"field", field_name(field)}, {"trials", trials}, {"out", out}};
  if (s.best) {
    const ScaleTrial& b = s.trials[*s.best];
    j["chosen"] = {{"alpha", b.alpha},
                   {"beta", b.beta},
                   {"by", s.by_labels ? "labels" : "float outputs"},
                   {"output_error", *b.output_error},
                   {"agreement", *b.agreement}};
    if (b.accuracy) j["chosen"]["accuracy"] = *b.accuracy;
  }
  return j;
}

// Why no pair is feasible, with the fix for that cause: a field bound that every pair breaks
// (a larger field, or a shallower network), or a quantization error no pair tried avoids (such as
// non-integer inputs with --max-exponent 0, which tries alpha = 1 only).
std::string no_pair_message(const ScaleSearch& s, const QuantizeOptions& o, FieldId field) {
  const std::string head = o.model + ": no alpha, beta in [1, 2^" + std::to_string(o.max_exponent) + "] ";
  for (const ScaleTrial& t : s.trials)
    if (t.cause == ScaleTrial::Cause::wraps)
      return head + "keeps every value inside " + std::string(field_name(field)) + " (" + t.why + ")" +
             (field == FieldId::m61 ? "; use --field m127"
                                    : "; the network is too deep or too wide for exact proofs in m127");
  if (s.trials.empty()) return head + "was tried";
  const ScaleTrial& last = s.trials.back();
  if (last.cause == ScaleTrial::Cause::non_integer_inputs)
    return head + "quantizes " + o.calibration + " (" + last.why + "); raise --max-exponent so that alpha can grow";
  return head + "quantizes the model (" + last.why + ")";
}

int run_quantize(const QuantizeOptions& o) {
  const FieldId field = parse_field(o.field);
  if (field == FieldId::m61_interactive) throw UsageError("--field: use m61 or m127 (the fields of proof files)");
  if (o.max_exponent < 0 || o.max_exponent > 30) throw UsageError("--max-exponent must be in [0, 30]");
  OutputFiles files({{o.out, "--out"}});
  set_cpu_threads(o.threads);
  const FloatModel model = import_onnx(o.model);
  const NpyArray x = read_npy(o.calibration);
  const std::optional<std::vector<std::int64_t>> labels = read_labels(o.labels);
  const ProgressFn progress = terminal_progress();
  const ScaleSearch s = search_scales(model, x, o.calibration, labels, field, o.max_exponent, progress);
  if (progress) fmt::print(stderr, "\r\033[K");
  if (!s.best) throw UsageError(no_pair_message(s, o, field));
  const ScaleTrial& best = s.trials[*s.best];
  // The field goes into the metadata too: prove, interactive, train and prove-training default to it;
  // and the calibration range, which prove, verify and interactive compare their input with.
  files.stage(o.out, [&](const std::string& tmp) {
    write_onnx_with_scales(o.model, tmp, best.alpha, best.beta, field, input_range(x));
  });
  files.commit();
  if (o.json) {
    fmt::print("{}\n", to_json(s, field, o.out).dump(2));
  } else {
    print_table(s, field);
    const std::size_t samples = x.shape.empty() ? 0 : x.shape[0];
    if (labels)
      fmt::print(
          "with labels: chose alpha={} beta={}, the most accurate pair (calibration accuracy {:.2f}% on {} samples; "
          "among equally accurate pairs the one closest to the float model's outputs: relative error {:.2e}, same "
          "argmax on {:.2f}%); wrote {} (field {})\n",
          best.alpha, best.beta, 100 * *best.accuracy, samples, *best.output_error, 100 * *best.agreement, o.out,
          field_name(field));
    else
      fmt::print(
          "no labels: chose alpha={} beta={}, the pair whose exact outputs are closest to the float model's "
          "(relative error {:.2e}, same argmax on {:.2f}% of {} samples); wrote {} (field {})\n",
          best.alpha, best.beta, *best.output_error, 100 * *best.agreement, samples, o.out, field_name(field));
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
  cmd->add_option("--labels", o->labels,
                  "their class labels (.npy, integers, (b,)); without, the pair closest to the float model's outputs");
  cmd->add_option("--out", o->out, "the model with the chosen scales in its metadata (.onnx)")->required();
  cmd->add_option("--field", o->field,
                  "m61 (default) or m127: every value must fit it; written into the model's metadata (nnproof.field)");
  cmd->add_option("--max-exponent", o->max_exponent, "try alpha, beta = 2^0 .. 2^E (default 12)");
  add_threads_option(*cmd, o->threads);
  cmd->add_flag("--json", o->json, "print the table as JSON");
  cmd->callback([o, &exit_code] { exit_code = run_quantize(*o); });
}

}  // namespace nnproof::cli
