// SPDX-License-Identifier: Apache-2.0
#include <fmt/core.h>

#include <memory>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/npy.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/verifier.hpp"

namespace nnproof::cli {
namespace {

struct VerifyOptions {
  std::string model, input, proof, output, labels_out;
  ScaleOptions scales;
};

template <class Cfg>
int verify_file(const VerifyOptions& o, const Problem& p, const std::vector<unsigned char>& bytes,
                const ProofShape& shape) {
  ProofBundle<Cfg> bundle = parse_bundle<Cfg>(bytes, shape);
  Statement<Cfg> st = make_statement<Cfg>(p);
  st.outputs = bundle.outputs;
  // A proof for another model or input is a usage error (exit 2), not a lying prover.
  const StatementBindings bindings = statement_bindings(st);
  if (bindings.model != bundle.header.model_binding)
    throw UsageError(o.proof +
                     ": the proof was made for another model or other scales; check --model, --alpha and --beta");
  if (bindings.input != bundle.header.input_binding)
    throw UsageError(o.proof + ": the proof was made for another input; check --input");
  // The proof is about the field; its outputs are the network's only if nothing can wrap in the
  // field the prover chose (PROTOCOL.md section 7).
  if (auto wrap = magnitude_violation(magnitude_profile(p.model), max_abs(p.input), Cfg::kId)) {
    fmt::print(
        "REJECTED: magnitude: {}: the field can wrap, so these outputs need not be the network's; "
        "the prover must use --field m127 or smaller scales\n",
        wrap->describe(Cfg::kId));
    return kExitRejected;
  }
  Verdict v = verify_bundle(st, bundle, bindings);
  if (!v.accepted) {
    fmt::print("REJECTED: {}\n", v.failed_check);
    return kExitRejected;
  }
  if (!o.output.empty()) write_npy_f64(o.output, {p.batch, p.model.out_dim()}, dequantize_outputs(p.model, st.outputs));
  if (!o.labels_out.empty())
    write_npy_i64(o.labels_out, {p.batch}, argmax_labels(st.outputs, p.batch, p.model.out_dim()));
  fmt::print("VERIFIED\n");
  return kExitOk;
}

int run_verify(const VerifyOptions& o) {
  Problem p = load_problem(o.model, o.input, {o.scales.alpha, o.scales.beta});
  const ProofShape shape{p.model.dims(), p.batch};
  try {
    // Read the header, then exactly the size the trusted model and input imply (plus one byte, to
    // see trailing data): never a size taken from the file.
    auto head = read_file_prefix(o.proof, bundle_header_size(p.model.depth()));
    BundleHeader h = parse_header(head, p.model.depth());
    auto bytes = read_file_prefix(o.proof, bundle_size(h.field, shape) + 1);
    return with_file_field(h.field, [&]<class Cfg>() { return verify_file<Cfg>(o, p, bytes, shape); });
  } catch (const ProofFormatError& e) {
    throw UsageError(o.proof + ": " + e.what() + "; this is not a valid proof for this model and input");
  }
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand("verify", "check a proof bundle: prints VERIFIED (exit 0) or REJECTED (exit 1)");
  cmd->add_option("--model", o->model, "ONNX model (.onnx)")->required();
  cmd->add_option("--input", o->input, "inputs (.npy: (b, n_0), or (b, C, H, W) for convolutional models)")->required();
  cmd->add_option("--proof", o->proof, "proof bundle (.nnp)")->required();
  cmd->add_option("--output", o->output, "write the verified, dequantized outputs (.npy, float64)");
  cmd->add_option("--labels-out", o->labels_out, "write the verified argmax class of each sample (.npy, int64, (b,))");
  add_scale_options(*cmd, o->scales);
  cmd->callback([o, &exit_code] { exit_code = run_verify(*o); });
}

}  // namespace nnproof::cli
