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
#include "host/cli/float_forward.hpp"
#include "host/synthetic.hpp"
#include "nnproof/version.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/magnitude.hpp"
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

// What is benched: the model and how its inputs and its float32 twin are drawn.
struct BenchModel {
  const QuantizedModel& model;
  Digest digest;
  // 0: --arch, inputs of --input-bits bits (no magnitude bound applies to a synthetic network's
  // timing); else integers uniform in [-input_max, input_max] (--model: within the model's bound).
  u128 input_max = 0;
  std::function<std::function<void()>(std::size_t batch, std::mt19937_64& rng)> make_float;
};

// --arch: integers of --input-bits bits, as quantized inputs are (the input binding hashes them in
// their compact encoding, verifier/input_binding.hpp), any field element from 61 bits; --model:
// integers within the model's bound.
template <class F>
std::vector<F> bench_input(const BenchModel& m, std::size_t batch, int input_bits, std::mt19937_64& rng) {
  std::vector<F> in(batch * m.model.in_dim());
  if (m.input_max == 0 && input_bits >= 61) {
    for (auto& x : in) x = random_element<F>(rng);
    return in;
  }
  const std::int64_t bound =
      m.input_max != 0 ? static_cast<std::int64_t>(m.input_max) : (std::int64_t{1} << (input_bits - 1)) - 1;
  std::uniform_int_distribution<std::int64_t> d(-bound, bound);
  for (auto& x : in) x = F::from_int(d(rng));
  return in;
}

template <class Cfg>
nlohmann::json bench_batch(Engine<Cfg>& engine, const BenchModel& m, std::size_t batch, const BenchOptions& o,
                           std::mt19937_64& rng) {
  using F = typename Cfg::F;
  const QuantizedModel& model = m.model;
  Statement<Cfg> st;
  st.model = &model;
  st.model_digest = m.digest;
  st.batch = batch;
  st.input = bench_input<F>(m, batch, o.input_bits, rng);
  const auto layers = field_layers<F>(model);
  const std::function<void()> float_run = m.make_float(batch, rng);
  // The server's side: each repetition runs the float network, the exact forward pass and the
  // prover in turn, so that each one's fastest run is drawn from the same stretch of a shared
  // machine's load rather than one quiet stretch against a busy one. Each starts, as in use, from
  // an input just received (copied in, untimed), not one left cold by the step before.
  const std::vector<F> input = st.input;
  BestTime float_t, forward_t, prove_t, verify_t;
  ProofBundle<Cfg> bundle;
  std::size_t host_syncs = 0;         // per proof: the same in every repetition
  std::size_t table_allocations = 0;  // per proof, the last one's: the engine is warm by then
  HostTransfers transfers;            // per proof, the last one's (a cold engine's first adds the weights)
  for (int i = 0; i < std::max(o.repeat, 1); ++i) {
    float_t.run(float_run);
    st.input = input;
    forward_t.run([&] { run_forward(engine, layers, st.input, batch, {}, Activations::for_proof); });
    st.input = input;
    const std::size_t syncs_before = engine.host_syncs(), tables_before = engine.table_allocations();
    const HostTransfers transfers_before = engine.host_transfers();
    const ProgressFn stages = stage_printer(std::chrono::steady_clock::now());
    prove_t.run([&] { bundle = prove_bundle(engine, st, stages); });
    host_syncs = engine.host_syncs() - syncs_before;
    table_allocations = engine.table_allocations() - tables_before;
    transfers = engine.host_transfers() - transfers_before;
  }
  // The client's side runs on another machine: its repetitions follow each other, as a client
  // checking proofs would, not each one straight after a prover run (on this machine the first
  // verify after a proof is ~1 ms slower, its input hash mostly; a client runs no prover first).
  for (int i = 0; i < std::max(o.verify_repeat > 0 ? o.verify_repeat : o.repeat, 1); ++i) {
    // The client holds its quantized input as the small integers it is (as `nnproof verify` does):
    // the verifier reads 1 to 4 bytes a value, not a field element's 8 or 16.
    st.small_input = {};
    st.input = input;
    hold_input_small(st);
    Verdict verdict;
    verify_t.run([&] { verdict = verify_bundle(st, bundle); });
    if (!verdict.accepted) throw std::runtime_error("bench: an honest proof was rejected: " + verdict.failed_check);
  }
  const ProofShape shape{proof_dims(model, bundle.header.version), batch};
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
  // The device tables one proof of a warm engine allocated (the Thrust engines; 0: no device).
  r["table_allocations"] = table_allocations;
  // The transfers between host and device in that proof, each direction's count and bytes (0: no device).
  r["host_transfers"] = transfers.count();
  r["host_to_device_transfers"] = transfers.to_device;
  r["host_to_device_bytes"] = transfers.to_device_bytes;
  r["device_to_host_transfers"] = transfers.to_host;
  r["device_to_host_bytes"] = transfers.to_host_bytes;
  // The proof file's digest: the same seed gives the same bytes on every engine and build, so a
  // refactor or a new engine shows it changed nothing by this value alone.
  r["proof_sha256"] = to_hex(sha256(serialize_bundle(bundle)));
  return r;
}

