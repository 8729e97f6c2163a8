// SPDX-License-Identifier: Apache-2.0
// `nnproof verify`: exit 0 VERIFIED, 1 `REJECTED: <reason>` for anything wrong with what the server
// sent (the bundle's format, its field, bindings to another model, input or scales, the magnitude
// bound, the protocol), 2 only for the client's own mistakes (its model, input, flags, an
// unreadable proof path). A rejected run writes nothing.
#include "host/cli/verify.hpp"

#include <fmt/core.h>

#include <memory>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/npy.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/verifier.hpp"

namespace nnproof::cli {
namespace {

struct VerifyOptions {
  std::string model, input, proof, output, labels_out, field;
  ScaleOptions scales;
  int threads = 0;
};

VerifyOutcome reject(const std::string& reason) {
  VerifyOutcome r;
  r.reason = reason;
  return r;
}

// What the prover should have done instead, for a proof in `field` (m127 is already the widest).
std::string wrap_fix(FieldId field) {
  return field == FieldId::m127 ? "the model needs smaller scales (nnproof quantize) or a smaller batch"
                                : "the prover must use --field m127 or smaller scales";
}

template <class Cfg>
VerifyOutcome verify_bytes(const Problem& p, const std::vector<unsigned char>& bytes, const ProofShape& shape,
                           const VerifyTargets& t, OutputFiles& files) {
  ProofBundle<Cfg> bundle = parse_bundle<Cfg>(bytes, shape);
  Statement<Cfg> st = make_statement<Cfg>(p);
  hold_input_small(st);  // quantized inputs: the verifier reads them as small integers
  st.outputs = bundle.outputs;
  // The header names the model (with scales) and the input the proof is about: a proof about
  // anything but the client's own is worthless to it, whoever made the mistake. verify_bundle
  // reads the input once, for its binding and X~(s, r), and names another input as such.
  if (model_binding(st) != bundle.header.model_binding)
    return reject(
        "model binding: the proof was made for another model or other scales (check --model, --alpha and "
        "--beta)");
  Verdict v = verify_bundle(st, bundle);
  if (!v.accepted)
    return reject(v.failed_check == kInputBindingRejection ? v.failed_check + " (check --input)" : v.failed_check);
  // The proof is about the field; its outputs are the network's only if nothing can wrap in the
  // field the prover chose (PROTOCOL.md section 7).
  if (auto wrap = magnitude_violation(magnitude_profile(p.model), max_abs(p.input), Cfg::kId))
    return reject(fmt::format("magnitude: {}: the field can wrap, so these outputs need not be the network's; {}",
                              wrap->describe(Cfg::kId), wrap_fix(Cfg::kId)));
  if (!t.output.empty())
    files.stage(t.output, [&](const std::string& tmp) {
      write_npy_f64(tmp, {p.batch, p.model.out_dim()}, dequantize_outputs(p.model, st.outputs));
    });
  VerifyOutcome ok;
  ok.code = kExitOk;
  ok.field = Cfg::kId;
  ok.soundness_bits = shape.soundness_bits(Cfg::kId);
  ok.labels = argmax_labels(st.outputs, p.batch, p.model.out_dim());
  if (!t.labels_out.empty())
    files.stage(t.labels_out, [&](const std::string& tmp) { write_npy_i64(tmp, {p.batch}, ok.labels); });
  files.commit();
  return ok;
}

int run_verify(const VerifyOptions& o) {
  // The client's side first: flags, output paths, the proof path, the model and the input (exit 2).
  const VerifyTargets t{parse_field_flag(o.field), o.output, o.labels_out};
  OutputFiles files({{o.output, "--output"}, {o.labels_out, "--labels-out"}});
  check_proof_path(o.proof);
  set_cpu_threads(o.threads);
  Problem p = load_problem(o.model, o.input, {o.scales.alpha, o.scales.beta});
  const VerifyOutcome r = verify_proof(
      p, [&](std::size_t max_bytes) { return read_file_prefix(o.proof, max_bytes); }, t, files);
  if (r.code != kExitOk) {
    fmt::print("REJECTED: {}\n", r.reason);
    return r.code;
  }
  fmt::print("VERIFIED\n");
  return kExitOk;
}

}  // namespace

VerifyOutcome verify_proof(const Problem& p, const ProofReader& read, const VerifyTargets& t, OutputFiles& files) {
  try {
    // Read the header, then exactly the size the trusted model and input imply (plus one byte, to
    // see trailing data): never a size taken from the proof.
    auto head = read(bundle_header_size(p.model.depth()));
    BundleHeader h = parse_header(head, p.model.depth());
    const ProofShape shape{proof_dims(p.model, h.version), p.batch};  // the tables of the file's version
    if (t.field && h.field != *t.field)
      return reject(fmt::format("field: the proof is over {}, not {} as --field asks", field_name(h.field),
                                field_name(*t.field)));
    auto bytes = read(bundle_size(h.field, shape) + 1);
    return with_file_field(h.field, [&]<class Cfg>() { return verify_bytes<Cfg>(p, bytes, shape, t, files); });
  } catch (const ProofFormatError& e) {
    return reject(std::string("proof format: ") + e.what());
  }
}

void add_verify_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "check a proof bundle: VERIFIED (exit 0), REJECTED (1), your own files or flags wrong (2)");
  cmd->add_option("--model", o->model, "ONNX model (.onnx)")->required();
  cmd->add_option("--input", o->input, "inputs (.npy: (b, n_0), or (b, C, H, W) for convolutional models)")->required();
  cmd->add_option("--proof", o->proof, "proof bundle (.nnp)")->required();
  cmd->add_option("--field", o->field, "m61 or m127: the field the proof must be over (default: the proof's)");
  cmd->add_option("--output", o->output, "write the verified, dequantized outputs (.npy, float64)");
  cmd->add_option("--labels-out", o->labels_out, "write the verified argmax class of each sample (.npy, int64, (b,))");
  add_threads_option(*cmd, o->threads);
  add_scale_options(*cmd, o->scales);
  cmd->callback([o, &exit_code] { exit_code = run_verify(*o); });
}

}  // namespace nnproof::cli
