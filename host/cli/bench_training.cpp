// SPDX-License-Identifier: Apache-2.0
// nnproof bench --training: the exact loss and gradient on an engine (grad_s), the same plus its
// proof (prove_s), the client's check (verify_s), and what the client would otherwise run: a float32
// forward and backward pass of the same shapes with BLAS (float_grad_s).
#include <cblas.h>
#include <fmt/core.h>
#include <omp.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "host/cli/bench_common.hpp"
#include "host/cli/common.hpp"
#include "host/synthetic.hpp"
#include "host/training/prover.hpp"
#include "nnproof/version.hpp"
#include "verifier/training/verifier.hpp"

namespace nnproof::cli {
namespace {

// C (m x n) = op(A) op(B), row-major, op a transpose where asked.
void sgemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* A, const float* B, float* C) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), 1.f, A, static_cast<int>(ta ? m : k), B,
              static_cast<int>(tb ? k : n), 0.f, C, static_cast<int>(n));
}

// One float32 forward and backward pass (TRAINING.md section 2's recurrences, in floats).
std::function<void()> float_gradient(const std::vector<std::size_t>& arch, std::size_t batch, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<std::vector<float>> W;
  for (std::size_t i = 1; i < arch.size(); ++i) {
    W.emplace_back(arch[i] * arch[i - 1]);
    const float sd = 1.f / std::sqrt(static_cast<float>(arch[i - 1]));
    for (auto& x : W.back()) x = g(rng) * sd;
  }
  std::vector<float> x0(arch[0] * batch), target(arch.back() * batch, 0.f);
  for (auto& x : x0) x = g(rng);
  for (std::size_t k = 0; k < batch; ++k) target[(rng() % arch.back()) * batch + k] = 1.f;
  return [arch, batch, W = std::move(W), x0 = std::move(x0), target = std::move(target)] {
    const std::size_t L = arch.size() - 1;
    std::vector<std::vector<float>> Y{x0}, Z;
    for (std::size_t i = 1; i <= L; ++i) {
      Z.emplace_back(arch[i] * batch);
      sgemm(false, false, arch[i], batch, arch[i - 1], W[i - 1].data(), Y.back().data(), Z.back().data());
      if (i < L) {
        Y.emplace_back(Z.back());
        for (auto& v : Y.back()) v = v * v;
      }
    }
    std::vector<float> D(Z.back().size()), G, E;
    for (std::size_t e = 0; e < D.size(); ++e) D[e] = 2.f * (Z.back()[e] - target[e]);
    for (std::size_t i = L; i >= 1; --i) {
      G.assign(arch[i] * arch[i - 1], 0.f);
      sgemm(false, true, arch[i], arch[i - 1], batch, D.data(), Y[i - 1].data(), G.data());
      std::vector<float> bias_grad(arch[i], 0.f);
      for (std::size_t a = 0; a < arch[i]; ++a)
        for (std::size_t k = 0; k < batch; ++k) bias_grad[a] += D[a * batch + k];
      if (i == 1) break;
      E.assign(arch[i - 1] * batch, 0.f);
      sgemm(true, false, arch[i - 1], batch, arch[i], W[i - 1].data(), D.data(), E.data());
      D.resize(E.size());
      for (std::size_t e = 0; e < E.size(); ++e) D[e] = 2.f * Z[i - 2][e] * E[e];
    }
  };
}

// verify_training_bundle's work on data that wraps the field: the bindings and the statement digest
// against the header, then the protocol with the transcript's challenges.
template <class Cfg>
Verdict verify_without_magnitudes(const TrainingStatement<Cfg>& st, const TrainingBundle<Cfg>& bundle) {
  const TrainingBindings bindings = training_bindings(st);
  if (bindings.model != bundle.header.model_binding || bindings.data != bundle.header.data_binding ||
      training_statement_digest(st, bindings) != bundle.header.statement_digest)
    return Verdict::reject("bench: the statement does not match the bundle");
  Transcript t = training_transcript<Cfg>(bundle.header.statement_digest);
  FiatShamirVerifierChannel<typename Cfg::K> ch(t, bundle.messages);
  return verify_training_protocol(st, ch);
}

