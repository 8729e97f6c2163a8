// SPDX-License-Identifier: Apache-2.0
// The Thrust engine's costs, measured on its OpenMP twin: host syncs and device tables per proof, and
// weights uploaded once per contents (found by the weights' stamp, which WeightMatrix keeps).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/registry.hpp"
#include "kernels/thrust/thrust_engine.hpp"
#include "tests/support/engines.hpp"
#include "tests/support/models.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

using testing::make_rng;

// The Thrust engine keeps a proof's sum-check rounds on its device (SumcheckProver::run_fiat_shamir):
// the host waits a fixed number of times per layer, not once per round. Measured on the OpenMP
// twin, which counts the waits the cuda build would make (kernels/thrust/host_syncs.hpp): the same
// count for a network 16 times wider (four more rounds per sum-check), and at most kPerLayer per
// layer. A driver that ran the rounds from the host again (one wait per round) fails both.
struct ProofCosts {
  std::size_t syncs = 0;
  HostTransfers transfers;        // a warm engine's: the weights are on the device already
  std::size_t output_bytes = 0;   // the last layer's table, which the prover reads on the host
  std::size_t message_bytes = 0;  // the proof's messages
  std::size_t input_bytes = 0;    // the input's rows, as uploaded: one byte a value (small_input.hpp)
};
ProofCosts thrust_proof_costs(std::size_t width, std::size_t layers) {
  using K = M61::K;
  auto rng = make_rng(91);
  std::vector<std::size_t> dims(layers + 1, width);
  auto model = testing::random_model(dims, rng, 100, 100);
  const auto st = testing::random_statement<M61>(model, 32, rng);
  auto engine = make_engine<M61>("thrust-omp");
  auto cold_st = st, warm_st = st, ref_st = st;
  static_cast<void>(prove_bundle(*engine, cold_st));  // the first uploads the weights
  ProofCosts c;
  const std::size_t before = engine->host_syncs();
  const HostTransfers transfers_before = engine->host_transfers();
  const auto bundle = prove_bundle(*engine, warm_st);
  c.syncs = engine->host_syncs() - before;
  c.transfers = engine->host_transfers() - transfers_before;
  c.output_bytes = padded(width) * padded(st.batch) * sizeof(M61::F);
  c.message_bytes = bundle.messages.size() * sizeof(K);
  c.input_bytes = st.input.size();  // random_statement's values are within +-3: int8
  EXPECT_EQ(serialize_bundle(bundle), serialize_bundle(prove_bundle(*make_reference_engine<M61>(), ref_st)));
  return c;
}

TEST(ThrustEngine, HostSyncsPerProofGrowWithLayersNotRounds) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  // 4 today (12 for 3 layers of a warm engine: the input up, then per sum-check its points with its
  // transcript state up and its rounds down, then the outputs down). A and V stay on the device
  // (layer_product_sumcheck), the biases too (DeviceBiases); making a table waits for nothing
  // (transfers.hpp). 101 for 3 layers in session 11, 35 in session 13 (a cold engine's, 3 weight
  // uploads more), 20 in session 15 (a bias and a points upload more per layer). One sum-check
  // whose rounds went back to the host (8 rounds at width 256) exceeds the bound.
  constexpr std::size_t kPerLayer = 4;
  const ProofCosts narrow = thrust_proof_costs(16, 3), wide = thrust_proof_costs(256, 3);
  EXPECT_EQ(narrow.syncs, wide.syncs) << "the host waits more often for a wider network: once per round?";
  EXPECT_LE(wide.syncs, 3 * kPerLayer);
  EXPECT_GT(wide.syncs, 0u);  // the count is live
  std::printf("thrust-omp: %zu host syncs per proof of 3 layers\n", wide.syncs);
}

