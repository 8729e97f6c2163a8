// SPDX-License-Identifier: Apache-2.0
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
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

// What inspect shows of a plain or chunked inference bundle: the outputs of all its proofs, in order.
template <class Cfg>
struct InferenceView {
  BundleHeader header;  // the (first) proof's
  ProofShape shape;     // the dims, and the batch of all chunks together
  std::vector<typename Cfg::F> outputs;
  std::vector<std::size_t> chunk_batches;  // one entry for a plain bundle
  std::vector<double> chunk_bits;
  std::size_t messages = 0, file_bytes = 0;
};

template <class Cfg>
void add_proof(InferenceView<Cfg>& v, std::span<const unsigned char> bytes, const ProofShape& shape) {
  ProofBundle<Cfg> b = parse_bundle<Cfg>(bytes, shape);
  if (v.chunk_batches.empty()) v.header = b.header;
  v.outputs.insert(v.outputs.end(), b.outputs.begin(), b.outputs.end());
  v.chunk_batches.push_back(shape.batch);
  v.chunk_bits.push_back(shape.soundness_bits(Cfg::kId));
  v.messages += b.messages.size();
}

template <class Cfg>
int print_bundle(const InspectOptions& o, const InferenceView<Cfg>& v, const std::optional<QuantizedModel>& model) {
  if (model) check_model<Cfg>(o, *model, v.header);
  const ProofShape& shape = v.shape;
  const std::size_t n_out = shape.dims.back();
  const std::size_t chunks = v.chunk_batches.size();
  const double bits = combined_soundness_bits(v.chunk_bits);
  const std::size_t proof_bytes = v.messages * Cfg::K::kBytes;
  std::vector<std::vector<std::string>> outputs(shape.batch);
  for (std::size_t k = 0; k < shape.batch; ++k)
    for (std::size_t j = 0; j < n_out; ++j) outputs[k].push_back(to_decimal(v.outputs[k * n_out + j].centered()));
  // Dequantized: centered / s_Z(L), then the model's final (log-)softmax, as prove --output writes them.
  std::vector<double> floats;
  if (o.dequantize) floats = dequantize_outputs(*model, v.outputs);
  if (o.json) {
    nlohmann::json j;
    j["nnproof_version"] = NNPROOF_VERSION;
    j["kind"] = "inference";
    j["field"] = std::string(field_name(Cfg::kId));
    j["batch"] = shape.batch;
    j["dims"] = shape.dims;
    j["soundness_bits"] = bits;
    j["proof_bytes"] = proof_bytes;
    j["chunks"] = chunks;
    j["chunk_batches"] = v.chunk_batches;
    j["outputs"] = outputs;
    if (model) j["output_scale"] = model->output_scale();  // s_Z(L): every output shares it
    if (o.dequantize) {
      std::vector<std::vector<double>> rows(shape.batch);
      for (std::size_t k = 0; k < shape.batch; ++k)
        rows[k].assign(floats.begin() + static_cast<std::ptrdiff_t>(k * n_out),
                       floats.begin() + static_cast<std::ptrdiff_t>((k + 1) * n_out));
      j["outputs_float"] = rows;
    }
    fmt::print("{}\n", j.dump());
    return kExitOk;
  }
  std::string dims, sizes;
  for (auto d : shape.dims) dims += (dims.empty() ? "" : "-") + std::to_string(d);
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
      chunks > 1 ? ", chunked" : "", field_name(Cfg::kId), shape.batch, dims, bits,
      chunks > 1 ? " (union bound over the chunks)" : "");
  if (chunks > 1) fmt::print("chunks:         {} ({} samples)\n", chunks, sizes);
  fmt::print("proof bytes:    {} ({} elements, outputs excluded)\nfile bytes:     {}\n", proof_bytes, v.messages,
             v.file_bytes);
  if (model) fmt::print("output scale:   {} (s_Z(L) of {})\n", model->output_scale(), o.model);
  fmt::print("outputs ({}; as the file claims them, unverified until nnproof verify accepts it):\n",
             o.dequantize ? "dequantized by the output scale" : "exact, centered");
  const std::size_t rows = o.all ? shape.batch : std::min(shape.batch, kTextRows);
  for (std::size_t k = 0; k < rows; ++k) {
    std::string row;
    for (std::size_t j = 0; j < n_out; ++j)
      row += (j ? " " : "") + (o.dequantize ? fmt::format("{:.6g}", floats[k * n_out + j]) : outputs[k][j]);
    fmt::print("  [{}] {}\n", k, row);
  }
  if (rows < shape.batch)
    fmt::print("  ... {} more row{} (--all for every row, --json for all of them as JSON)\n", shape.batch - rows,
               shape.batch - rows == 1 ? "" : "s");
  return kExitOk;
}

