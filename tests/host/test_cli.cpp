// SPDX-License-Identifier: Apache-2.0
// The nnproof command line: exit codes (0 ok, 1 rejected: anything wrong with what the server sent,
// 2 the client's own bad usage or input), the VERIFIED / REJECTED lines, inspect's JSON keys,
// --version, and one-line errors. Runs the built binary ($NNPROOF_BIN). Flags, atomic output
// files and the field in the metadata: test_cli_files.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "host/npy.hpp"
#include "host/prover.hpp"
#include "host/quantize.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "kernels/registry.hpp"
#include "nnproof/version.hpp"
#include "tests/host/onnx_builder.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/models.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/training_bundle.hpp"
#include "verifier/proof.hpp"

namespace nnproof {
namespace {

using testing::CliRun;
using testing::run_cli;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
    // 4-3-2 network with integer weights; the input is integer-valued floats.
    std::vector<testing::BuilderLayer> layers = {{3, 4, {1, -2, 0, 3, 2, 1, -1, 0, 0, 1, 1, -3}, {1, 0, -1}},
                                                 {2, 3, {1, 2, -1, -2, 0, 1}, {0, 5}}};
    testing::write_mlp_onnx(model, layers);
    std::vector<double> x = {1, 2, 3, 4, -1, 0, 2, 1, 0, 0, 0, 1};
    write_npy_f64(input, {3, 4}, x);
  }
  std::string args(const std::string& more = "") const {
    return "--model " + model + " --input " + input + " --proof " + proof + " " + more;
  }
  testing::TempDir dir;
  std::string model = dir.file("m.onnx"), input = dir.file("x.npy"), proof = dir.file("p.nnp");
};

TEST_F(Cli, ProveThenVerify) {
  for (const char* field : {"m61", "m127"}) {
    CliRun p = run_cli("prove " + args(std::string("--field ") + field + " --output " + dir.file("y.npy")));
    ASSERT_EQ(p.code, 0) << p.out;
    CliRun v = run_cli("verify " + args());
    EXPECT_EQ(v.code, 0) << v.out;
    EXPECT_NE(v.out.find("VERIFIED"), std::string::npos);
    // Sample 0: z1 = (1-4+0+12+1, 2+2-3+0, 0+2+3-12-1) = (10, 1, -8); y1 = (100, 1, 64);
    // z2 = (100+2-64, -200+0+64+5) = (38, -131).
    NpyArray y = read_npy(dir.file("y.npy"));
    ASSERT_EQ(y.shape, (std::vector<std::size_t>{3, 2}));
    EXPECT_EQ(y.reals[0], 38);
    EXPECT_EQ(y.reals[1], -131);
  }
}

TEST_F(Cli, TamperedProofIsRejectedWithExitOne) {
  ASSERT_EQ(run_cli("prove " + args()).code, 0);
  std::fstream f(proof, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-3, std::ios::end);  // inside the last proof element
  char c;
  f.read(&c, 1);
  c ^= 0x01;
  f.seekp(-3, std::ios::end);
  f.write(&c, 1);
  f.close();
  CliRun v = run_cli("verify " + args());
  EXPECT_EQ(v.code, 1) << v.out;
  EXPECT_EQ(v.out.rfind("REJECTED: ", 0), 0u) << v.out;
}

TEST_F(Cli, BadInputsExitTwoWithOneLine) {
  ASSERT_EQ(run_cli("prove " + args()).code, 0);
  auto expect_two = [](const CliRun& r, const std::string& needle) {
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
    EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  };
  expect_two(run_cli("verify --model " + model + " --input " + dir.file("missing.npy") + " --proof " + proof),
             "missing.npy");
  expect_two(run_cli("verify --model " + model + " --input " + input + " --proof " + dir.file("none.nnp")), "none.nnp");
  write_npy_f64(dir.file("wide.npy"), {3, 5}, std::vector<double>(15, 1.0));
  expect_two(run_cli("prove --model " + model + " --input " + dir.file("wide.npy") + " --proof " + proof), "wide.npy");
  expect_two(run_cli("prove " + args("--field m61-interactive")), "interactive");
  expect_two(run_cli("prove " + args("--engine warp")), "engine");
  // Without CUDA or a device, --engine cuda is a usage error; with one it proves (test_kernels' cuda cases).
  if (!engine_unavailable_reason(EngineId::cuda).empty()) expect_two(run_cli("prove " + args("--engine cuda")), "cuda");
  expect_two(run_cli("prove " + args("--field m62")), "m62");
  expect_two(run_cli("inspect " + dir.file("none.nnp")), "none.nnp");
  expect_two(run_cli("prove --model " + model), "--input is required");  // missing required options
  expect_two(run_cli("verify " + args("--bogus")), "bogus");
  // The client's own files, even with a good proof at hand.
  write_npy_f64(dir.file("wide.npy"), {3, 5}, std::vector<double>(15, 1.0));
  expect_two(run_cli("verify --model " + model + " --input " + dir.file("wide.npy") + " --proof " + proof), "wide.npy");
  std::ofstream(dir.file("junk.onnx")) << "not a model";
  expect_two(run_cli("verify --model " + dir.file("junk.onnx") + " --input " + input + " --proof " + proof),
             "junk.onnx");
  std::filesystem::create_directory(dir.file("folder"));
  expect_two(run_cli("verify --model " + model + " --input " + input + " --proof " + dir.file("folder")),
             "not a regular file");
}