// What crosses between host and device in a warm engine's proof (Engine::host_transfers): a fixed
// few transfers per layer, and nothing of the tables' size but the input going up and the outputs
// coming down. A and V, computed on the device, stay there: at width 256 they are 4 KiB a layer,
// more than the proof's messages, which (with the challenges) are all that comes down besides the
// outputs.
TEST(ThrustEngine, HostTransfersPerProofAreBounded) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  constexpr std::size_t kPerLayer = 4;  // 12 for 3 layers today, each also a host sync (20 before)
  const ProofCosts narrow = thrust_proof_costs(16, 3), wide = thrust_proof_costs(256, 3);
  for (const ProofCosts& c : {narrow, wide}) {
    EXPECT_EQ(c.transfers.count(), wide.transfers.count()) << "more transfers for a wider network: per round?";
    EXPECT_LE(c.transfers.count(), 3 * kPerLayer);
    EXPECT_GT(c.transfers.to_device, 0u);  // the counts are live
    EXPECT_GT(c.transfers.to_host, 0u);
    EXPECT_GE(c.transfers.to_host_bytes, c.output_bytes);
    // The messages and the challenges drawn on the device (as many), and each sum-check's final value.
    EXPECT_LE(c.transfers.to_host_bytes - c.output_bytes, 2 * c.message_bytes + 3 * 2 * 2 * sizeof(M61::K))
        << "a table of the network's width came down (A or V?)";
    // Up: the input, one byte a value, and per layer only points (the eq tables are built from them
    // on the device: eq_tables.inl) with transcript states, 480 bytes at width 256 (the biases are
    // kept on the device). Uploading A, V, an eq table (9 KiB a layer at width 256), a bias (2 KiB)
    // or the input as field elements (8 bytes a value) fails this.
    EXPECT_LE(c.transfers.to_device_bytes, c.input_bytes + 3 * 512)
        << "a table of the network's width went up (A, V, an eq table, a bias, the input as F?)";
  }
  std::printf(
      "thrust-omp, 3 layers of 256, batch 32: %zu uploads (%zu bytes; the input is %zu), %zu downloads (%zu "
      "bytes; the outputs are %zu)\n",
      wide.transfers.to_device, wide.transfers.to_device_bytes, wide.input_bytes, wide.transfers.to_host,
      wide.transfers.to_host_bytes, wide.output_bytes);
}

// A warm engine's proof allocates a fixed few device tables per layer (Engine::table_allocations):
// the operations' scratch tables are kept across operations and proofs (engine.inl, gemm.inl) and
// each sum-check's round buffers are one table (sumchecks.inl). Measured on the OpenMP twin, whose
// allocator is the cuda build's: the same count for a network 16 times wider, at most kPerLayer.
std::size_t thrust_proof_tables(std::size_t width, std::size_t layers) {
  auto rng = make_rng(92);
  std::vector<std::size_t> dims(layers + 1, width);
  auto model = testing::random_model(dims, rng, 100, 100);
  const auto st = testing::random_statement<M61>(model, 32, rng);
  auto engine = make_engine<M61>("thrust-omp");
  auto cold_st = st, warm_st = st, ref_st = st;
  const std::size_t cold_before = engine->table_allocations();
  static_cast<void>(prove_bundle(*engine, cold_st));  // the first: the weights' copies, the scratch
  const std::size_t before = engine->table_allocations();
  const auto bundle = prove_bundle(*engine, warm_st);
  const std::size_t warm = engine->table_allocations() - before;
  EXPECT_EQ(serialize_bundle(bundle), serialize_bundle(prove_bundle(*make_reference_engine<M61>(), ref_st)));
  std::printf("thrust-omp: %zu device tables allocated by a cold proof of %zu layers of %zu, %zu by a warm one\n",
              before - cold_before, layers, width, warm);
  return warm;
}

TEST(ThrustEngine, TableAllocationsPerProofAreBounded) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  // ~11 per layer today (34 for 3 layers): the forward's and square's outputs, the sum-checks'
  // tables, spares and round buffers. Was 27 (81): every scratch table, eq upload and round buffer
  // its own. The narrow network's few more: its column eq table outgrows the row table's spare.
  constexpr std::size_t kPerLayer = 13;
  const std::size_t narrow = thrust_proof_tables(16, 3), wide = thrust_proof_tables(256, 3);
  EXPECT_LE(wide, narrow) << "a wider network (more rounds) allocates more tables: once per round?";
  EXPECT_LE(wide, 3 * kPerLayer);
  EXPECT_GT(wide, 0u);  // the count is live
}

