// SPDX-License-Identifier: Apache-2.0
// The prover's memory estimate follows the engine that proves (host/memory.hpp): each engine says
// what its proof holds beside the forward trace (Engine::proof_memory), and the estimate counts it.
// Each count is written out by hand from the model's shapes: the cpu engine keeps no activation
// table Y_i (i >= 1) and holds half a Z_i in K; the reference engine keeps every Y, holds three Z_i in
// K and writes every op's output of a chain; the Thrust engines keep every Y, hold Z_i in K and in F,
// copy a chain's input and split it into limbs, and keep their GEMM's and lanes' scratch. Then
// plan_chunks and `prove --dry-run` for each --engine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "host/memory.hpp"
#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/quantize.hpp"
#include "kernels/registry.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/models.hpp"
#include "tests/support/temp_dir.hpp"
#include "verifier/image_layout.hpp"

namespace nnproof {
namespace {

constexpr std::size_t kM61 = 8, kM127 = 16, kK = 16;  // bytes of an entry of F; of K (both fields)
constexpr std::size_t kAllowance = kProcessAllowanceBytes;

// examples/cifar_cnn: conv 3->32 on 32 x 32; pool, conv 32->64 on 16 x 16; pool, dense 4096->10.
QuantizedModel cifar_cnn() {
  return quantize_model(import_onnx(std::string(NNPROOF_SOURCE_DIR) + "/examples/cifar_cnn/cifar_cnn.onnx"), {});
}

bool thrust_omp_built() { return engine_unavailable_reason(EngineId::thrust_omp).empty(); }

// What the named engine says of itself (Engine::proof_memory).
template <class Cfg = M127>
ProofMemory memory_of(const char* engine) {
  return make_engine<Cfg>(engine)->proof_memory();
}

TEST(MemoryEstimate, EnginesSayWhatTheirProofsHold) {
  const ProofMemory cpu = memory_of("cpu"), ref = memory_of("reference");
  EXPECT_FALSE(cpu.keeps_activations);
  EXPECT_EQ(cpu.activation_k_halves, 1u);
  EXPECT_EQ(cpu.activation_f_tables, 0u);
  EXPECT_FALSE(cpu.chain_writes_last_op);
  EXPECT_EQ(cpu.chain_input_bytes + cpu.gemm_limbs + cpu.combine_lanes, 0u);
  EXPECT_TRUE(ref.keeps_activations);
  EXPECT_EQ(ref.activation_k_halves, 6u);
  EXPECT_EQ(ref.activation_f_tables, 0u);
  EXPECT_TRUE(ref.chain_writes_last_op);
  EXPECT_EQ(ref.chain_input_bytes + ref.gemm_limbs + ref.combine_lanes, 0u);
  for (const char* name : {"cpu", "reference"})
    EXPECT_EQ(memory_of(name).keeps_activations, make_engine<M127>(name)->proof_reads_activations()) << name;
  if (!thrust_omp_built()) return;
  const ProofMemory omp = memory_of("thrust-omp"), omp61 = memory_of<M61>("thrust-omp");
  EXPECT_TRUE(omp.keeps_activations);
  EXPECT_EQ(omp.activation_k_halves, 2u);
  EXPECT_EQ(omp.activation_f_tables, 1u);
  EXPECT_TRUE(omp.chain_writes_last_op);
  EXPECT_EQ(omp.chain_input_bytes, kM127 + 5 * 4);  // a copy, and five 31-bit limbs in int32
  EXPECT_EQ(omp61.chain_input_bytes, kM61 + 2 * 4);
  EXPECT_EQ(omp.gemm_limbs, 19u);  // 7-bit limbs of 127 bits
  EXPECT_EQ(omp61.gemm_limbs, 9u);
  EXPECT_EQ(omp.gemm_input_bytes, 1u + 8);  // int8 limbs, and their doubles for DGEMM
  EXPECT_EQ(omp.gemm_output_bytes, 4u + 8);
  EXPECT_EQ(omp.combine_lanes, 64u);
}

// The CNN's tables, by hand: n_0 = 3072 (4096 padded), Z_1 32768, Z_2 16384, Z_3 10 (16). In the
// proof's layout, layer 1 is a convolution (3072 -> 32768), layer 2 a pool (-> 8192) then a
// convolution (-> 16384), layer 3 a pool (-> 4096) then the dense 4096 -> 10; no dense weights.
// Every engine: the input's two field forms and the allowance.
TEST(MemoryEstimate, CnnByHandForEachEngine) {
  const QuantizedModel m = cifar_cnn();
  ASSERT_EQ(proof_dims(m, 3), (std::vector<std::size_t>{3072, 32768, 16384, 10}));
  for (const auto& [batch, b] : {std::pair<std::size_t, std::size_t>{256, 256}, {200, 256}, {20, 32}}) {
    const std::size_t input = batch * 3072 * 2 * kM127;
    const std::size_t trace = (4096 + 32768 + 16384 + 16) * b * kM127, ys = (32768 + 16384) * b * kM127;
    // The cpu engine (unchanged by ProofMemory): no Y; the pools' squares of Z_1, then Z_2, into
    // 8192 and 4096 rows of the batch (the larger counted); half of Z_1 in K.
    const std::size_t cpu = trace + 8192 * batch * kM127 + 32768 * b * kK / 2 + input + kAllowance;
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m127, batch, 3, memory_of("cpu")), cpu) << batch;
    // The reference engine: every Y; layer 1's convolution output, 32768 rows of the batch (more
    // than layer 2's 8192 + 16384); three Z_1 in K.
    const std::size_t ref = trace + ys + 32768 * batch * kM127 + 3 * 32768 * b * kK + input + kAllowance;
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m127, batch, 3, memory_of("reference")), ref) << batch;
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m127, batch, 3), ref + 32768 * b * kM127)
        << "the default is the conservative count: three Z_1 in K and one in F";
    if (!thrust_omp_built()) continue;
    // The Thrust engines: every Y; layer 2's chain, its outputs (8192 + 16384 rows of the batch) and
    // 36 bytes an entry of its widest op input, Y_1 (32768 rows of at least 32 columns); Z_1 in K and
    // in F; the lanes' partial sums, 64 columns of Y_1 (at most b) in K. No GEMM: the dense 4096 -> 10
    // is an op of layer 3's chain.
    const std::size_t chain = (8192 + 16384) * batch * kM127 + 32768 * std::max<std::size_t>(b, 32) * 36;
    const std::size_t omp =
        trace + ys + chain + 32768 * b * (kK + kM127) + 32768 * std::min<std::size_t>(b, 64) * kK + input + kAllowance;
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m127, batch, 3, memory_of("thrust-omp")), omp) << batch;
  }
}

