// SPDX-License-Identifier: Apache-2.0
// The prover's memory estimate follows the engine that proves (host/memory.hpp): the cpu engine
// keeps no activation table Y_i (i >= 1) in an inference proof, so its estimate leaves those rows
// out and counts the scratch its forward pass writes instead; the other engines keep every Y and
// get the conservative count, which stays the default. Each difference is written out by hand from
// the model's shapes; then plan_chunks and `prove --dry-run` for each --engine.
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

constexpr std::size_t kM61 = 8, kM127 = 16;  // bytes of an entry of F

// examples/cifar_cnn: conv 3->32 on 32 x 32; pool, conv 32->64 on 16 x 16; pool, dense 4096->10.
QuantizedModel cifar_cnn() {
  return quantize_model(import_onnx(std::string(NNPROOF_SOURCE_DIR) + "/examples/cifar_cnn/cifar_cnn.onnx"), {});
}

// What the named engine says of itself (Engine::proof_reads_activations).
bool keeps_activations(const char* engine) { return make_engine<M127>(engine)->proof_reads_activations(); }

TEST(MemoryEstimate, EnginesSayWhetherTheyKeepActivations) {
  EXPECT_FALSE(keeps_activations("cpu"));
  EXPECT_TRUE(keeps_activations("reference"));
  if (engine_unavailable_reason(EngineId::thrust_omp).empty()) {
    EXPECT_TRUE(keeps_activations("thrust-omp"));
  }
}

// The CNN's tables: n_0 = 3072 (4096 padded), Z_1 32768, Z_2 16384, Z_3 10. The cpu engine keeps
// no Y_1, Y_2 (32768 + 16384 rows of b) and pools the squares of Z_1, then Z_2, into vectors of
// 32 x 16 x 16 = 8192 and 64 x 8 x 8 = 4096 rows of the real batch: the larger is counted.
TEST(MemoryEstimate, CnnWithoutActivationTables) {
  const QuantizedModel m = cifar_cnn();
  ASSERT_EQ(proof_dims(m, 3), (std::vector<std::size_t>{3072, 32768, 16384, 10}));
  for (const auto& [batch, b] : {std::pair<std::size_t, std::size_t>{256, 256}, {200, 256}, {1, 1}}) {
    const std::size_t all = estimate_prove_bytes(m, FieldId::m127, batch, 3, true);
    const std::size_t cpu = estimate_prove_bytes(m, FieldId::m127, batch, 3, false);
    EXPECT_EQ(all - cpu, (32768 + 16384) * b * kM127 - 8192 * batch * kM127) << batch;
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m127, batch, 3), all) << "the default is the conservative count";
  }
}

// Dense 64-32-32-10: no Y_1, Y_2 (32 + 32 rows of b); Z_1, then Z_2, squared into a table of 32 rows.
TEST(MemoryEstimate, DenseLayersSquareIntoOneTable) {
  std::mt19937_64 rng(7);
  const QuantizedModel m = testing::random_model({64, 32, 32, 10}, rng);
  for (const auto& [batch, b] : {std::pair<std::size_t, std::size_t>{1000, 1024}, {5, 8}})
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m61, batch, 3) - estimate_prove_bytes(m, FieldId::m61, batch, 3, false),
              (32 + 32 - 32) * b * kM61);
}

// A chain that starts with a convolution squares its whole input first: 1 x 4 x 4 -> conv 3 x 3
// pad 1 -> 2 x 4 x 4 (32), then [conv 3 x 3 pad 1 -> 32, sum pool 2 x 2 -> 8], then dense 8 -> 3.
// The cpu engine keeps no Y_1 (32 rows of b) or Y_2 (8); layer 2 squares Z_1 into 32 rows of b and
// writes its convolution's 32 rows of the batch before the pool, more than layer 3's square of Z_2
// (8 rows of b): here the cpu engine's count is the larger.
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
  for (const auto& [batch, b] : {std::pair<std::size_t, std::size_t>{5, 8}, {64, 64}})
    EXPECT_EQ(estimate_prove_bytes(m, FieldId::m61, batch, 3, false) - estimate_prove_bytes(m, FieldId::m61, batch, 3),
              (32 * b + 32 * batch - (32 + 8) * b) * kM61);
}

// Under a limit between the two counts, the cpu engine proves the batch in one proof where an
// engine that keeps every Y needs two chunks.
TEST(MemoryEstimate, PlanTakesFewerChunksForTheCpuEngine) {
  const QuantizedModel m = cifar_cnn();
  constexpr std::size_t kBatch = 1024;
  const std::size_t limit = estimate_batch_bytes(m, FieldId::m127, kBatch) +
                            estimate_prove_bytes(m, FieldId::m127, kBatch, 3, keeps_activations("cpu"));
  const ChunkPlan cpu = plan_chunks(m, FieldId::m127, kBatch, 3, limit, keeps_activations("cpu"));
  const ChunkPlan ref = plan_chunks(m, FieldId::m127, kBatch, 3, limit, keeps_activations("reference"));
  EXPECT_EQ(cpu.chunks, 1u);
  EXPECT_EQ(cpu.peak_bytes, limit);
  EXPECT_EQ(ref.chunks, 2u);
  EXPECT_EQ(ref.chunk_samples, 512u);
  EXPECT_LT(cpu.whole_bytes, ref.whole_bytes);
  EXPECT_EQ(plan_chunks(m, FieldId::m127, kBatch, 3, limit).chunks, ref.chunks) << "the default is conservative";
}

// `prove --dry-run` reports the estimate of the engine it would prove on: --engine cpu and auto
// (the cpu engine for this work) without the Y tables, reference with them; under a --max-memory
// between the two, one proof on the cpu engine, chunks on the reference engine.
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
  const std::size_t cpu = estimate_prove_bytes(m, FieldId::m127, kBatch, 3, false);
  const std::size_t all = estimate_prove_bytes(m, FieldId::m127, kBatch, 3, true);
  ASSERT_LT(cpu, all);
  EXPECT_EQ(dry_run("--engine cpu").at("estimated_peak_bytes").get<std::size_t>(), cpu);
  EXPECT_EQ(dry_run("").at("estimated_peak_bytes").get<std::size_t>(), cpu);
  EXPECT_EQ(dry_run("--engine reference").at("estimated_peak_bytes").get<std::size_t>(), all);
  const std::string limit = "--max-memory " + std::to_string(estimate_batch_bytes(m, FieldId::m127, kBatch) + cpu);
  EXPECT_EQ(dry_run("--engine cpu " + limit).at("chunks"), 1);
  EXPECT_EQ(dry_run("--engine reference " + limit).at("chunks"), 2);
}

}  // namespace
}  // namespace nnproof