template <class Cfg>
nlohmann::json bench_training_batch(Engine<Cfg>& engine, const QuantizedModel& model, const Digest& digest,
                                    const std::vector<std::size_t>& arch, std::size_t batch, const BenchOptions& o,
                                    std::mt19937_64& rng) {
  using F = typename Cfg::F;
  TrainingStatement<Cfg> st;
  st.model = &model;
  st.model_digest = digest;
  st.samples = batch;
  st.input.resize(batch * arch.front());
  for (auto& x : st.input) x = random_element<F>(rng);  // the arithmetic is exact mod p whatever the values
  for (std::size_t k = 0; k < batch; ++k) st.labels.push_back(static_cast<std::int64_t>(rng() % arch.back()));
  st.lr_exponent = 6;
  const auto layers = field_layers<F>(model);
  const F scale = F::from_int(target_scale(model));
  const std::function<void()> float_run = float_gradient(arch, batch, rng);
  BestTime float_t, grad_t, prove_t, verify_t;
  TrainingBundle<Cfg> bundle;
  for (int i = 0; i < std::max(o.repeat, 1); ++i) {
    float_t.run(float_run);
    grad_t.run([&] {
      BackwardTrace<Cfg> trace = run_backward(engine, layers, st.input, st.labels, scale);
      st.claims = gradient_claims(engine, layers, trace);
    });
    const ProgressFn stages = stage_printer(std::chrono::steady_clock::now());
    prove_t.run([&] { bundle = prove_training_bundle(engine, st, stages); });
  }
  for (int i = 0; i < std::max(o.verify_repeat > 0 ? o.verify_repeat : o.repeat, 1); ++i) {
    Verdict verdict;
    // The bundle's checks and the protocol, without the magnitude bound: random field elements as
    // data wrap any bound, and the bound's O(|W| + data) pass is not what is timed here.
    verify_t.run([&] { verdict = verify_without_magnitudes(st, bundle); });
    if (!verdict.accepted)
      throw std::runtime_error("bench: an honest training proof was rejected: " + verdict.failed_check);
  }
  const TrainingShape shape{model.dims(), batch};
  nlohmann::json r;
  r["batch"] = batch;
  r["grad_s"] = grad_t.seconds;
  r["prove_s"] = prove_t.seconds;
  r["verify_s"] = verify_t.seconds;
  const std::vector<unsigned char> bytes = serialize_training_bundle(bundle);
  r["proof_bytes"] = bytes.size();
  r["proof_sha256"] = to_hex(sha256(bytes));  // proofs compared across builds and engines in one command
  r["message_bytes"] = bundle.messages.size() * Cfg::K::kBytes;
  r["soundness_bits"] = shape.soundness_bits(Cfg::kId);
  r["float_grad_s"] = float_t.seconds;
  // Process CPU seconds (bench_common.hpp, BestTime): ratios that a loaded machine disturbs less.
  r["grad_cpu_s"] = grad_t.cpu_seconds;
  r["prove_cpu_s"] = prove_t.cpu_seconds;
  r["verify_cpu_s"] = verify_t.cpu_seconds;
  return r;
}

}  // namespace

int run_training_bench(const BenchOptions& o) {
  const auto arch = parse_list(o.arch, "--arch");
  const auto batches = parse_list(o.batches, "--batch");
  if (arch.size() < 2) throw UsageError("--arch needs at least two sizes (input and output)");
  const FieldId field = o.field.empty() ? FieldId::m61 : parse_field(o.field);
  std::mt19937_64 rng(o.seed);
  const QuantizedModel model = synthetic_model(arch, rng, 127, 127);
  const Digest digest = model_digest(model);
  return with_file_field(field, [&]<class Cfg>() {
    auto engine = make_engine<Cfg>(o.engine, o.threads);
    nlohmann::json out;
    out["nnproof_version"] = NNPROOF_VERSION;
    out["mode"] = "training";
    out["engine"] = engine->name();
    out["device"] = cpu_name();
    out["threads"] = omp_get_max_threads();
    out["field"] = std::string(field_name(field));
    out["arch"] = arch;
    out["results"] = nlohmann::json::array();
    const std::vector<BenchColumn> columns = {{"grad_s", "grad_s", 9, 3},
                                              {"prove_s", "prove_s", 9, 3},
                                              {"verify_s", "verify_s", 9, 4},
                                              {"prove/grad", "prove_s", 10, 3, "grad_s"},
                                              {"bits", "soundness_bits", 7, 1},
                                              {"proof_bytes", "proof_bytes", 12},
                                              {"float_grad_s", "float_grad_s", 12, 4}};
    if (!o.json) print_bench_header("training: ", engine->name(), omp_get_max_threads(), field_name(field), columns);
    for (std::size_t b : batches) {
      auto r = bench_training_batch<Cfg>(*engine, model, digest, arch, b, o, rng);
      if (!o.json) print_bench_row(b, r, columns);
      out["results"].push_back(r);
    }
    if (o.json) fmt::print("{}\n", out.dump(2));
    return kExitOk;
  });
}

}  // namespace nnproof::cli