// Everything wrong with what the server sent is a rejection (exit 1, one REJECTED line on stdout),
// never exit 2: a bundle for another model, input or scales, a bad header, truncation, trailing
// bytes, non-canonical elements, an empty file.
TEST_F(Cli, WhatTheServerSentIsARejection) {
  ASSERT_EQ(run_cli("prove " + args()).code, 0);
  std::ifstream in(proof, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto expect_rejected = [&](const std::string& file, const std::string& more, const std::string& needle) {
    std::ofstream(dir.file("sent.nnp"), std::ios::binary | std::ios::trunc) << file;
    CliRun r =
        run_cli("verify --model " + model + " --input " + input + " --proof " + dir.file("sent.nnp") + " " + more);
    EXPECT_EQ(r.code, 1) << needle << ": " << r.out;
    EXPECT_EQ(r.out.rfind("REJECTED: ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  };
  expect_rejected(bytes.substr(0, bytes.size() - 1), "", "truncated");
  expect_rejected(bytes + "x", "", "trailing");
  expect_rejected("", "", "proof format");
  expect_rejected("NNPROOX" + bytes.substr(7), "", "magic");
  expect_rejected(bytes, "--alpha 2", "another model or other scales");
  std::string wide = bytes;
  wide[116] = 5;  // n_0 = 5: dimensions that are not the model's
  expect_rejected(wide, "", "proof format");
  std::string big = bytes;  // the last element's top byte: past p
  big[big.size() - 1] = static_cast<char>(0xff);
  expect_rejected(big, "", "proof format");
  // A proof for other inputs.
  write_npy_f64(dir.file("x2.npy"), {3, 4}, std::vector<double>(12, 1.0));
  std::ofstream(dir.file("sent.nnp"), std::ios::binary | std::ios::trunc) << bytes;
  CliRun other =
      run_cli("verify --model " + model + " --input " + dir.file("x2.npy") + " --proof " + dir.file("sent.nnp"));
  EXPECT_EQ(other.code, 1) << other.out;
  EXPECT_EQ(other.out.rfind("REJECTED: input binding", 0), 0u) << other.out;
}

// The tamper sweep: every byte of an honest bundle (header, outputs, proof), changed one at a time,
// is rejected: exit 1 with the failing check named (REJECTED: ...), never 0 or 2. One test per
// field, so that ctest runs the two sweeps (the slowest cases under ASan) side by side.
class CliTamper : public Cli {
 protected:
  void expect_every_changed_byte_rejected(const char* field) {
    ASSERT_EQ(run_cli("prove " + args(std::string("--field ") + field)).code, 0);
    std::ifstream in(proof, std::ios::binary);
    const std::string honest((std::istreambuf_iterator<char>(in)), {});
    const std::string bad = dir.file("bad.nnp");
    const std::string verify = "verify --model " + model + " --input " + input + " --proof " + bad;
    int format = 0, protocol = 0;
    for (std::size_t i = 0; i < honest.size(); ++i) {
      std::string bytes = honest;
      bytes[i] = static_cast<char>(bytes[i] + 1);
      std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
      CliRun r = run_cli(verify);
      ASSERT_EQ(r.code, 1) << field << " byte " << i << ": " << r.out;
      ASSERT_EQ(r.out.rfind("REJECTED: ", 0), 0u) << field << " byte " << i << ": " << r.out;
      (r.out.rfind("REJECTED: proof format", 0) == 0 ? format : protocol) += 1;
    }
    EXPECT_GT(protocol, 0);  // outputs and messages reach the protocol's checks
    EXPECT_GT(format, 0);    // header fields are refused by the parser
  }
};

TEST_F(CliTamper, EveryChangedByteOfAnM61ProofIsRejected) { expect_every_changed_byte_rejected("m61"); }
TEST_F(CliTamper, EveryChangedByteOfAnM127ProofIsRejected) { expect_every_changed_byte_rejected("m127"); }

// A proof file claiming to be huge is refused from its real length: reading stops at the size the
// model and input imply (plus one byte), whatever the file holds.
TEST_F(Cli, HugeProofFileIsRefusedWithoutReadingIt) {
  ASSERT_EQ(run_cli("prove " + args()).code, 0);
  std::filesystem::resize_file(proof, std::uintmax_t{8} << 30);  // 8 GiB, sparse
  CliRun r = run_cli("verify " + args());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out.rfind("REJECTED: proof format: trailing bytes", 0), 0u) << r.out;
  r = run_cli("inspect " + proof);
  EXPECT_EQ(r.code, 2) << r.out;
}

TEST_F(Cli, NonArithmeticOperatorsAreRefusedWithTheNodeNamed) {
  std::vector<testing::BuilderLayer> layers = {{2, 2, {1, 0, 0, 1}, {}}, {1, 2, {1, 1}, {}}};
  write_npy_f64(dir.file("x2.npy"), {1, 2}, std::vector<double>{1, 2});
  for (const char* op : {"Relu", "Sigmoid", "MaxPool", "Exp"}) {
    testing::write_mlp_with_op(dir.file("bad.onnx"), layers, op);
    CliRun r =
        run_cli("prove --model " + dir.file("bad.onnx") + " --input " + dir.file("x2.npy") + " --proof " + proof);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(op), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
}

// A dishonest prover skips the magnitude check and proves a computation that wraps in m61: the
// proof is valid in the field, and `verify` must still refuse it (exit 1, the check named).
TEST_F(Cli, ProofInAFieldThatWrapsIsRejected) {
  testing::write_mlp_onnx(dir.file("id.onnx"), {{1, 1, {1}, {}}, {1, 1, {1}, {}}});
  write_npy_i64(dir.file("big.npy"), {1, 1}, std::vector<std::int64_t>{std::int64_t{1} << 31});
  QuantizedModel m = quantize_model(import_onnx(dir.file("id.onnx")), {});
  auto st = testing::make_statement<M61>(m, 1, {Fp61::from_int(std::int64_t{1} << 31)});
  auto bundle = prove_bundle(*make_reference_engine<M61>(), st);  // no magnitude check here
  auto bytes = serialize_bundle(bundle);
  std::ofstream(proof, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  CliRun r = run_cli("verify --model " + dir.file("id.onnx") + " --input " + dir.file("big.npy") + " --proof " + proof);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out.rfind("REJECTED: magnitude", 0), 0u) << r.out;
}

TEST_F(Cli, MagnitudeCheckRefusesWithExitTwo) {
  write_npy_f64(dir.file("huge.npy"), {1, 4}, std::vector<double>(4, 1e15));
  CliRun r = run_cli("prove --model " + model + " --input " + dir.file("huge.npy") + " --proof " + proof);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("m127"), std::string::npos) << r.out;
}

TEST_F(Cli, InspectJsonHasTheDocumentedKeys) {
  ASSERT_EQ(run_cli("prove " + args()).code, 0);
  CliRun r = run_cli("inspect --json " + proof);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["nnproof_version"], NNPROOF_VERSION);
  EXPECT_EQ(j["kind"], "inference");
  EXPECT_EQ(j["field"], "m61");
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["dims"], (std::vector<int>{4, 3, 2}));
  EXPECT_GE(j["soundness_bits"].get<double>(), 100.0);
  EXPECT_GT(j["proof_bytes"].get<int>(), 0);
  ASSERT_EQ(j["outputs"].size(), 3u);
  EXPECT_EQ(j["outputs"][0][0], "38");
  EXPECT_EQ(j["outputs"][0][1], "-131");
  CliRun text = run_cli("inspect " + proof);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("soundness bits"), std::string::npos);
}

