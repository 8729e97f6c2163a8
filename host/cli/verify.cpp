// SPDX-License-Identifier: Apache-2.0
// `nnproof verify`: exit 0 VERIFIED, 1 `REJECTED: <reason>` for anything wrong with what the server
// sent (the bundle's format, its field, bindings to another model, input or scales, the magnitude
// bound, the protocol), 2 only for the client's own mistakes (its model, input, flags, an
// unreadable proof path). A rejected run writes nothing.
#include "host/cli/verify.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <utility>
#include <variant>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/memory.hpp"
#include "host/npy.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "verifier/chunked.hpp"
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

// Samples [first, first + count) of the client's input: one chunk's statement. Quantized inputs
// are held as small integers, made straight from the loaded int64 input (the verifier reads them
// so); only one chunk's copy is alive at a time (the loaded input is the client's own).
template <class Cfg>
Statement<Cfg> chunk_statement(const Problem& p, std::size_t first, std::size_t count) {
  return sample_statement<Cfg>(p.model, p.model_digest, p.input, first, count, InputForm::small_if_fits);
}

// One complete proof (a plain bundle, or one chunk of a chunked one) about samples [first, first +
// shape.batch): its outputs are appended to `outputs` when it verifies; otherwise the reason.
template <class Cfg>
std::optional<std::string> verify_one(const Problem& p, std::span<const unsigned char> bytes, const ProofShape& shape,
                                      std::size_t first, std::vector<typename Cfg::F>& outputs) {
  ProofBundle<Cfg> bundle = parse_bundle<Cfg>(bytes, shape);
  Statement<Cfg> st = chunk_statement<Cfg>(p, first, shape.batch);
  st.outputs = bundle.outputs;
  // The header names the model (with scales) and the input the proof is about: a proof about
  // anything but the client's own is worthless to it, whoever made the mistake. verify_bundle
  // reads the input once, for its binding and X~(s, r), and names another input as such.
  if (model_binding(st) != bundle.header.model_binding)
    return "model binding: the proof was made for another model or other scales (check --model, --alpha and "
           "--beta)";
  Verdict v = verify_bundle(st, bundle);
  if (!v.accepted)
    return v.failed_check == kInputBindingRejection ? v.failed_check + " (check --input)" : v.failed_check;
  outputs.insert(outputs.end(), bundle.outputs.begin(), bundle.outputs.end());
  return std::nullopt;
}

// Where one chunk of a chunked bundle lies: its bytes and its samples [first, first + batch).
struct ChunkSpan {
  std::size_t at = 0, size = 0, first = 0, batch = 0;
};

// Every chunk's header, read before any proof is checked: the chunks must have the prefix's
// version and field, cover the input's samples exactly, fit in the file, and their union bound
// must reach 100 bits. A split the bound refuses (say 2^15 one-sample chunks) then costs the client
// no proof checks. Returns the chunks and the combined bits, or the rejection.
std::variant<std::pair<std::vector<ChunkSpan>, double>, std::string> read_chunk_headers(
    const Problem& p, std::span<const unsigned char> bytes, const ChunkedPrefix& prefix,
    const std::vector<std::size_t>& dims) {
  std::vector<ChunkSpan> spans;
  std::vector<double> bits;
  std::size_t at = kChunkedPrefixBytes, first = 0;
  for (std::size_t j = 0; j < prefix.chunks; ++j) {
    const std::string where = fmt::format("chunk {}/{}", j + 1, prefix.chunks);
    if (first == p.batch)
      return fmt::format("chunk count: the header says {} chunks but the samples end after {}", prefix.chunks, j);
    const auto rest = bytes.subspan(at);
    BundleHeader h;
    try {
      h = parse_header(rest, p.model.depth());
    } catch (const ProofFormatError& e) {
      return fmt::format("proof format: {}: {}", where, e.what());
    }
    if (h.version != prefix.version || h.field != prefix.field)
      return fmt::format("proof format: {}: version {} over {} in a bundle of version {} over {}", where, h.version,
                         field_name(h.field), prefix.version, field_name(prefix.field));
    if (h.batch > p.batch - first)
      return fmt::format("chunks: {} claims {} samples from sample {}, past the input's {}", where, h.batch, first,
                         p.batch);
    const ProofShape shape{dims, h.batch};
    // The chunk's exact length, from the trusted model and the batch just checked against the input.
    const std::size_t size = bundle_size(h.field, shape);
    if (size > rest.size())
      return fmt::format("proof format: {}: truncated ({} bytes left, the chunk needs {})", where, rest.size(), size);
    spans.push_back({at, size, first, h.batch});
    bits.push_back(shape.soundness_bits(h.field));
    at += size;
    first += h.batch;
  }
  if (first != p.batch)
    return fmt::format("chunks: the {} chunks cover samples 0..{} of the input's {} (a chunk is missing)",
                       prefix.chunks, first - 1, p.batch);
  const double combined = combined_soundness_bits(bits);
  if (combined < kMinSoundnessBits)
    return fmt::format("soundness: {:.1f} bits over {} chunks (union bound) is below 100", combined, prefix.chunks);
  return std::pair{std::move(spans), combined};
}