// A training bundle (.nnpt): the header, the claims' and messages' sizes, the claimed loss and
// outputs, as the file claims them (inspect checks the format, not the proof). The gradients are
// counted in the claim bytes, not printed.
template <class Cfg>
int print_training_bundle(const InspectOptions& o, const std::vector<unsigned char>& bytes,
                          const TrainingShape& shape) {
  TrainingBundle<Cfg> b = parse_training_bundle<Cfg>(bytes, shape);
  const std::size_t n_out = shape.dims.back();
  const double bits = shape.soundness_bits(Cfg::kId);
  const std::size_t claim_bytes = shape.claim_elements() * Cfg::F::kBytes;
  const std::size_t proof_bytes = b.messages.size() * Cfg::K::kBytes;
  const std::string loss = to_decimal(b.claims.loss.centered());
  std::string dims;
  for (auto d : shape.dims) dims += (dims.empty() ? "" : "-") + std::to_string(d);
  if (o.json) {
    std::vector<std::vector<std::string>> outputs(shape.samples);
    for (std::size_t k = 0; k < shape.samples; ++k)
      for (std::size_t j = 0; j < n_out; ++j)
        outputs[k].push_back(to_decimal(b.claims.outputs[k * n_out + j].centered()));
    nlohmann::json j;
    j["nnproof_version"] = NNPROOF_VERSION;
    j["kind"] = "training";
    j["version"] = kTrainingProofVersion;
    j["field"] = std::string(field_name(Cfg::kId));
    j["mode"] = b.header.mode;
    j["batch"] = shape.samples;
    j["samples"] = shape.samples;
    j["dims"] = shape.dims;
    j["lr_exponent"] = b.header.lr_exponent;
    j["soundness_bits"] = bits;
    j["claim_bytes"] = claim_bytes;
    j["message_count"] = b.messages.size();
    j["proof_bytes"] = proof_bytes;
    j["file_bytes"] = bytes.size();
    j["loss"] = loss;
    j["outputs"] = outputs;
    fmt::print("{}\n", j.dump());
    return kExitOk;
  }
  fmt::print(
      "kind:           training proof\nversion:        {}\nfield:          {}\nmode:           {} "
      "(non-interactive)\ndims:           {}\nsamples (N):    {}\nlr exponent:    {} (learning rate 2^-{})\n",
      kTrainingProofVersion, field_name(Cfg::kId), b.header.mode, dims, shape.samples, b.header.lr_exponent,
      b.header.lr_exponent);
  fmt::print(
      "claim bytes:    {} ({} elements: the loss, every weight and bias gradient, the outputs)\nmessages:       {} "
      "({} bytes)\nsoundness bits: {:.1f}\nfile bytes:     {}\nloss (exact, centered; as the file claims it, "
      "unverified until the proof is checked): {}\noutputs:        {} x {} (in --json)\n",
      claim_bytes, shape.claim_elements(), b.messages.size(), proof_bytes, bits, bytes.size(), loss, shape.samples,
      n_out);
  return kExitOk;
}

std::size_t le32(const std::vector<unsigned char>& b, std::size_t at) {
  return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | static_cast<std::size_t>(b[at + 3]) << 24;
}

// A structured model's section after the header (docs/FORMAT.md): its counts first, then as many
// (op, weights) entries as they say; each read is bounded by the file (read_file_prefix).
std::vector<LayerStructure> training_structure_of_file(const std::string& path, std::size_t depth) {
  const std::size_t at = training_bundle_header_size(depth);
  const auto counts = read_file_prefix(path, at + 4 * depth);
  std::size_t ops = 0;
  for (std::size_t i = 0; i < depth && at + 4 * (i + 1) <= counts.size(); ++i)
    if (const std::size_t c = le32(counts, at + 4 * i); c != kDenseLayer) ops += std::min(c, kMaxTrainedOps + 1);
  const auto section = read_file_prefix(path, at + 4 * depth + 12 * ops);
  std::size_t used = 0;
  return parse_training_structure(std::span(section).subspan(std::min(at, section.size())), depth, used);
}