// A training bundle (.nnpt) written by the serializer with random content: inspect tells it from
// an inference bundle by its magic, prints its header and sizes, and refuses it cut or extended.
template <class Cfg>
void inspect_training_bundle(const testing::TempDir& dir, std::uint64_t salt) {
  using F = typename Cfg::F;
  std::mt19937_64 rng(salt);
  auto b = testing::random_training_bundle<Cfg>({4, 3, 2}, 3, rng);
  b.header.lr_exponent = 7;
  b.claims.loss = F::from_int(-12345);
  b.claims.outputs[0] = F::from_int(38);
  const auto bytes = serialize_training_bundle(b);
  const std::string path = dir.file("t.nnpt");
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  CliRun r = run_cli("inspect --json " + path);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  // The inference JSON's keys, and the training bundle's own.
  for (const char* key :
       {"nnproof_version", "field", "batch", "dims", "soundness_bits", "proof_bytes", "outputs", "kind", "version",
        "mode", "samples", "lr_exponent", "claim_bytes", "message_count", "file_bytes", "loss"})
    EXPECT_TRUE(j.contains(key)) << key;
  const TrainingShape shape{{4, 3, 2}, 3};
  EXPECT_EQ(j["nnproof_version"], NNPROOF_VERSION);
  EXPECT_EQ(j["kind"], "training");
  EXPECT_EQ(j["version"], kTrainingProofVersion);
  EXPECT_EQ(j["field"], std::string(field_name(Cfg::kId)));
  EXPECT_EQ(j["mode"], 0);
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["samples"], 3);
  EXPECT_EQ(j["dims"], (std::vector<int>{4, 3, 2}));
  EXPECT_EQ(j["lr_exponent"], 7);
  EXPECT_EQ(j["claim_bytes"], shape.claim_elements() * F::kBytes);
  EXPECT_EQ(j["message_count"], shape.message_count());
  EXPECT_EQ(j["proof_bytes"], shape.message_count() * Cfg::K::kBytes);
  EXPECT_EQ(j["file_bytes"], bytes.size());
  EXPECT_EQ(j["soundness_bits"].get<double>(), shape.soundness_bits(Cfg::kId));
  EXPECT_EQ(j["loss"], "-12345");
  ASSERT_EQ(j["outputs"].size(), 3u);
  EXPECT_EQ(j["outputs"][0].size(), 2u);
  EXPECT_EQ(j["outputs"][0][0], "38");
  CliRun text = run_cli("inspect " + path);
  EXPECT_EQ(text.code, 0) << text.out;
  for (const char* needle : {"training proof", "learning rate 2^-7", "4-3-2", "soundness bits", "-12345"})
    EXPECT_NE(text.out.find(needle), std::string::npos) << needle << ": " << text.out;
  // Cut by one byte, one byte more, a header that implies another length: one line, exit 2.
  auto expect_two = [&](const std::vector<unsigned char>& file, const std::string& needle) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
    CliRun bad = run_cli("inspect " + path);
    EXPECT_EQ(bad.code, 2) << bad.out;
    EXPECT_NE(bad.out.find(needle), std::string::npos) << bad.out;
    EXPECT_EQ(std::count(bad.out.begin(), bad.out.end(), '\n'), 1) << bad.out;
  };
  expect_two(std::vector<unsigned char>(bytes.begin(), bytes.end() - 1), "truncated");
  auto longer = bytes;
  longer.push_back(0);
  expect_two(longer, "trailing bytes");
  auto wider = bytes;
  wider[120] = 5;  // n_0 = 5: the header implies a longer file
  expect_two(wider, "truncated");
  expect_two(std::vector<unsigned char>(bytes.begin(), bytes.begin() + 100), "truncated");
}

