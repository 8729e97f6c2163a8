// SPDX-License-Identifier: Apache-2.0
#include "host/interactive.hpp"

#include <fmt/core.h>

#include <memory>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/npy.hpp"
#include "kernels/thrust/thrust_engine.hpp"
#include "verifier/image_layout.hpp"

namespace nnproof::cli {
namespace {

struct InteractiveOptions {
  std::string model, input, output, labels_out, field, engine = "auto";
  ScaleOptions scales;
  int threads = 0;
  bool in_process = false;
};

int run_interactive(const InteractiveOptions& o) {
  (void)parse_field_flag(o.field, true);  // a bad --field is refused before any work
  OutputFiles files({{o.output, "--output"}, {o.labels_out, "--labels-out"}});
  Problem p = load_problem(o.model, o.input, {o.scales.alpha, o.scales.beta});
  // m61 by default (challenges from F_p^2, >= 100 bits); m61-interactive only when asked for.
  const FieldId field = choose_field(o.field, p.float_model, true);
  check_magnitudes(p.model, p.input, field);
  return with_field(field, [&]<class Cfg>() {
    auto input = to_field<typename Cfg::F>(p.input);
    std::vector<typename Cfg::F> outputs;
    // The prover is forked before this process runs any parallel region or touches CUDA: neither
    // libgomp (once its threads exist) nor the CUDA runtime (once initialized) survives a fork, so
    // everything above (loading, quantizing, the magnitude check) stays sequential and the child
    // makes its own engine. A hang here means that broke (see docs/ARCHITECTURE.md).
    parse_engine_name(o.engine);                  // a bad name is a usage error here, not a failed child
    if (thrust_engines_built()) cuda_min_work();  // and so is a bad NNPROOF_CUDA_MIN_WORK
    const EngineFactory<Cfg> engine = [&] {
      return make_engine<Cfg>(o.engine, o.threads, dense_work(p.model, p.batch));
    };
    Verdict v = o.in_process ? interactive_in_process(*engine(), p.model, input, p.batch, outputs)
                             : interactive_two_processes(engine, p.model, input, p.batch, outputs);
    const double bits = ProofShape{proof_dims(p.model, kProofVersion), p.batch}.soundness_bits(field);
    fmt::print(stderr, "interactive proof over {} ({}), challenges from the OS CSPRNG: {:.1f} bits of soundness{}\n",
               field_name(field), o.in_process ? "prover thread" : "prover process", bits,
               field == FieldId::m61_interactive ? " (one try per session; proof files need 100)" : "");
    if (!v.accepted) {
      fmt::print("REJECTED: {}\n", v.failed_check);
      return kExitRejected;
    }
    if (!o.output.empty())
      files.stage(o.output, [&](const std::string& tmp) {
        write_npy_f64(tmp, {p.batch, p.model.out_dim()}, dequantize_outputs(p.model, outputs));
      });
    if (!o.labels_out.empty())
      files.stage(o.labels_out, [&](const std::string& tmp) {
        write_npy_i64(tmp, {p.batch}, argmax_labels(outputs, p.batch, p.model.out_dim()));
      });
    files.commit();
    fmt::print("VERIFIED\n");
    return kExitOk;
  });
}

}  // namespace

void add_interactive_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InteractiveOptions>();
  CLI::App* cmd = app.add_subcommand(
      "interactive",
      "prove and verify interactively: a prover process answers a verifier's random challenges over a pipe");
  cmd->add_option("--model", o->model, "ONNX model (.onnx)")->required();
  cmd->add_option("--input", o->input, "inputs (.npy, one sample per row)")->required();
  cmd->add_option("--field", o->field,
                  "m61, m127 or m61-interactive (61-bit challenges, about 55 bits; default: the model's nnproof.field "
                  "metadata, else m61 with challenges from F_p^2)");
  add_engine_options(*cmd, o->engine, o->threads);
  cmd->add_option("--output", o->output, "write the verified, dequantized outputs (.npy, float64)");
  cmd->add_option("--labels-out", o->labels_out, "write the verified argmax class of each sample (.npy, int64, (b,))");
  cmd->add_flag("--in-process", o->in_process, "run the prover on a thread of this process instead of a child process");
  add_scale_options(*cmd, o->scales);
  cmd->callback([o, &exit_code] { exit_code = run_interactive(*o); });
}

}  // namespace nnproof::cli
