// SPDX-License-Identifier: Apache-2.0
// nnproof bench: end-to-end timings on random data shaped like a quantized model.
#include <cblas.h>
#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "host/cli/bench_common.hpp"
#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/synthetic.hpp"
#include "nnproof/version.hpp"
#include "verifier/verifier.hpp"

namespace nnproof::cli {
namespace {

// What a client would otherwise run locally: float32 inference with BLAS sgemm and x*x. Returns
// one run of it as a function.
std::function<void()> float_forward(const std::vector<std::size_t>& arch, std::size_t batch, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<std::vector<float>> W;
  for (std::size_t i = 1; i < arch.size(); ++i) {
    W.emplace_back(arch[i] * arch[i - 1]);
    const float sd = 1.f / std::sqrt(static_cast<float>(arch[i - 1]));
    for (auto& x : W.back()) x = g(rng) * sd;
  }
  std::vector<float> x0(arch[0] * batch);
  for (auto& x : x0) x = g(rng);
  return [arch, batch, W = std::move(W), x0 = std::move(x0)] {
    std::vector<float> y = x0, z;
    for (std::size_t i = 1; i < arch.size(); ++i) {
      z.assign(arch[i] * batch, 0.f);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(arch[i]), static_cast<int>(batch),
                  static_cast<int>(arch[i - 1]), 1.f, W[i - 1].data(), static_cast<int>(arch[i - 1]), y.data(),
                  static_cast<int>(batch), 0.f, z.data(), static_cast<int>(batch));
      if (i + 1 < arch.size())
        for (auto& v : z) v = v * v;
      y.swap(z);
    }
  };
}

template <class Cfg>
nlohmann::json bench_batch(Engine<Cfg>& engine, const QuantizedModel& model, const Digest& digest,
                           const std::vector<std::size_t>& arch, std::size_t batch, const BenchOptions& o,
                           std::mt19937_64& rng) {
  using F = typename Cfg::F;
  Statement<Cfg> st;
  st.model = &model;
  st.model_digest = digest;
  st.batch = batch;
  st.input.resize(batch * arch.front());
  // Small integers, as quantized inputs are (the input binding hashes them in their compact
  // encoding, verifier/input_binding.hpp); --input-bits 61 or more: any field element.
  const std::int64_t bound = o.input_bits >= 61 ? 0 : (std::int64_t{1} << (o.input_bits - 1)) - 1;
  std::uniform_int_distribution<std::int64_t> value(-bound, bound);
  for (auto& x : st.input) x = bound == 0 ? random_element<F>(rng) : F::from_int(value(rng));
  const auto layers = field_layers<F>(model);
  const std::function<void()> float_run = float_forward(arch, batch, rng);
  // The server's side: each repetition runs the float network, the exact forward pass and the
  // prover in turn, so that each one's fastest run is drawn from the same stretch of a shared
  // machine's load rather than one quiet stretch against a busy one. Each starts, as in use, from
  // an input just received (copied in, untimed), not one left cold by the step before.
  const std::vector<F> input = st.input;
  BestTime float_t, forward_t, prove_t, verify_t;
  ProofBundle<Cfg> bundle;
  std::size_t host_syncs = 0;  // per proof: the same in every repetition
  for (int i = 0; i < std::max(o.repeat, 1); ++i) {
    float_t.run(float_run);
    st.input = input;
    forward_t.run([&] { run_forward(engine, layers, st.input, batch); });
    st.input = input;
    const std::size_t syncs_before = engine.host_syncs();
    prove_t.run([&] { bundle = prove_bundle(engine, st); });
    host_syncs = engine.host_syncs() - syncs_before;
  }
  // The client's side runs on another machine: its repetitions follow each other, as a client
  // checking proofs would, not each one straight after a prover run (on this machine the first
  // verify after a proof is ~1 ms slower, its input hash mostly; a client runs no prover first).
  for (int i = 0; i < std::max(o.repeat, 1); ++i) {
    st.input = input;
    Verdict verdict;
    verify_t.run([&] { verdict = verify_bundle(st, bundle); });
    if (!verdict.accepted) throw std::runtime_error("bench: an honest proof was rejected: " + verdict.failed_check);
  }
  const ProofShape shape{model.dims(), batch};
  nlohmann::json r;
  r["batch"] = batch;
  r["forward_s"] = forward_t.seconds;
  r["prove_s"] = prove_t.seconds;
  r["verify_s"] = verify_t.seconds;
  r["proof_bytes"] = bundle.messages.size() * Cfg::K::kBytes;
  r["soundness_bits"] = shape.soundness_bits(Cfg::kId);
  r["float_forward_s"] = float_t.seconds;
  // The times the prover's host waited for the engine's device in one proof (0: no device).
  r["host_syncs"] = host_syncs;
  // The proof file's digest: the same seed gives the same bytes on every engine and build, so a
  // refactor or a new engine shows it changed nothing by this value alone.
  r["proof_sha256"] = to_hex(sha256(serialize_bundle(bundle)));
  return r;
}

int run_bench(const BenchOptions& o) {
  if (o.training) return run_training_bench(o);
  const auto arch = parse_list(o.arch, "--arch");
  const auto batches = parse_list(o.batches, "--batch");
  if (arch.size() < 2) throw UsageError("--arch needs at least two sizes (input and output)");
  const FieldId field = parse_field(o.field);
  std::mt19937_64 rng(o.seed);
  const QuantizedModel model = synthetic_model(arch, rng, 127, 127);  // int8 weights
  const Digest digest = model_digest(model);                          // once per model, as a client loading it would
  return with_file_field(field, [&]<class Cfg>() {
    auto engine = make_engine<Cfg>(o.engine, o.threads);
    nlohmann::json out;
    out["nnproof_version"] = NNPROOF_VERSION;
    out["engine"] = engine->name();
    out["device"] = cpu_name();
    out["threads"] = omp_get_max_threads();
    out["field"] = std::string(field_name(field));
    out["arch"] = arch;
    out["results"] = nlohmann::json::array();
    if (!o.json)
      fmt::print("engine {} on {} ({} threads), field {}\n{:>6} {:>10} {:>10} {:>10} {:>8} {:>8} {:>12} {:>14}\n",
                 engine->name(), cpu_name(), omp_get_max_threads(), field_name(field), "batch", "forward_s", "prove_s",
                 "verify_s", "prove/fw", "bits", "proof_bytes", "float_fw_s");
    for (std::size_t b : batches) {
      auto r = bench_batch<Cfg>(*engine, model, digest, arch, b, o, rng);
      if (!o.json)
        fmt::print("{:>6} {:>10.4f} {:>10.4f} {:>10.5f} {:>8.3f} {:>8.1f} {:>12} {:>14.4f}\n", b,
                   static_cast<double>(r["forward_s"]), static_cast<double>(r["prove_s"]),
                   static_cast<double>(r["verify_s"]),
                   static_cast<double>(r["prove_s"]) / static_cast<double>(r["forward_s"]),
                   static_cast<double>(r["soundness_bits"]), static_cast<std::size_t>(r["proof_bytes"]),
                   static_cast<double>(r["float_forward_s"]));
      out["results"].push_back(r);
    }
    if (o.json) fmt::print("{}\n", out.dump(2));
    return kExitOk;
  });
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd =
      app.add_subcommand("bench", "time forward, prove and verify on random data shaped like a quantized model");
  cmd->add_option("--arch", o->arch, "layer sizes n_0,...,n_L (default: TIMIT, 1845,2000,2000,2000,183)");
  cmd->add_option("--batch", o->batches, "batch sizes (default 64,512,2048)");
  cmd->add_option("--field", o->field, "m61 (default) or m127");
  add_engine_options(*cmd, o->engine, o->threads);
  cmd->add_option("--repeat", o->repeat, "runs per measurement; the fastest is reported (default 1)");
  cmd->add_option("--seed", o->seed, "random seed (default 1)");
  cmd->add_option("--input-bits", o->input_bits,
                  "input values in +-(2^(bits-1) - 1), as quantized inputs are (default 8; 61 or more: any field "
                  "element)")
      ->check(CLI::Range(2, 128));
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->add_flag("--training", o->training,
                "time the exact loss and gradient (grad_s), its proof (prove_s) and verify_training (verify_s)");
  cmd->callback([o, &exit_code] { exit_code = run_bench(*o); });
}

}  // namespace nnproof::cli
