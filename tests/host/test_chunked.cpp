// SPDX-License-Identifier: Apache-2.0
// Memory for any batch (issue 19, item 4): the prover's estimate and plan, --max-memory and
// --dry-run, chunked bundles (docs/FORMAT.md, "Chunked bundles") that verify with the outputs of one
// big proof, a one-chunk plan that writes exactly the plain bundle, and a REJECTED verdict (exit 1)
// for each way the chunks can fail to cover the input: dropped, duplicated, reordered, truncated,
// extra, for other rows, a wrong count or batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include "host/chunked_prover.hpp"
#include "host/memory.hpp"
#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/quantize.hpp"
#include "kernels/registry.hpp"
#include "tests/host/onnx_builder.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/models.hpp"
#include "tests/support/temp_dir.hpp"
#include "verifier/chunked.hpp"
#include "verifier/image_layout.hpp"

namespace nnproof {
namespace {

using testing::CliRun;
using testing::run_cli;
using Bytes = std::vector<unsigned char>;

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<long>(b.size()));
}

TEST(ByteSize, PlainBytesAndSuffixes) {
  EXPECT_EQ(parse_byte_size("1500000000"), 1500000000u);
  EXPECT_EQ(parse_byte_size("1.5G"), std::size_t{3} << 29);
  EXPECT_EQ(parse_byte_size("512M"), std::size_t{512} << 20);
  EXPECT_EQ(parse_byte_size("64k"), std::size_t{64} << 10);
  EXPECT_EQ(parse_byte_size("2GiB"), std::size_t{2} << 30);
  EXPECT_EQ(parse_byte_size("3MB"), std::size_t{3} << 20);
  EXPECT_EQ(parse_byte_size("1T"), std::size_t{1} << 40);
  EXPECT_EQ(parse_byte_size("100B"), 100u);
  for (const char* bad : {"", "abc", "0", "-1", "5X", "1e30", "G", "1.5GG", "nan"})
    EXPECT_THROW(parse_byte_size(bad), std::invalid_argument) << bad;
}

TEST(ChunkPlan, UnionBoundOverChunks) {
  EXPECT_DOUBLE_EQ(combined_soundness_bits(std::vector<double>{120, 120}), 119);
  EXPECT_DOUBLE_EQ(combined_soundness_bits(std::vector<double>{110}), 110);
  EXPECT_NEAR(combined_soundness_bits(std::vector<double>(1024, 118)), 108, 1e-9);
  // 2^-100 + 2^-101 = 1.5 * 2^-100.
  EXPECT_NEAR(combined_soundness_bits(std::vector<double>{100, 101}), 100 - std::log2(1.5), 1e-12);
}

class Plans : public ::testing::Test {
 protected:
  std::mt19937_64 rng{7};
  QuantizedModel model = testing::random_model({64, 32, 32, 10}, rng);
  static constexpr std::size_t kBatch = 1000;
  std::size_t need(std::size_t c) const {
    return estimate_batch_bytes(model, FieldId::m61, kBatch) + estimate_prove_bytes(model, FieldId::m61, c, 3);
  }
};

TEST_F(Plans, WholeBatchWhenItFits) {
  const ChunkPlan p = plan_chunks(model, FieldId::m61, kBatch, 3, need(kBatch));
  EXPECT_EQ(p.chunks, 1u);
  EXPECT_EQ(p.sizes(), std::vector<std::size_t>{kBatch});
  EXPECT_EQ(p.soundness_bits, (ProofShape{proof_dims(model, 3), kBatch}.soundness_bits(FieldId::m61)));
}

TEST_F(Plans, LargestPowerOfTwoChunksThatFit) {
  // The estimate grows with the padded batch: a limit between the needs of 64 and 128 samples
  // gives chunks of 64.
  const std::size_t limit = (need(64) + need(128)) / 2;
  const ChunkPlan p = plan_chunks(model, FieldId::m61, kBatch, 3, limit);
  EXPECT_EQ(p.chunk_samples, 64u);
  EXPECT_EQ(p.chunks, 16u);  // 15 x 64 + 40
  std::size_t total = 0;
  for (std::size_t n : p.sizes()) total += n;
  EXPECT_EQ(total, kBatch);
  EXPECT_EQ(p.sizes().back(), 40u);
  EXPECT_LE(p.peak_bytes, limit);
  EXPECT_GT(need(128), limit);
  EXPECT_GE(p.soundness_bits, kMinSoundnessBits);
  EXPECT_LT(p.soundness_bits, ProofShape({proof_dims(model, 3), 64}).soundness_bits(FieldId::m61));
}

