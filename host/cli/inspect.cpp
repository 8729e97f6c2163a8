// SPDX-License-Identifier: Apache-2.0
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/cli/inspect_view.hpp"
#include "nnproof/version.hpp"
#include "verifier/chunked.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/training/bundle.hpp"

namespace nnproof::cli {
namespace {

// Rows of outputs the text view prints unless --all.
constexpr std::size_t kTextRows = 10;

struct InspectOptions {
  std::string proof, model;
  ScaleOptions scales;
  bool json = false, dequantize = false, all = false;
};

// inspect --model: the client's model, which gives the outputs' scale. The proof must have been made
// for it (its dimensions and model binding), else the scale would describe another network.
template <class Cfg>
void check_model(const InspectOptions& o, const QuantizedModel& m, const BundleHeader& h) {
  if (proof_dims(m, h.version) != h.dims)
    throw UsageError(o.proof + ": the proof's dimensions are not those of " + o.model +
                     ": it was made for another model; give the model it was proved with");
  Statement<Cfg> st;
  st.model = &m;
  st.model_digest = model_digest(m);
  if (model_binding(st) != h.model_binding)
    throw UsageError(o.proof + ": the proof was made for another model or other scales than " + o.model +
                     "; check --model, --alpha and --beta");
}

int print_bundle(const InspectOptions& o, const BundleView& v, const std::optional<QuantizedModel>& model) {
  const std::size_t n_out = v.dims.back();
  const std::size_t chunks = v.chunk_batches.size();
  const double bits = v.soundness_bits;
  const std::size_t proof_bytes = v.proof_bytes;
  std::vector<std::vector<std::string>> outputs(v.batch);
  for (std::size_t k = 0; k < v.batch; ++k)
    for (std::size_t j = 0; j < n_out; ++j) outputs[k].push_back(to_decimal(v.outputs[k * n_out + j]));
  // Dequantized: centered / s_Z(L), then the model's final (log-)softmax, as prove --output writes them.
  std::vector<double> floats;
  if (o.dequantize) floats = dequantize_outputs(*model, v.outputs);
  if (o.json) {
    nlohmann::json j;
    j["nnproof_version"] = NNPROOF_VERSION;
    j["kind"] = "inference";
    j["field"] = std::string(field_name(v.field));
    j["batch"] = v.batch;
    j["dims"] = v.dims;
    j["soundness_bits"] = bits;
    j["proof_bytes"] = proof_bytes;
    j["chunks"] = chunks;
    j["chunk_batches"] = v.chunk_batches;
    j["outputs"] = outputs;
    if (model) j["output_scale"] = model->output_scale();  // s_Z(L): every output shares it
    if (o.dequantize) {
      std::vector<std::vector<double>> rows(v.batch);
      for (std::size_t k = 0; k < v.batch; ++k)
        rows[k].assign(floats.begin() + static_cast<std::ptrdiff_t>(k * n_out),
                       floats.begin() + static_cast<std::ptrdiff_t>((k + 1) * n_out));
      j["outputs_float"] = rows;
    }
    fmt::print("{}\n", j.dump());
    return kExitOk;
  }
  std::string dims, sizes;
  for (auto d : v.dims) dims += (dims.empty() ? "" : "-") + std::to_string(d);
  // Runs of equal sizes as "9 x 512 + 392": the prover's chunks are equal but the last.
  for (std::size_t j = 0; j < chunks;) {
    std::size_t run = 1;
    while (j + run < chunks && v.chunk_batches[j + run] == v.chunk_batches[j]) ++run;
    sizes += (sizes.empty() ? "" : " + ") + (run > 1 ? std::to_string(run) + " x " : "") +
             std::to_string(v.chunk_batches[j]);
    j += run;
  }
  fmt::print(
      "kind:           inference proof{}\nfield:          {}\nbatch:          {}\ndims:           {}\nsoundness bits: "
      "{:.1f}{}\n",
      chunks > 1 ? ", chunked" : "", field_name(v.field), v.batch, dims, bits,
      chunks > 1 ? " (union bound over the chunks)" : "");
  if (chunks > 1) fmt::print("chunks:         {} ({} samples)\n", chunks, sizes);
  fmt::print("proof bytes:    {} ({} elements, outputs excluded)\nfile bytes:     {}\n", proof_bytes, v.messages,
             v.file_bytes);
  if (model) fmt::print("output scale:   {} (s_Z(L) of {})\n", model->output_scale(), o.model);
  fmt::print("outputs ({}; as the file claims them, unverified until nnproof verify accepts it):\n",
             o.dequantize ? "dequantized by the output scale" : "exact, centered");
  const std::size_t rows = o.all ? v.batch : std::min(v.batch, kTextRows);
  for (std::size_t k = 0; k < rows; ++k) {
    std::string row;
    for (std::size_t j = 0; j < n_out; ++j)
      row += (j ? " " : "") + (o.dequantize ? fmt::format("{:.6g}", floats[k * n_out + j]) : outputs[k][j]);
    fmt::print("  [{}] {}\n", k, row);
  }
  if (rows < v.batch)
    fmt::print("  ... {} more row{} (--all for every row, --json for all of them as JSON)\n", v.batch - rows,
               v.batch - rows == 1 ? "" : "s");
  return kExitOk;
}

// A training bundle (.nnpt): the header, the claims' and messages' sizes, the claimed loss and
// outputs, as the file claims them (inspect checks the format, not the proof). The gradients are
// counted in the claim bytes, not printed.
int print_training_bundle(const InspectOptions& o, const BundleView& v) {
  const std::size_t n_out = v.dims.back();
  const std::string loss = to_decimal(v.loss);
  std::string dims;
  for (auto d : v.dims) dims += (dims.empty() ? "" : "-") + std::to_string(d);
  if (o.json) {
    std::vector<std::vector<std::string>> outputs(v.batch);
    for (std::size_t k = 0; k < v.batch; ++k)
      for (std::size_t j = 0; j < n_out; ++j) outputs[k].push_back(to_decimal(v.outputs[k * n_out + j]));
    nlohmann::json j;
    j["nnproof_version"] = NNPROOF_VERSION;
    j["kind"] = "training";
    j["version"] = v.version;
    j["field"] = std::string(field_name(v.field));
    j["mode"] = v.mode;
    j["batch"] = v.batch;
    j["samples"] = v.batch;
    j["dims"] = v.dims;
    j["lr_exponent"] = v.lr_exponent;
    j["soundness_bits"] = v.soundness_bits;
    j["claim_bytes"] = v.claim_bytes;
    j["message_count"] = v.messages;
    j["proof_bytes"] = v.proof_bytes;
    j["file_bytes"] = v.file_bytes;
    j["loss"] = loss;
    j["outputs"] = outputs;
    fmt::print("{}\n", j.dump());
    return kExitOk;
  }
  fmt::print(
      "kind:           training proof\nversion:        {}\nfield:          {}\nmode:           {} "
      "(non-interactive)\ndims:           {}\nsamples (N):    {}\nlr exponent:    {} (learning rate 2^-{})\n",
      v.version, field_name(v.field), v.mode, dims, v.batch, v.lr_exponent, v.lr_exponent);
  fmt::print(
      "claim bytes:    {} ({} elements: the loss, every weight and bias gradient, the outputs)\nmessages:       {} "
      "({} bytes)\nsoundness bits: {:.1f}\nfile bytes:     {}\nloss (exact, centered; as the file claims it, "
      "unverified until the proof is checked): {}\noutputs:        {} x {} (in --json)\n",
      v.claim_bytes, v.claim_elements, v.messages, v.proof_bytes, v.soundness_bits, v.file_bytes, loss, v.batch, n_out);
  return kExitOk;
}

int run_inspect(const InspectOptions& o) {
  if (o.dequantize && o.model.empty())
    throw UsageError("--float needs --model: the proof holds exact integers, and the model gives their scale");
  check_proof_path(o.proof);
  std::error_code ec;
  const std::uintmax_t file_size = std::filesystem::file_size(o.proof, ec);
  if (ec) throw UsageError(o.proof + ": cannot open: " + ec.message());
  std::optional<QuantizedModel> model;
  if (!o.model.empty()) model = quantize_model(import_onnx(o.model), {o.scales.alpha, o.scales.beta});
  try {
    if (model && is_training_bundle(read_file_prefix(o.proof, 8)))
      throw UsageError("--model and --float apply to inference proofs (.nnp), not training proofs");
    HeaderCheck check;
    if (model)
      check = [&](const BundleHeader& h) {
        with_file_field(h.field, [&]<class Cfg>() { check_model<Cfg>(o, *model, h); });
      };
    const BundleView v = inspect_bundle([&](std::size_t max_bytes) { return read_file_prefix(o.proof, max_bytes); },
                                        static_cast<std::size_t>(file_size), check);
    return v.training ? print_training_bundle(o, v) : print_bundle(o, v, model);
  } catch (const ProofFormatError& e) {
    throw UsageError(o.proof + ": " + e.what());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "show a proof bundle's field, shape, soundness, size and outputs");
  cmd->add_option("proof", o->proof, "proof bundle (.nnp) or training proof bundle (.nnpt)")->required();
  cmd->add_flag("--json", o->json, "machine-readable output (every row)");
  cmd->add_option(
      "--model", o->model,
      "the model the proof was made for (.onnx): adds the outputs' scale (it is checked against the proof)");
  cmd->add_flag("--float", o->dequantize, "show the outputs dequantized by the model's output scale (needs --model)");
  cmd->add_flag("--all", o->all, "print every row of outputs (the text view shows the first 10)");
  add_scale_options(*cmd, o->scales);
  cmd->callback([o, &exit_code] { exit_code = run_inspect(*o); });
}

}  // namespace nnproof::cli