// The cpu engine's count (m61) and the same with the Y tables kept, without the dense layers' GEMM
// scratch (CpuDenseGemmScratchByHand's): their difference is the Y tables less the squares' scratch.
std::pair<ProofMemory, ProofMemory> cpu_and_with_y() {
  ProofMemory cpu = memory_of<M61>("cpu");
  cpu.dense_forward_bytes = nullptr;
  ProofMemory with_y = cpu;
  with_y.keeps_activations = true;
  return {cpu, with_y};
}

// Dense 64-32-32-10: no Y_1, Y_2 (32 + 32 rows of b); Z_1, then Z_2, squared into a table of 32 rows.
TEST(MemoryEstimate, DenseLayersSquareIntoOneTable) {
  std::mt19937_64 rng(7);
  const QuantizedModel m = testing::random_model({64, 32, 32, 10}, rng);
  const auto [cpu, with_y] = cpu_and_with_y();
  for (const auto& [batch, b] : {std::pair<std::size_t, std::size_t>{1000, 1024}, {5, 8}})
    EXPECT_EQ(
        estimate_prove_bytes(m, FieldId::m61, batch, 3, with_y) - estimate_prove_bytes(m, FieldId::m61, batch, 3, cpu),
        (32 + 32 - 32) * b * kM61);
}