TEST_F(Plans, RefusedWhenOneSampleDoesNotFit) {
  EXPECT_THROW((void)plan_chunks(model, FieldId::m61, 1, 3, 1 << 20), MemoryLimitError);
  EXPECT_EQ(plan_chunks(model, FieldId::m61, 1, 3, need(1)).chunks, 1u);
  try {
    (void)plan_chunks(model, FieldId::m61, kBatch, 3, need(1) - 1);
    FAIL() << "a plan under the one-sample need was accepted";
  } catch (const MemoryLimitError& e) {
    EXPECT_NE(std::string(e.what()).find("--max-memory"), std::string::npos) << e.what();
  }
}

// A plan of one chunk writes exactly the plain bundle of the whole batch (committed fixtures and
// proof digests unchanged); a plan of several writes the prefix, then each range's plain bundle.
TEST(ChunkedProver, OneChunkIsThePlainBundleAndChunksAreRangeProofs) {
  std::mt19937_64 rng(11);
  const QuantizedModel model = testing::random_cnn(rng, 3);
  const std::size_t batch = 9, n0 = model.in_dim();
  std::vector<std::int64_t> input(batch * n0);
  for (auto& x : input) x = static_cast<std::int64_t>(rng() % 7) - 3;
  const Digest digest = model_digest(model);
  auto engine = make_engine<M61>("cpu");
  auto range_bundle = [&](std::size_t first, std::size_t n) {
    Statement<M61> st;
    st.model = &model;
    st.model_digest = digest;
    st.batch = n;
    for (std::size_t i = 0; i < n * n0; ++i) st.input.push_back(Fp61::from_int(input[first * n0 + i]));
    return serialize_bundle(prove_bundle(*engine, st));
  };
  ChunkPlan one;
  one.batch = one.chunk_samples = batch;
  one.chunks = 1;
  EXPECT_EQ(prove_in_chunks(*engine, model, digest, input, one).bytes, range_bundle(0, batch));
  ChunkPlan three = one;
  three.chunk_samples = 4;
  three.chunks = 3;
  const ChunkedProof<M61> chunked = prove_in_chunks(*engine, model, digest, input, three);
  Bytes want = serialize_chunked_prefix({3, FieldId::m61, 3, batch});
  for (auto [first, n] : {std::pair<std::size_t, std::size_t>{0, 4}, {4, 4}, {8, 1}}) {
    const Bytes b = range_bundle(first, n);
    want.insert(want.end(), b.begin(), b.end());
  }
  EXPECT_EQ(chunked.bytes, want);
  EXPECT_EQ(parse_chunked_prefix(chunked.bytes).chunks, 3u);
}

// ---- the command line: --dry-run, --max-memory, chunked bundles verified and tampered ----

class CliChunks : public ::testing::Test {
 protected:
  static constexpr std::size_t kBatch = 12;
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
    std::vector<testing::BuilderLayer> layers = {{3, 4, {1, -2, 0, 3, 2, 1, -1, 0, 0, 1, 1, -3}, {1, 0, -1}},
                                                 {2, 3, {1, 2, -1, -2, 0, 1}, {0, 5}}};
    testing::write_mlp_onnx(model_path, layers);
    std::mt19937_64 rng(3);
    std::vector<double> x;
    for (std::size_t k = 0; k < kBatch * 4; ++k) x.push_back(static_cast<double>(rng() % 15) - 7);
    write_npy_f64(input, {kBatch, 4}, x);
    model = quantize_model(import_onnx(model_path), {});
  }
  // What the engine prove picks by default (auto, for this work: the cpu engine) holds: the
  // estimate follows the engine.
  ProofMemory engine_memory() const { return make_engine<M61>("auto", 0, dense_work(model, kBatch))->proof_memory(); }
  // A --max-memory that makes chunks of `c` samples (the estimate's own arithmetic).
  std::string limit_for(std::size_t c) const {
    return std::to_string(estimate_batch_bytes(model, FieldId::m61, kBatch) +
                          estimate_prove_bytes(model, FieldId::m61, c, 3, engine_memory()));
  }
  std::string args(const std::string& proof, const std::string& more = "") const {
    return "--model " + model_path + " --input " + input + " --proof " + proof + " " + more;
  }
  // The byte ranges of a chunked file's chunks (their sizes from their own headers).
  static std::vector<Bytes> split(const Bytes& file, const QuantizedModel& m) {
    std::vector<Bytes> out;
    const ChunkedPrefix p = parse_chunked_prefix(file);
    std::size_t at = kChunkedPrefixBytes;
    for (std::size_t j = 0; j < p.chunks; ++j) {
      const BundleHeader h = parse_header(std::span(file).subspan(at), m.depth());
      const std::size_t n = bundle_size(h.field, ProofShape{h.dims, h.batch});
      out.emplace_back(file.begin() + static_cast<long>(at), file.begin() + static_cast<long>(at + n));
      at += n;
    }
    return out;
  }
  static Bytes join(std::size_t count, std::size_t batch, const std::vector<Bytes>& chunks) {
    Bytes out = serialize_chunked_prefix({3, FieldId::m61, 0, 0});
    for (int i = 0; i < 8; ++i) out[16 + i] = static_cast<unsigned char>(count >> (8 * i));
    for (int i = 0; i < 8; ++i) out[24 + i] = static_cast<unsigned char>(batch >> (8 * i));
    for (const Bytes& c : chunks) out.insert(out.end(), c.begin(), c.end());
    return out;
  }
  testing::TempDir dir;
  std::string model_path = dir.file("m.onnx"), input = dir.file("x.npy");
  QuantizedModel model;
};