// The engine's device copy of a layer's weights is found by the weights' stamp
// (weights_cache.hpp): unchanged weights are uploaded once, and a copy of them, a set() and a write
// through mutable_int8_data() each make the next use upload them again (and prove with the new
// weights). Each upload is one host sync (transfers.hpp), so the count shows them.
TEST(ThrustEngine, WeightsAreUploadedOncePerContents) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  using K = M61::K;
  auto rng = make_rng(71);
  auto engine = make_thrust_omp_engine<M61>();
  auto ref = make_reference_engine<M61>();
  QuantizedModel m = testing::random_model({300, 520}, rng, 127, 1000);
  ASSERT_NE(m.layers[0].weights.int8_data(), nullptr);
  std::vector<K> eq_q(padded(520));
  for (auto& x : eq_q) x = random_element<K>(rng);
  // row_combine's host syncs with these weights, its result checked against the reference engine.
  const auto syncs = [&](const QuantizedModel& model) {
    const auto layers = field_layers<M61::F>(model);
    const std::size_t before = engine->host_syncs();
    const auto a = engine->row_combine(layers[0], eq_q);
    const std::size_t n = engine->host_syncs() - before;
    EXPECT_EQ(ref->row_combine(layers[0], eq_q), a);
    return n;
  };
  const std::size_t first = syncs(m), cached = syncs(m);
  EXPECT_EQ(first, cached + 1) << "unchanged weights were uploaded again, or the first use uploaded nothing";
  EXPECT_EQ(syncs(m), cached);

  const QuantizedModel copy = m;
  EXPECT_EQ(syncs(copy), first) << "a copy";
  EXPECT_EQ(syncs(copy), cached);

  WeightMatrix& w = m.layers[0].weights;
  w.set(7, w[7] == 3 ? 4 : 3);
  ASSERT_NE(w.int8_data(), nullptr);
  EXPECT_EQ(syncs(m), first) << "set()";
  EXPECT_EQ(syncs(m), cached);

  std::int8_t* p = w.mutable_int8_data();
  p[520 * 299] = static_cast<std::int8_t>(p[520 * 299] == 5 ? 6 : 5);
  EXPECT_EQ(syncs(m), first) << "a write through mutable_int8_data()";
  EXPECT_EQ(syncs(m), cached);
  EXPECT_EQ(syncs(copy), cached) << "the copy's entry is still cached and still its own";
}

// The layers' biases stay on the device too (gemm.inl's DeviceBiases), found by their entries:
// a forward pass with a bias already used uploads nothing, and a changed bias (the same weights) is
// uploaded and used, each result the reference engine's.
TEST(ThrustEngine, BiasesAreUploadedOncePerContents) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  using F = M61::F;
  auto rng = make_rng(72);
  auto engine = make_thrust_omp_engine<M61>();
  auto ref = make_reference_engine<M61>();
  QuantizedModel m = testing::random_model({40, 30}, rng, 100, 1000);
  const auto st = testing::random_statement<M61>(m, 5, rng);
  const Table2D<F> x = engine->input_table(st.input, 40, 5), ref_x = ref->input_table(st.input, 40, 5);
  // The uploads of one forward pass, its result checked against the reference engine's.
  const auto uploads = [&](const QuantizedModel& model) {
    const auto layers = field_layers<F>(model);
    const HostTransfers before = engine->host_transfers();
    Table2D<F> z = engine->forward(layers[0], x, 5);
    const std::size_t n = (engine->host_transfers() - before).to_device;
    engine->to_host(z);
    EXPECT_EQ(z.data, ref->forward(layers[0], ref_x, 5).data);
    return n;
  };
  EXPECT_EQ(uploads(m), 2u) << "the first forward pass: the weights and the bias";
  EXPECT_EQ(uploads(m), 0u) << "a bias used before went up again";
  m.layers[0].bias[17] += 1;
  EXPECT_EQ(uploads(m), 1u) << "a changed bias";
  EXPECT_EQ(uploads(m), 0u);
  m.layers[0].bias[17] -= 1;
  EXPECT_EQ(uploads(m), 0u) << "the first bias is still kept";
}