// The cpu engine's dense routes' scratch, by hand for 64-48-10 with int16 weights (|w| <= 1000) in
// m127: the DGEMM route (not int8) with limbs of 32 to 42 bits for row sums of 2^11 to 2^21, so four
// limbs a sample, and the weights, limbs and products in doubles: layer 1 (48 x 64 weights,
// (64 + 48) x 4 x 1000 limbs and products) 3,608,576 bytes; layer 2 squares Z_1 (64 rows of b = 1024
// in F, 1,048,576) beside its own ((480 + 58 x 4000) x 8 = 1,859,840): layer 1's is the most.
TEST(MemoryEstimate, CpuDenseGemmScratchByHand) {
  std::mt19937_64 rng(7);
  const QuantizedModel m = testing::random_model({64, 48, 10}, rng, 1000);
  ASSERT_EQ(m.layers[0].weights.width(), 2u);  // int16: the DGEMM route
  const ProofMemory cpu = memory_of<M127>("cpu");
  ASSERT_TRUE(cpu.dense_forward_bytes);
  ProofMemory without = cpu;
  without.dense_forward_bytes = nullptr;
  EXPECT_EQ(cpu.dense_forward_bytes(m.layers[0], 1000), (48 * 64 + (64 + 48) * 4 * 1000) * 8);
  EXPECT_EQ(cpu.dense_forward_bytes(m.layers[1], 1000), (10 * 48 + (48 + 10) * 4 * 1000) * 8);
  // The limbs are planned once per layer (scratch_bytes_planned): another batch reads the plan.
  EXPECT_EQ(cpu.dense_forward_bytes(m.layers[0], 7), (48 * 64 + (64 + 48) * 4 * 7) * 8);
  EXPECT_EQ(cpu.dense_forward_bytes(m.layers[1], 7), (10 * 48 + (48 + 10) * 4 * 7) * 8);
  EXPECT_EQ(
      estimate_prove_bytes(m, FieldId::m127, 1000, 3, cpu) - estimate_prove_bytes(m, FieldId::m127, 1000, 3, without),
      3608576 - 64 * 1024 * kM127);
}

// The Thrust engines' dense scratch in m61, by hand for 784-128-10 (fcquad's shape): the GEMM's
// limbs, 9 a sample, of inner sizes 784 and 128 (the larger counted) and 128 and 10 rows (16), and
// the lanes' sums over Y_0 (1024 rows) in K. Less the reference engine's count, whose activation
// tables are three Z_1 in K where these are one in K and one in F.
TEST(MemoryEstimate, DenseGemmScratchByHand) {
  if (!thrust_omp_built()) GTEST_SKIP() << "thrust-omp is not built";
  std::mt19937_64 rng(7);
  const QuantizedModel m = testing::random_model({784, 128, 10}, rng);
  for (const auto& [batch, b] : {std::pair<std::size_t, std::size_t>{1000, 1024}, {5, 8}}) {
    const std::size_t gemm = (9 * batch + 15) / 16 * 16 * (784 * 9 + 128 * 12);
    const std::size_t lanes = 1024 * std::min<std::size_t>(b, 64) * kK;
    const std::size_t activation_less = 128 * b * (kK + kM61) - 128 * b * 3 * kK;
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m61, batch, 3, memory_of<M61>("thrust-omp")) -
                  estimate_prove_bytes(m, FieldId::m61, batch, 3, memory_of<M61>("reference")),
              gemm + lanes + activation_less)
        << batch;
  }
}

// A chain that starts with a convolution squares its whole input first: 1 x 4 x 4 -> conv 3 x 3
// pad 1 -> 2 x 4 x 4 (32), then [conv 3 x 3 pad 1 -> 32, sum pool 2 x 2 -> 8], then dense 8 -> 3.
// The cpu engine keeps no Y_1 (32 rows of b) or Y_2 (8); layer 2 squares Z_1 into 32 rows of b, more
// than layer 3's square of Z_2 (8 rows of b), beside its convolution's 32 rows of the batch before the
// pool, which an engine with Y tables writes too.
TEST(MemoryEstimate, ChainSquaredBeforeItsConvolution) {
  auto conv = [](std::size_t in_c, std::size_t out_c) {
    ConvShape c;
    c.in_channels = in_c, c.out_channels = out_c, c.in_h = c.in_w = 4, c.kernel_h = c.kernel_w = 3;
    c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
    return LinearOp::convolution(c, std::vector<std::int64_t>(c.kernel_size(), 1));
  };
  ConvShape pool;
  pool.in_channels = pool.out_channels = pool.groups = 2, pool.in_h = pool.in_w = 4;
  pool.kernel_h = pool.kernel_w = pool.stride_h = pool.stride_w = 2;
  QuantizedModel m;
  m.input_shape = {1, 4, 4};
  m.layers.resize(3);
  m.layers[0].ops = {conv(1, 2)};
  m.layers[1].ops = {conv(2, 2), LinearOp::sum_pool(pool)};
  m.layers[2].weights = WeightMatrix(std::vector<std::int64_t>(8 * 3, 1));
  const std::size_t rows[] = {32, 8, 3}, cols[] = {16, 32, 8};
  for (std::size_t i = 0; i < 3; ++i) {
    m.layers[i].rows = rows[i], m.layers[i].cols = cols[i];
    m.layers[i].bias.assign(rows[i], 0);
  }
  m.validate();
  const auto [cpu, with_y] = cpu_and_with_y();
  for (const auto& [batch, b] : {std::pair<std::size_t, std::size_t>{5, 8}, {64, 64}})
    EXPECT_EQ(
        estimate_prove_bytes(m, FieldId::m61, batch, 3, with_y) - estimate_prove_bytes(m, FieldId::m61, batch, 3, cpu),
        ((32 + 8) * b - 32 * b) * kM61);
}