TEST_F(CliChunks, DryRunPrintsTheEstimateAndProvesNothing) {
  const std::string proof = dir.file("p.nnp");
  CliRun r = run_cli("prove " + args(proof, "--dry-run"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("estimated peak"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(proof));
  r = run_cli("prove --model " + model_path + " --input " + input + " --dry-run --json --max-memory " + limit_for(4));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("chunks"), 3);
  EXPECT_EQ(j.at("chunk_samples"), 4);
  EXPECT_EQ(j.at("samples"), kBatch);
  EXPECT_EQ(j.at("max_memory_source"), "--max-memory");
  EXPECT_EQ(j.at("estimated_peak_bytes").get<std::size_t>(),
            estimate_prove_bytes(model, FieldId::m61, kBatch, 3, engine_memory()));
  EXPECT_GE(j.at("soundness_bits").get<double>(), 100);
}

TEST_F(CliChunks, BadOrTooSmallMaxMemoryIsOneLineExit2) {
  for (const std::string& flag : {std::string("abc"), std::string("0"), std::string("1K")}) {
    CliRun r = run_cli("prove " + args(dir.file("p.nnp"), "--max-memory " + flag));
    EXPECT_EQ(r.code, 2) << flag << ": " << r.out;
    EXPECT_NE(r.out.find("--max-memory"), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_FALSE(std::filesystem::exists(dir.file("p.nnp")));
  }
}

TEST_F(CliChunks, ChunkedBundleVerifiesWithTheOutputsOfOneProof) {
  const std::string one = dir.file("one.nnp"), chunked = dir.file("chunked.nnp");
  ASSERT_EQ(run_cli("prove " + args(one)).code, 0);
  CliRun r = run_cli("prove " + args(chunked, "--max-memory " + limit_for(4)));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("in 3 chunks of up to 4"), std::string::npos) << r.out;
  EXPECT_EQ(split(read_bytes(chunked), model).size(), 3u);
  EXPECT_FALSE(is_chunked_bundle(read_bytes(one)));
  for (const auto& [proof, tag] : {std::pair{one, "one"}, std::pair{chunked, "chunked"}}) {
    r = run_cli("verify " + args(proof, std::string("--output ") + dir.file(std::string(tag) + ".npy") +
                                            " --labels-out " + dir.file(std::string(tag) + "_labels.npy")));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("VERIFIED"), std::string::npos);
  }
  EXPECT_EQ(read_bytes(dir.file("one.npy")), read_bytes(dir.file("chunked.npy")));
  EXPECT_EQ(read_bytes(dir.file("one_labels.npy")), read_bytes(dir.file("chunked_labels.npy")));
  r = run_cli("inspect --json " + chunked);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out), k = nlohmann::json::parse(run_cli("inspect --json " + one).out);
  EXPECT_EQ(j.at("chunks"), 3);
  EXPECT_EQ(j.at("chunk_batches"), (std::vector<std::size_t>{4, 4, 4}));
  EXPECT_EQ(j.at("outputs"), k.at("outputs"));
  EXPECT_EQ(k.at("chunks"), 1);
  EXPECT_NE(run_cli("inspect " + chunked).out.find("chunks:         3 (3 x 4 samples)"), std::string::npos);
}

// A chunk proved for other scales spliced into an honest chunked bundle: verify rejects it (its
// model binding), and inspect --model refuses it, whichever chunk it is (not only the first).
TEST_F(CliChunks, AChunkForOtherScalesIsRefusedByVerifyAndInspect) {
  const std::string chunked = dir.file("chunked.nnp"), other = dir.file("other.nnp");
  ASSERT_EQ(run_cli("prove " + args(chunked, "--max-memory " + limit_for(4))).code, 0);
  ASSERT_EQ(run_cli("prove " + args(other, "--alpha 2 --max-memory " + limit_for(4))).code, 0);
  const std::vector<Bytes> c = split(read_bytes(chunked), model), o = split(read_bytes(other), model);
  ASSERT_EQ(c.size(), 3u);
  ASSERT_EQ(o.size(), 3u);
  ASSERT_NE(c[1], o[1]);
  const std::string forged = dir.file("forged.nnp");
  write_bytes(forged, join(3, kBatch, {c[0], o[1], c[2]}));
  CliRun v = run_cli("verify " + args(forged));
  EXPECT_EQ(v.code, 1) << v.out;
  EXPECT_NE(v.out.find("chunk 2/3"), std::string::npos) << v.out;
  CliRun i = run_cli("inspect --model " + model_path + " " + forged);
  EXPECT_EQ(i.code, 2) << i.out;
  EXPECT_NE(i.out.find("another model or other scales"), std::string::npos) << i.out;
  EXPECT_EQ(run_cli("inspect --model " + model_path + " " + chunked).code, 0);
}

