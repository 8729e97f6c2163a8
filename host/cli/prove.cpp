// SPDX-License-Identifier: Apache-2.0
#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>

#include "host/chunked_prover.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/npy.hpp"
#include "verifier/image_layout.hpp"

namespace nnproof::cli {
namespace {

struct ProveOptions {
  std::string model, input, proof, output, labels_out, field, engine = "auto", max_memory;
  ScaleOptions scales;
  int threads = 0;
  std::uint32_t proof_version = kProofVersion;
  bool dry_run = false, json = false;
};

// --max-memory's bytes, else the default for the engine (80% of what the process or device has).
MemoryLimit memory_limit(const ProveOptions& o, bool cuda) {
  if (o.max_memory.empty()) return default_memory_limit(cuda);
  try {
    return {parse_byte_size(o.max_memory), "--max-memory"};
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--max-memory: ") + e.what());
  }
}

// `prove --dry-run`: the estimate and the plan, on stdout; nothing proved or written.
int print_plan(const ProveOptions& o, const Problem& p, FieldId field, const MemoryLimit& limit,
               const ChunkPlan& plan) {
  const std::size_t verify_bytes = estimate_verify_bytes(p.model, field, p.batch, plan.chunk_samples);
  if (o.json) {
    nlohmann::json j{{"samples", p.batch},
                     {"field", field_name(field)},
                     {"proof_version", o.proof_version},
                     {"estimated_peak_bytes", plan.whole_bytes},
                     {"max_memory_bytes", limit.bytes},
                     {"max_memory_source", limit.source},
                     {"chunks", plan.chunks},
                     {"chunk_samples", plan.chunk_samples},
                     {"plan_peak_bytes", plan.peak_bytes},
                     {"verify_peak_bytes", verify_bytes},
                     {"soundness_bits", plan.soundness_bits}};
    fmt::print("{}\n", j.dump());
    return kExitOk;
  }
  fmt::print("samples:              {} ({}, proof format v{})\n", p.batch, field_name(field), o.proof_version);
  fmt::print("estimated peak:       {} for one proof of the whole batch\n", format_bytes(plan.whole_bytes));
  fmt::print("memory limit:         {} ({})\n", format_bytes(limit.bytes), limit.source);
  if (plan.chunks == 1)
    fmt::print("plan:                 one proof, estimated peak {}\n", format_bytes(plan.peak_bytes));
  else
    fmt::print("plan:                 {} chunks of up to {} samples, estimated peak {}\n", plan.chunks,
               plan.chunk_samples, format_bytes(plan.peak_bytes));
  fmt::print("verify peak:          {} (estimated)\n", format_bytes(verify_bytes));
  fmt::print("soundness bits:       {:.1f}{}\n", plan.soundness_bits,
             plan.chunks > 1 ? " (union bound over the chunks)" : "");
  return kExitOk;
}

int run_prove(const ProveOptions& o) {
  (void)parse_field_flag(o.field);  // a bad --field is refused before any work
  if (!o.dry_run && o.proof.empty()) throw UsageError("--proof is required (or --dry-run for the memory estimate)");
  if (o.json && !o.dry_run) throw UsageError("--json goes with --dry-run (the proof itself is the .nnp file)");
  OutputFiles files({{o.proof, "--proof"}, {o.output, "--output"}, {o.labels_out, "--labels-out"}});
  Problem p = load_problem(o.model, o.input, {o.scales.alpha, o.scales.beta});
  const FieldId field = choose_field(o.field, p.float_model);
  check_magnitudes(p.model, p.input, field);
  return with_file_field(field, [&]<class Cfg>() {
    auto engine = make_engine<Cfg>(o.engine, o.threads, dense_work(p.model, p.batch));
    const MemoryLimit limit = memory_limit(o, engine->name() == "cuda");
    ChunkPlan plan;
    try {
      // The estimate follows the engine chosen above (auto resolved): what its proof holds.
      plan = plan_chunks(p.model, field, p.batch, o.proof_version, limit.bytes, engine->proof_memory());
    } catch (const MemoryLimitError& e) {
      throw UsageError(e.what());
    }
    if (o.dry_run) return print_plan(o, p, field, limit, plan);
    const ProgressFn progress = terminal_progress();
    auto t0 = std::chrono::steady_clock::now();
    ChunkedProof<Cfg> proof;
    try {
      proof = prove_in_chunks(*engine, p.model, p.model_digest, p.input, plan, progress, o.proof_version);
    } catch (const std::bad_alloc&) {
      // The estimate is an upper bound for this machine's engines, but the process may be given less
      // than the limit says (other processes, a tighter ulimit than --max-memory).
      throw UsageError(fmt::format(
          "out of memory: proving {} samples per proof needs about {} (estimated) and this process could not get it; "
          "pass a smaller --max-memory (now {}) to prove in more, smaller chunks",
          plan.chunk_samples, format_bytes(plan.peak_bytes), format_bytes(limit.bytes)));
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    files.stage_bytes(o.proof, proof.bytes);
    if (!o.output.empty())
      files.stage(o.output, [&](const std::string& tmp) {
        write_npy_f64(tmp, {p.batch, p.model.out_dim()}, dequantize_outputs(p.model, proof.outputs));
      });
    if (!o.labels_out.empty())
      files.stage(o.labels_out, [&](const std::string& tmp) {
        write_npy_i64(tmp, {p.batch}, argmax_labels(proof.outputs, p.batch, p.model.out_dim()));
      });
    files.commit();
    const std::string chunks = plan.chunks == 1
                                   ? ""
                                   : fmt::format(" in {} chunks of up to {} (--max-memory {})", plan.chunks,
                                                 plan.chunk_samples, format_bytes(limit.bytes));
    fmt::print(stderr, "{}proved {} samples{} on the {} engine in {:.3f} s: {}, {:.1f} bits, bundle {} bytes -> {}\n",
               progress ? "\r\033[K" : "", p.batch, chunks, engine->name(), seconds, field_name(field),
               plan.soundness_bits, proof.bytes.size(), o.proof);
    return kExitOk;
  });
}

}  // namespace

void add_prove_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ProveOptions>();
  CLI::App* cmd = app.add_subcommand("prove", "run the network on a batch and write the outputs with a proof");
  cmd->add_option("--model", o->model, "ONNX model (.onnx)")->required();
  cmd->add_option("--input", o->input, "inputs (.npy: (b, n_0), or (b, C, H, W) for convolutional models)")->required();
  cmd->add_option("--proof", o->proof, "proof bundle to write (.nnp); required unless --dry-run");
  cmd->add_option("--field", o->field, "m61 or m127 (default: the model's nnproof.field metadata, else m61)");
  add_engine_options(*cmd, o->engine, o->threads);
  cmd->add_option("--proof-version", o->proof_version,
                  "proof format to write: " + std::to_string(kProofVersion) + " (default) or " +
                      std::to_string(kOldestProofVersion) + " (dense image layout, for older verifiers)")
      ->check(CLI::Range(kOldestProofVersion, kProofVersion));
  cmd->add_option("--output", o->output, "also write the dequantized outputs (.npy, float64, (b, n_L))");
  cmd->add_option("--labels-out", o->labels_out, "also write the argmax class of each sample (.npy, int64, (b,))");
  cmd->add_option("--max-memory", o->max_memory,
                  "bound the prover's peak memory (bytes, or K/M/G/T: 1.5G); a batch that needs more is proved in "
                  "chunks, one bundle (default: 80% of physical memory or the process's limits, or of the GPU's "
                  "memory for --engine cuda)");
  cmd->add_flag("--dry-run", o->dry_run, "print the memory estimate and the chunk plan, prove nothing");
  cmd->add_flag("--json", o->json, "with --dry-run: print the estimate as one JSON object");
  add_scale_options(*cmd, o->scales);
  cmd->callback([o, &exit_code] { exit_code = run_prove(*o); });
}

}  // namespace nnproof::cli
