// SPDX-License-Identifier: Apache-2.0
#include <fmt/core.h>

#include <chrono>
#include <memory>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/npy.hpp"
#include "verifier/image_layout.hpp"

namespace nnproof::cli {
namespace {

struct ProveOptions {
  std::string model, input, proof, output, labels_out, field, engine = "auto";
  ScaleOptions scales;
  int threads = 0;
  std::uint32_t proof_version = kProofVersion;
};

int run_prove(const ProveOptions& o) {
  (void)parse_field_flag(o.field);  // a bad --field is refused before any work
  OutputFiles files({{o.proof, "--proof"}, {o.output, "--output"}, {o.labels_out, "--labels-out"}});
  Problem p = load_problem(o.model, o.input, {o.scales.alpha, o.scales.beta});
  const FieldId field = choose_field(o.field, p.float_model);
  check_magnitudes(p.model, p.input, field);
  return with_file_field(field, [&]<class Cfg>() {
    auto engine = make_engine<Cfg>(o.engine, o.threads, dense_work(p.model, p.batch));
    Statement<Cfg> st = make_statement<Cfg>(p);
    const ProgressFn progress = terminal_progress();
    auto t0 = std::chrono::steady_clock::now();
    ProofBundle<Cfg> bundle = prove_bundle(*engine, st, progress, o.proof_version);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    files.stage_bytes(o.proof, serialize_bundle(bundle));
    if (!o.output.empty())
      files.stage(o.output, [&](const std::string& tmp) {
        write_npy_f64(tmp, {p.batch, p.model.out_dim()}, dequantize_outputs(p.model, st.outputs));
      });
    if (!o.labels_out.empty())
      files.stage(o.labels_out, [&](const std::string& tmp) {
        write_npy_i64(tmp, {p.batch}, argmax_labels(st.outputs, p.batch, p.model.out_dim()));
      });
    files.commit();
    const ProofShape shape{proof_dims(p.model, bundle.header.version), p.batch};
    fmt::print(stderr,
               "{}proved {} samples on the {} engine in {:.3f} s: {}, {:.1f} bits, proof {} bytes + outputs -> {}\n",
               progress ? "\r\033[K" : "", p.batch, engine->name(), seconds, field_name(field),
               shape.soundness_bits(field), bundle.messages.size() * Cfg::K::kBytes, o.proof);
    return kExitOk;
  });
}

}  // namespace

void add_prove_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ProveOptions>();
  CLI::App* cmd = app.add_subcommand("prove", "run the network on a batch and write the outputs with a proof");
  cmd->add_option("--model", o->model, "ONNX model (.onnx)")->required();
  cmd->add_option("--input", o->input, "inputs (.npy: (b, n_0), or (b, C, H, W) for convolutional models)")->required();
  cmd->add_option("--proof", o->proof, "proof bundle to write (.nnp)")->required();
  cmd->add_option("--field", o->field, "m61 or m127 (default: the model's nnproof.field metadata, else m61)");
  add_engine_options(*cmd, o->engine, o->threads);
  cmd->add_option("--proof-version", o->proof_version,
                  "proof format to write: " + std::to_string(kProofVersion) + " (default) or " +
                      std::to_string(kOldestProofVersion) + " (dense image layout, for older verifiers)")
      ->check(CLI::Range(kOldestProofVersion, kProofVersion));
  cmd->add_option("--output", o->output, "also write the dequantized outputs (.npy, float64, (b, n_L))");
  cmd->add_option("--labels-out", o->labels_out, "also write the argmax class of each sample (.npy, int64, (b,))");
  add_scale_options(*cmd, o->scales);
  cmd->callback([o, &exit_code] { exit_code = run_prove(*o); });
}

}  // namespace nnproof::cli