TEST_F(CliChunks, EveryWayTheChunksFailToCoverTheInputIsRejected) {
  const std::string chunked = dir.file("chunked.nnp"), first = dir.file("first.nnp");
  ASSERT_EQ(run_cli("prove " + args(chunked, "--max-memory " + limit_for(4))).code, 0);
  const Bytes file = read_bytes(chunked);
  const std::vector<Bytes> c = split(file, model);
  ASSERT_EQ(c.size(), 3u);
  // A plain proof of the first 4 rows alone: a valid proof, for other rows than chunk 2's or 3's.
  const NpyArray x = read_npy(input);
  write_npy_f64(dir.file("x4.npy"), {4, 4}, std::vector<double>(x.reals.begin(), x.reals.begin() + 16));
  ASSERT_EQ(run_cli("prove --model " + model_path + " --input " + dir.file("x4.npy") + " --proof " + first).code, 0);
  const Bytes rows_0_3 = read_bytes(first);
  ASSERT_EQ(rows_0_3, c[0]);  // the same statement: the same proof, byte for byte
  Bytes truncated(file.begin(), file.end() - 5), mid(file.begin(), file.begin() + 32 + c[0].size() + 100);
  Bytes trailing = file;
  trailing.push_back(0);
  const std::vector<std::pair<std::string, Bytes>> cases = {
      {"dropped middle chunk", join(2, kBatch, {c[0], c[2]})},
      {"dropped last chunk", join(2, kBatch, {c[0], c[1]})},
      {"dropped last chunk, batch adjusted", join(2, 8, {c[0], c[1]})},
      {"duplicated chunk", join(4, kBatch, {c[0], c[0], c[1], c[2]})},
      {"duplicated chunk in place of another", join(3, kBatch, {c[0], c[0], c[2]})},
      {"reordered chunks", join(3, kBatch, {c[1], c[0], c[2]})},
      {"chunk for other rows", join(3, kBatch, {c[0], c[1], rows_0_3})},
      {"truncated", truncated},
      {"truncated inside chunk 2", mid},
      {"trailing byte", trailing},
      {"extra chunk, count unchanged", join(3, kBatch, {c[0], c[1], c[2], c[2]})},
      {"extra chunk, count raised", join(4, kBatch, {c[0], c[1], c[2], c[2]})},
      {"count 1", join(1, kBatch, {c[0], c[1], c[2]})},
      {"count 0", join(0, kBatch, {c[0], c[1], c[2]})},
      {"count 2 for 3 chunks", join(2, kBatch, {c[0], c[1], c[2]})},
      {"count 4 for 3 chunks", join(4, kBatch, {c[0], c[1], c[2]})},
      {"count above the batch", join(13, kBatch, {c[0], c[1], c[2]})},
      {"batch larger than the input", join(3, 16, {c[0], c[1], c[2], c[0]})},
      {"prefix only", join(3, kBatch, {})},
  };
  for (const auto& [name, bytes] : cases) {
    const std::string path = dir.file("forged.nnp");
    write_bytes(path, bytes);
    CliRun r = run_cli("verify " + args(path, "--output " + dir.file("out.npy")));
    EXPECT_EQ(r.code, 1) << name << ": " << r.out;
    EXPECT_EQ(r.out.rfind("REJECTED: ", 0), 0u) << name << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.npy"))) << name;
  }
  // Every changed byte of the prefix (and of each chunk's first header byte) is rejected too.
  for (std::size_t at : {std::size_t{0}, std::size_t{9}, std::size_t{12}, std::size_t{13}, std::size_t{14},
                         std::size_t{16}, std::size_t{24}, std::size_t{31}, 32 + c[0].size(), file.size() - 1}) {
    Bytes b = file;
    b[at] ^= 1;
    write_bytes(dir.file("forged.nnp"), b);
    CliRun r = run_cli("verify " + args(dir.file("forged.nnp")));
    EXPECT_EQ(r.code, 1) << "byte " << at << ": " << r.out;
  }
  ASSERT_EQ(run_cli("verify " + args(chunked)).code, 0);
}

}  // namespace
}  // namespace nnproof