// Under a limit between the two counts, the cpu engine proves the batch in one proof where the
// reference engine needs four chunks.
TEST(MemoryEstimate, PlanTakesFewerChunksForTheCpuEngine) {
  const QuantizedModel m = cifar_cnn();
  constexpr std::size_t kBatch = 1024;
  const std::size_t limit = estimate_batch_bytes(m, FieldId::m127, kBatch) +
                            estimate_prove_bytes(m, FieldId::m127, kBatch, 3, memory_of("cpu"));
  const ChunkPlan cpu = plan_chunks(m, FieldId::m127, kBatch, 3, limit, memory_of("cpu"));
  const ChunkPlan ref = plan_chunks(m, FieldId::m127, kBatch, 3, limit, memory_of("reference"));
  EXPECT_EQ(cpu.chunks, 1u);
  EXPECT_EQ(cpu.peak_bytes, limit);
  EXPECT_EQ(ref.chunks, 4u);
  EXPECT_EQ(ref.chunk_samples, 256u);
  EXPECT_LT(cpu.whole_bytes, ref.whole_bytes);
  EXPECT_GE(plan_chunks(m, FieldId::m127, kBatch, 3, limit).chunks, ref.chunks) << "the default is conservative";
}

// `prove --dry-run` reports the estimate of the engine it would prove on: --engine cpu and auto
// (the cpu engine for this work), reference and thrust-omp each their own, and plans by it: one proof
// under a --max-memory that fits that estimate and the batch's share, two chunks a byte below it.
TEST(MemoryEstimate, DryRunFollowsTheEngine) {
  if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
  constexpr std::size_t kBatch = 4;
  testing::TempDir dir;
  const std::string input = dir.file("x.npy");
  std::vector<double> x(kBatch * 3 * 32 * 32);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i % 256);
  write_npy_f64(input, {kBatch, 3, 32, 32}, x);
  const QuantizedModel m = cifar_cnn();
  const std::string model = std::string(NNPROOF_SOURCE_DIR) + "/examples/cifar_cnn/cifar_cnn.onnx";
  auto dry_run = [&](const std::string& more) {
    const testing::CliRun r =
        testing::run_cli("prove --model " + model + " --input " + input + " --dry-run --json " + more);
    EXPECT_EQ(r.code, 0) << r.out;
    return nlohmann::json::parse(r.out);
  };
  std::vector<std::string> engines = {"cpu", "reference"};
  if (thrust_omp_built()) engines.push_back("thrust-omp");
  const std::size_t cpu = estimate_prove_bytes(m, FieldId::m127, kBatch, 3, memory_of("cpu"));
  for (const std::string& e : engines) {
    const std::size_t own = estimate_prove_bytes(m, FieldId::m127, kBatch, 3, memory_of(e.c_str()));
    EXPECT_EQ(dry_run("--engine " + e).at("estimated_peak_bytes").get<std::size_t>(), own) << e;
    if (e != "cpu") {
      EXPECT_LT(cpu, own) << e;
    }
    const std::size_t fits = estimate_batch_bytes(m, FieldId::m127, kBatch) + own;
    EXPECT_EQ(dry_run("--engine " + e + " --max-memory " + std::to_string(fits)).at("chunks"), 1) << e;
    EXPECT_EQ(dry_run("--engine " + e + " --max-memory " + std::to_string(fits - 1)).at("chunks"), 2) << e;
  }
  EXPECT_EQ(dry_run("").at("estimated_peak_bytes").get<std::size_t>(), cpu);
}

}  // namespace
}  // namespace nnproof