// A chunked bundle (docs/FORMAT.md, "Chunked bundles"): its chunks in order, each a complete proof
// of the next samples of the client's input, covering them exactly. Returns the soundness bits of
// the union bound, or the rejection.
template <class Cfg>
std::variant<double, std::string> verify_chunks(const Problem& p, std::span<const unsigned char> bytes,
                                                std::vector<typename Cfg::F>& outputs) {
  const ChunkedPrefix prefix = parse_chunked_prefix(bytes);
  if (prefix.batch != p.batch)
    return fmt::format("chunks: the bundle covers {} samples but the input has {} (check --input)", prefix.batch,
                       p.batch);
  const std::vector<std::size_t> dims = proof_dims(p.model, prefix.version);
  auto headers = read_chunk_headers(p, bytes, prefix, dims);
  if (auto* why = std::get_if<std::string>(&headers)) return *why;
  const auto& [spans, combined] = std::get<0>(headers);
  for (std::size_t j = 0; j < spans.size(); ++j) {
    const ChunkSpan& c = spans[j];
    // The last chunk is parsed with the rest of the file so that trailing bytes are refused.
    const auto chunk = j + 1 == spans.size() ? bytes.subspan(c.at) : bytes.subspan(c.at, c.size);
    std::optional<std::string> why;
    try {
      why = verify_one<Cfg>(p, chunk, ProofShape{dims, c.batch}, c.first, outputs);
    } catch (const ProofFormatError& e) {
      why = std::string("proof format: ") + e.what();
    }
    if (why)
      return fmt::format("chunk {}/{} (samples {}..{}): {}", j + 1, spans.size(), c.first, c.first + c.batch - 1, *why);
  }
  return combined;
}

// Verifies a plain or chunked bundle of `field`, then the magnitude bound; on acceptance stages the
// targets' files.
template <class Cfg>
VerifyOutcome verify_bytes(const Problem& p, std::span<const unsigned char> bytes, const VerifyTargets& t,
                           OutputFiles& files) {
  std::vector<typename Cfg::F> outputs;
  outputs.reserve(p.batch * p.model.out_dim());
  double bits = 0;
  if (is_chunked_bundle(bytes)) {
    auto r = verify_chunks<Cfg>(p, bytes, outputs);
    if (auto* why = std::get_if<std::string>(&r)) return reject(*why);
    bits = std::get<double>(r);
  } else {
    const BundleHeader h = parse_header(bytes, p.model.depth());
    const ProofShape shape{proof_dims(p.model, h.version), p.batch};  // the tables of the file's version
    if (auto why = verify_one<Cfg>(p, bytes, shape, 0, outputs)) return reject(*why);
    bits = shape.soundness_bits(Cfg::kId);
  }
  // The proof is about the field; its outputs are the network's only if nothing can wrap in the
  // field the prover chose (PROTOCOL.md section 7).
  if (auto wrap = magnitude_violation(magnitude_profile(p.model), max_abs(p.input), Cfg::kId))
    return reject(fmt::format("magnitude: {}: the field can wrap, so these outputs need not be the network's; {}",
                              wrap->describe(Cfg::kId), wrap_fix(Cfg::kId)));
  VerifyOutcome ok;
  ok.outputs = dequantize_outputs(p.model, outputs);
  ok.exact.reserve(outputs.size());
  for (const auto& y : outputs) ok.exact.push_back(y.centered());
  if (!t.output.empty())
    files.stage(t.output, [&](const std::string& tmp) {
      write_npy_f64(tmp, {p.batch, p.model.out_dim()}, ok.outputs);
    });
  ok.code = kExitOk;
  ok.field = Cfg::kId;
  ok.soundness_bits = bits;
  ok.labels = argmax_labels(outputs, p.batch, p.model.out_dim());
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
  VerifyOutcome r;
  try {
    r = verify_proof(
        p, [&](std::size_t max_bytes) { return read_file_prefix(o.proof, max_bytes); }, t, files);
  } catch (const std::bad_alloc&) {
    // The client's own resources (exit 2): the verifier holds one chunk's field-form input at a time.
    throw UsageError(fmt::format(
        "out of memory: verifying {} samples needs up to about {} (estimated, one proof of the whole batch) and this "
        "process could not get it; free memory, or have the prover split the batch with prove --max-memory",
        p.batch, format_bytes(estimate_verify_bytes(p.model, FieldId::m127, p.batch, p.batch))));
  }
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
    // Read the header, then at most the size the trusted model and input imply (plus one byte, to
    // see trailing data): never a size taken from the proof.
    auto head = read(std::max(bundle_header_size(p.model.depth()), kChunkedPrefixBytes));
    FieldId field;
    std::size_t most;
    if (is_chunked_bundle(head)) {
      const ChunkedPrefix prefix = parse_chunked_prefix(head);
      field = prefix.field;
      most = max_chunked_bundle_size(field, ProofShape{proof_dims(p.model, prefix.version), p.batch});
    } else {
      const BundleHeader h = parse_header(head, p.model.depth());
      field = h.field;
      most = bundle_size(field, ProofShape{proof_dims(p.model, h.version), p.batch});
    }
    if (t.field && field != *t.field)
      return reject(
          fmt::format("field: the proof is over {}, not {} as --field asks", field_name(field), field_name(*t.field)));
    // The bundle's bytes (a few KiB a chunk plus the outputs); the tables and the input's field
    // form are built one chunk at a time.
    auto bytes = read(most + 1);
    return with_file_field(field, [&]<class Cfg>() { return verify_bytes<Cfg>(p, bytes, t, files); });
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