// The input goes up as the small integers it is (small_input.hpp): each value in the fewest of 1, 2,
// 4 or 8 bytes that hold every value's centered form (a field element's own bytes past that), and
// lifted on the device to the reference engine's table byte for byte. Each width's extremes, and
// one value past them, which takes the next width.
template <class Cfg>
void check_small_input() {
  using F = typename Cfg::F;
  auto rng = make_rng(73);
  auto engine = make_thrust_omp_engine<Cfg>();
  auto ref = make_reference_engine<Cfg>();
  const std::size_t n0 = 37, batch = 5, n = n0 * batch;
  const i128 max64 = std::numeric_limits<std::int64_t>::max();
  const std::vector<std::pair<i128, std::size_t>> cases = {
      {127, 1}, {128, 2}, {32767, 2}, {32768, 4}, {2147483647, 4}, {i128{2147483648}, 8}, {max64, 8}, {max64 + 1, 16}};
  for (const auto& [bound, width] : cases) {
    if (static_cast<i128>(F::from_i128(-bound - 1).centered()) != -bound - 1) continue;  // past m61's half
    std::vector<F> input(n);
    std::uniform_int_distribution<std::int64_t> small(-100, 100);
    for (auto& x : input) x = F::from_int(small(rng));
    input[3] = F::from_i128(bound);
    input[n - 1] = F::from_i128(-bound - 1);  // the width's least value (one past it for the odd bound)
    const std::size_t want = std::min(width, sizeof(F)) * n;
    SCOPED_TRACE("values up to " + std::to_string(static_cast<long double>(bound)) + ", " + std::to_string(want) +
                 " bytes");
    const HostTransfers before = engine->host_transfers();
    Table2D<F> x = engine->input_table(input, n0, batch);
    const HostTransfers up = engine->host_transfers() - before;
    EXPECT_EQ(up.to_device, 1u);
    EXPECT_EQ(up.to_device_bytes, want);
    engine->to_host(x);
    EXPECT_EQ(x.data, ref->input_table(input, n0, batch).data);
  }
}

TEST(ThrustEngine, InputGoesUpAsSmallIntegers) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "built without the Thrust engines";
  check_small_input<M61>();
  check_small_input<M127>();
}

// A stamp names one matrix's contents: copies and changes get new ones, a move keeps it.
TEST(WeightMatrix, StampsNameContents) {
  WeightMatrix a{1, -2, 3};
  const std::uint64_t s = a.stamp();
  EXPECT_NE(s, 0u);
  EXPECT_EQ(a.stamp(), s) << "reading changes nothing";
  static_cast<void>(a.int8_data());
  EXPECT_EQ(a.stamp(), s);
  WeightMatrix b = a;
  EXPECT_NE(b.stamp(), s);
  WeightMatrix c = std::move(a);
  EXPECT_EQ(c.stamp(), s) << "a move keeps the contents and their stamp";
  EXPECT_NE(a.stamp(), s);  // NOLINT(bugprone-use-after-move): the moved-from matrix's stamp is new
  b = c;
  EXPECT_NE(b.stamp(), s);
  const std::uint64_t before_set = c.stamp();
  c.set(0, 1);  // the same value: still a mutation through a member
  EXPECT_NE(c.stamp(), before_set);
  const std::uint64_t before_write = c.stamp();
  static_cast<void>(c.mutable_int8_data());
  EXPECT_NE(c.stamp(), before_write);
}

}  // namespace
}  // namespace nnproof