// The largest input magnitude M for which the worst-case bound of PROTOCOL.md section 7 holds in
// `field` (inputs in [-M, M]), by bisection over [0, 2^62]: O(rows) per step.
u128 largest_input_bound(const QuantizedModel& model, FieldId field, const std::string& path) {
  const MagnitudeProfile profile = magnitude_profile(model);
  u128 lo = 0, hi = u128{1} << 62;
  if (magnitude_violation(profile, 1, field))
    throw UsageError("bench: model " + path + ": even inputs in [-1, 1] could wrap " + std::string(field_name(field)) +
                     "; use --field m127 or a model quantized at smaller scales");
  lo = 1;
  while (hi - lo > 1) {  // invariant: lo fits, hi does not (or is the cap)
    const u128 mid = lo + (hi - lo) / 2;
    (magnitude_violation(profile, mid, field) ? hi : lo) = mid;
  }
  return magnitude_violation(profile, hi, field) ? lo : hi;
}

template <class Cfg>
int bench_all(const BenchModel& m, FieldId field, const std::vector<std::size_t>& batches, const BenchOptions& o,
              std::mt19937_64& rng) {
  auto engine = make_engine<Cfg>(o.engine, o.threads);
  nlohmann::json out;
  out["nnproof_version"] = NNPROOF_VERSION;
  out["engine"] = engine->name();
  out["device"] = cpu_name();
  out["threads"] = omp_get_max_threads();
  out["field"] = std::string(field_name(field));
  out["arch"] = m.model.dims();
  // Which float32 implementation float_forward_s timed (docs/PERFORMANCE.md).
  out["float_forward_impl"] = o.model.empty() ? "OpenBLAS sgemm" : "oneDNN f32 primitives";
  if (!o.model.empty()) {
    out["model"] = o.model;
    out["input_max_abs"] = static_cast<std::uint64_t>(m.input_max);
  } else {
    out["input_bits"] = o.input_bits;  // the synthetic input's width, which the input binding's cost follows
  }
  out["results"] = nlohmann::json::array();
  const std::vector<BenchColumn> columns = {
      {"forward_s", "forward_s", 10, 4},          {"prove_s", "prove_s", 10, 4},    {"verify_s", "verify_s", 10, 5},
      {"prove/fw", "prove_s", 8, 3, "forward_s"}, {"bits", "soundness_bits", 8, 1}, {"proof_bytes", "proof_bytes", 12},
      {"float_fw_s", "float_forward_s", 14, 4}};
  if (!o.json) print_bench_header("", engine->name(), omp_get_max_threads(), field_name(field), columns);
  for (std::size_t b : batches) {
    auto r = bench_batch<Cfg>(*engine, m, b, o, rng);
    if (!o.json) print_bench_row(b, r, columns);
    out["results"].push_back(r);
  }
  if (o.json) fmt::print("{}\n", out.dump(2));
  return kExitOk;
}

int run_bench(const BenchOptions& o) {
  if (o.training && !o.model.empty())
    throw UsageError("bench --training times a synthetic network (--arch); --model is for inference proofs");
  if (o.training) return run_training_bench(o);
  const auto batches = parse_list(o.batches, "--batch");
  std::mt19937_64 rng(o.seed);
  if (!o.model.empty()) {  // a model file: its own field unless --field, inputs within its bound
    const FloatModel fm = import_onnx(o.model);
    const QuantizedModel model = quantize_model(fm, ScaleChoice{});
    const FieldId field = choose_field(o.field, fm);
    const BenchModel m{
        model, model_digest(model), largest_input_bound(model, field, o.model),
        [&model](std::size_t batch, std::mt19937_64& r) { return float_forward_model(model, batch, r); }};
    return with_file_field(field, [&]<class Cfg>() { return bench_all<Cfg>(m, field, batches, o, rng); });
  }
  const auto arch = parse_list(o.arch, "--arch");
  if (arch.size() < 2) throw UsageError("--arch needs at least two sizes (input and output)");
  const FieldId field = o.field.empty() ? FieldId::m61 : parse_field(o.field);
  const QuantizedModel model = synthetic_model(arch, rng, 127, 127);  // int8 weights
  // The digest once per model, as a client loading it would.
  const BenchModel m{model, model_digest(model), 0,
                     [&arch](std::size_t batch, std::mt19937_64& r) { return float_forward(arch, batch, r); }};
  return with_file_field(field, [&]<class Cfg>() { return bench_all<Cfg>(m, field, batches, o, rng); });
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd =
      app.add_subcommand("bench", "time forward, prove and verify on random data shaped like a quantized model");
  CLI::Option* arch =
      cmd->add_option("--arch", o->arch, "layer sizes n_0,...,n_L (default: TIMIT, 1845,2000,2000,2000,183)");
  cmd->add_option("--model", o->model,
                  "an ONNX model (as prove takes) instead of --arch: random inputs within its magnitude bound, "
                  "float_forward_s from oneDNN float32")
      ->excludes(arch);
  cmd->add_option("--batch", o->batches, "batch sizes (default 64,512,2048)");
  cmd->add_option("--field", o->field, "m61 or m127 (default m61; with --model, the model's nnproof.field, else m61)");
  add_engine_options(*cmd, o->engine, o->threads);
  cmd->add_option("--repeat", o->repeat, "runs per measurement; the fastest is reported (default 1)");
  cmd->add_option("--verify-repeat", o->verify_repeat,
                  "verifications per measurement, back to back; the fastest is reported (default: --repeat)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o->seed, "random seed (default 1)");
  cmd->add_option(
         "--input-bits", o->input_bits,
         "--arch: input values in +-(2^(bits-1) - 1), as quantized inputs are (default 8; 61 or more: any field "
         "element)")
      ->check(CLI::Range(2, 128));
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->add_flag("--training", o->training,
                "time the exact loss and gradient (grad_s), its proof (prove_s) and verify_training (verify_s)");
  cmd->callback([o, &exit_code] { exit_code = run_bench(*o); });
}

}  // namespace nnproof::cli