TEST_F(Cli, InspectReadsTrainingBundles) {
  inspect_training_bundle<M61>(dir, 18);
  inspect_training_bundle<M127>(dir, 19);
}

// A structured training bundle's section is the file's own word when inspect has no model: a few
// bytes a trained op. A file that declares 65,536 ops and then stops is refused as truncated from
// the sizes of its header, section and claims, before the description is walked to count messages.
TEST_F(Cli, InspectRefusesATrainingBundleWhoseStructureOutrunsTheFile) {
  std::mt19937_64 rng(20);
  const std::vector<LayerStructure> small{std::vector<TrainedOp>{{0, 1}}, std::nullopt};
  const auto honest = serialize_training_bundle(testing::random_training_bundle<M61>({4, 3, 2}, 3, rng, small));
  std::vector<unsigned char> bytes(honest.begin(), honest.begin() + training_bundle_header_size(2));
  auto put = [&](std::uint64_t v, int width) {
    for (int k = 0; k < width; ++k) bytes.push_back(static_cast<unsigned char>(v >> (8 * k)));
  };
  put(kMaxTrainedOps, 4);
  put(kDenseLayer, 4);
  for (std::uint64_t op = 0; op < kMaxTrainedOps; ++op) {
    put(op, 4);
    put(1, 8);
  }
  const std::string path = dir.file("ops.nnpt");
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  CliRun r = run_cli("inspect " + path);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("truncated training proof"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("implies at least"), std::string::npos) << r.out;
}