int inspect_training(const InspectOptions& o, std::uintmax_t file_size) {
  // As for .nnp files: the header's shape is taken only when the length it implies is the file's.
  auto fixed = read_file_prefix(o.proof, kTrainingFixedHeaderBytes);
  std::size_t depth = fixed.size() == kTrainingFixedHeaderBytes ? le32(fixed, kTrainingFixedHeaderBytes - 4) : 0;
  auto head = read_file_prefix(o.proof, training_bundle_header_size(std::min(depth, kMaxDepth)));
  TrainingBundleHeader h = parse_training_header(head, kAnyDepth);
  TrainingShape shape{h.dims, h.samples};
  if (h.structured) shape.structure = training_structure_of_file(o.proof, h.dims.size() - 1);
  const std::size_t want = training_bundle_size(h.field, shape);
  if (file_size != want)
    throw ProofFormatError(
        (file_size < want ? "truncated training proof: " : "trailing bytes after the training proof: ") +
        std::to_string(file_size) + " bytes, the header implies " + std::to_string(want));
  auto bytes = read_file_prefix(o.proof, want);
  if (h.field == FieldId::m127) return print_training_bundle<M127>(o, bytes, shape);
  return print_training_bundle<M61>(o, bytes, shape);
}

// A chunked bundle, with no model at hand: every chunk's header is read where the previous chunk
// ends, its shape taken only when the length it implies fits in the file, and the chunks must have
// one field, version and dims, cover the prefix's batch and end exactly at the file's end.
int inspect_chunked(const InspectOptions& o, std::uintmax_t file_size, const std::optional<QuantizedModel>& model) {
  const std::vector<unsigned char> bytes = read_file_prefix(o.proof, static_cast<std::size_t>(file_size));
  const ChunkedPrefix prefix = parse_chunked_prefix(bytes);
  return with_file_field(prefix.field, [&]<class Cfg>() {
    InferenceView<Cfg> v;
    v.file_bytes = bytes.size();
    std::size_t at = kChunkedPrefixBytes, covered = 0;
    for (std::size_t j = 0; j < prefix.chunks; ++j) {
      const std::string where = "chunk " + std::to_string(j + 1) + "/" + std::to_string(prefix.chunks) + ": ";
      const auto rest = std::span<const unsigned char>(bytes).subspan(at);
      const BundleHeader h = parse_header(rest, kAnyDepth);
      if (h.field != prefix.field || h.version != prefix.version || (j > 0 && h.dims != v.shape.dims))
        throw ProofFormatError(where + "its field, version or dims differ from the bundle's");
      if (h.batch > prefix.batch - covered)
        throw ProofFormatError(where + "its samples run past the bundle's batch of " + std::to_string(prefix.batch));
      // Every chunk, not only the first, must be about the model given: --float scales all outputs by it.
      if (model) check_model<Cfg>(o, *model, h);
      const ProofShape shape{h.dims, h.batch};
      const std::size_t size = bundle_size(h.field, shape);
      if (size > rest.size()) throw ProofFormatError(where + "truncated");
      add_proof<Cfg>(v, j + 1 == prefix.chunks ? rest : rest.first(size), shape);
      v.shape.dims = h.dims;
      at += size;
      covered += h.batch;
    }
    if (covered != prefix.batch)
      throw ProofFormatError("the chunks cover " + std::to_string(covered) + " of the bundle's " +
                             std::to_string(prefix.batch) + " samples");
    v.shape.batch = covered;
    return print_bundle<Cfg>(o, v, model);
  });
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
    if (is_training_bundle(read_file_prefix(o.proof, 8))) {
      if (model) throw UsageError("--model and --float apply to inference proofs (.nnp), not training proofs");
      return inspect_training(o, file_size);
    }
    if (is_chunked_bundle(read_file_prefix(o.proof, 8))) return inspect_chunked(o, file_size, model);
    // No model at hand: take the header's shape, but only after checking the size it implies
    // against the file's real length, so nothing is allocated beyond what the file holds.
    auto fixed = read_file_prefix(o.proof, kFixedHeaderBytes);
    std::size_t depth = fixed.size() == kFixedHeaderBytes ? le32(fixed, kFixedHeaderBytes - 4) : 0;
    auto head = read_file_prefix(o.proof, bundle_header_size(std::min(depth, kMaxDepth)));
    BundleHeader h = parse_header(head, kAnyDepth);
    const ProofShape shape{h.dims, h.batch};
    const std::size_t want = bundle_size(h.field, shape);
    if (file_size != want)
      throw ProofFormatError((file_size < want ? "truncated proof: " : "trailing bytes after the proof: ") +
                             std::to_string(file_size) + " bytes, the header implies " + std::to_string(want));
    auto bytes = read_file_prefix(o.proof, want);
    return with_file_field(h.field, [&]<class Cfg>() {
      InferenceView<Cfg> v;
      v.file_bytes = bytes.size();
      v.shape = shape;
      add_proof<Cfg>(v, bytes, shape);
      return print_bundle<Cfg>(o, v, model);
    });
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