TEST_F(Cli, VersionNamesTheReleaseAndTheProofFormats) {
  CliRun r = run_cli("--version");
  EXPECT_EQ(r.code, 0) << r.out;
  static_assert(kOldestProofVersion == 2 && kProofVersion == 3, "update the expected line");
  EXPECT_EQ(r.out, "nnproof " NNPROOF_VERSION " (proof format: writes v3, reads v2, v3)\n");
  EXPECT_TRUE(std::regex_match(NNPROOF_VERSION, std::regex(R"(\d+\.\d+\.\d+)")))
      << "semantic versioning: " NNPROOF_VERSION;
}

TEST_F(Cli, InteractiveModeVerifies) {
  for (const char* field : {"m61-interactive", "m61", "m127"}) {
    CliRun r = run_cli("interactive --model " + model + " --input " + input + " --field " + field);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("VERIFIED"), std::string::npos) << r.out;
  }
  CliRun r = run_cli("interactive --in-process --model " + model + " --input " + input);
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(Cli, BenchPrintsTheDocumentedJson) {
  CliRun r = run_cli("bench --arch 5,7,3 --batch 4,9 --engine cpu --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["nnproof_version"], NNPROOF_VERSION);
  EXPECT_EQ(j["engine"], "cpu");
  ASSERT_EQ(j["results"].size(), 2u);
  for (const char* key :
       {"batch", "forward_s", "prove_s", "verify_s", "proof_bytes", "soundness_bits", "float_forward_s", "host_syncs",
        "table_allocations", "host_transfers", "host_to_device_transfers", "host_to_device_bytes",
        "device_to_host_transfers", "device_to_host_bytes", "proof_sha256"})
    EXPECT_TRUE(j["results"][0].contains(key)) << key;
  EXPECT_EQ(j["results"][0]["host_syncs"], 0);  // the cpu engine has no device to wait for
  EXPECT_EQ(j["results"][0]["host_transfers"], 0);
  // The same seed proves the same bytes on every engine; the Thrust twin reports its waits.
  CliRun t = run_cli("bench --arch 5,7,3 --batch 4,9 --engine thrust-omp --json");
  if (t.code == 0) {
    auto jt = nlohmann::json::parse(t.out);
    EXPECT_EQ(jt["results"][1]["proof_sha256"], j["results"][1]["proof_sha256"]);
    EXPECT_GT(jt["results"][1]["host_syncs"], 0);
    const auto& rt = jt["results"][1];  // the input goes up, the outputs and the rounds come down
    EXPECT_EQ(rt["host_transfers"],
              rt["host_to_device_transfers"].get<std::size_t>() + rt["device_to_host_transfers"].get<std::size_t>());
    EXPECT_GT(rt["host_to_device_bytes"], 0);
    EXPECT_GT(rt["device_to_host_bytes"], 0);
  }
  EXPECT_EQ(run_cli("bench --arch 5,x --batch 4").code, 2);
}

// --input-bits sets the synthetic input's width (default 8): the JSON says which, another width
// proves another statement, and widths outside 2..128 are the caller's mistake.
TEST_F(Cli, BenchInputBitsChangesTheSyntheticInput) {
  auto bench = [](const std::string& extra) {
    CliRun r = run_cli("bench --arch 5,7,3 --batch 9 --engine cpu --json" + extra);
    EXPECT_EQ(r.code, 0) << r.out;
    return nlohmann::json::parse(r.out);
  };
  const auto by_default = bench("");
  const auto narrow = bench(" --input-bits 3");
  const auto full = bench(" --input-bits 61");
  EXPECT_EQ(by_default["input_bits"], 8);
  EXPECT_EQ(narrow["input_bits"], 3);
  EXPECT_EQ(bench(" --input-bits 8")["results"][0]["proof_sha256"], by_default["results"][0]["proof_sha256"]);
  EXPECT_NE(narrow["results"][0]["proof_sha256"], by_default["results"][0]["proof_sha256"]);
  EXPECT_NE(full["results"][0]["proof_sha256"], by_default["results"][0]["proof_sha256"]);
  for (const char* bad : {" --input-bits 1", " --input-bits 129", " --input-bits x"})
    EXPECT_EQ(run_cli(std::string("bench --arch 5,7,3 --batch 4") + bad).code, 2) << bad;
}

// --verify-repeat times more verifications than --repeat's runs (the client's loop only): the same
// proof, an accepted verify each time (bench exits 1 on a rejection), and a negative count refused.
TEST_F(Cli, BenchVerifyRepeatRunsTheClientsLoopOnly) {
  CliRun once = run_cli("bench --arch 5,7,3 --batch 9 --engine cpu --json");
  CliRun many = run_cli("bench --arch 5,7,3 --batch 9 --engine cpu --json --verify-repeat 25");
  ASSERT_EQ(once.code, 0) << once.out;
  ASSERT_EQ(many.code, 0) << many.out;
  EXPECT_EQ(nlohmann::json::parse(many.out)["results"][0]["proof_sha256"],
            nlohmann::json::parse(once.out)["results"][0]["proof_sha256"]);
  EXPECT_EQ(run_cli("bench --arch 5,7,3 --batch 4 --verify-repeat -1").code, 2);
}

// bench --model: a convolutional model file, timed with the same keys plus which float32
// implementation float_forward_s ran and the input bound the random inputs were drawn under; the
// same seed proves the same bytes on the cpu and thrust-omp engines (the cpu engine's int8
// convolution and gather row_combine against the reference-shaped Thrust code).
TEST_F(Cli, BenchTimesAModelFile) {
  using Stage = testing::BuilderStage;
  const auto stage = [](Stage::Kind kind) {
    Stage s;
    s.kind = kind;
    return s;
  };
  Stage conv = stage(Stage::Kind::conv);
  conv.out_channels = 9, conv.kernel_h = conv.kernel_w = 3, conv.pads = {1, 1, 1, 1};
  for (std::size_t i = 0; i < 9 * 8 * 9; ++i) conv.weights.push_back(static_cast<double>(static_cast<int>(i % 7) - 3));
  conv.bias.assign(9, 1.0);
  Stage pool = stage(Stage::Kind::average_pool);
  pool.kernel_h = pool.kernel_w = pool.stride_h = pool.stride_w = 2;
  Stage dense = stage(Stage::Kind::dense);
  dense.rows = 3, dense.cols = 9 * 2 * 2;
  for (std::size_t i = 0; i < 3 * 36; ++i) dense.weights.push_back(static_cast<double>(static_cast<int>(i % 5) - 2));
  dense.bias = {0, 1, -1};
  const std::string cnn = dir.file("cnn.onnx");
  testing::write_cnn_onnx(cnn, {8, 4, 4}, {conv, stage(Stage::Kind::square), pool, stage(Stage::Kind::flatten), dense});
  CliRun r = run_cli("bench --model " + cnn + " --batch 3,40 --field m127 --engine cpu --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], cnn);
  EXPECT_EQ(j["field"], "m127");
  EXPECT_EQ(j["float_forward_impl"], "oneDNN f32 primitives");
  EXPECT_GT(j["input_max_abs"], 1000u);  // 72 taps of |w| <= 3, then squares: far below 2^126
  ASSERT_EQ(j["results"].size(), 2u);
  for (const char* key : {"batch", "forward_s", "prove_s", "verify_s", "proof_bytes", "soundness_bits",
                          "float_forward_s", "host_syncs", "proof_sha256"})
    EXPECT_TRUE(j["results"][1].contains(key)) << key;
  EXPECT_GT(j["results"][1]["float_forward_s"], 0.0);
  CliRun t = run_cli("bench --model " + cnn + " --batch 3,40 --field m127 --engine thrust-omp --json");
  if (t.code == 0) {
    EXPECT_EQ(nlohmann::json::parse(t.out)["results"][1]["proof_sha256"], j["results"][1]["proof_sha256"]);
  }
  // Bad usage: --model with --arch or --training, a missing file.
  EXPECT_EQ(run_cli("bench --model " + cnn + " --arch 4,3").code, 2);
  EXPECT_EQ(run_cli("bench --model " + cnn + " --training").code, 2);
  EXPECT_EQ(run_cli("bench --model " + dir.file("missing.onnx")).code, 2);
}

}  // namespace
}  // namespace nnproof
