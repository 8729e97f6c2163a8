// SPDX-License-Identifier: Apache-2.0
// nnproof prove-training / verify-training: the verdict lines, exit codes (0 converged, 3 not
// converged, 1 rejected: anything wrong with what the server sent, 2 the client's bad files or
// flags) and JSON keys. Runs $NNPROOF_BIN.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "host/npy.hpp"
#include "tests/host/onnx_builder.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/temp_dir.hpp"

namespace nnproof {
namespace {

using testing::CliRun;
using testing::run_cli;

class TrainingCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
    std::vector<testing::BuilderLayer> layers = {{3, 4, {1, -2, 0, 3, 2, 1, -1, 0, 0, 1, 1, -3}, {1, 0, -1}},
                                                 {2, 3, {1, 2, -1, -2, 0, 1}, {0, 5}}};
    testing::write_mlp_onnx(model, layers);
    write_npy_f64(data, {3, 4}, std::vector<double>{1, 2, 3, 4, -1, 0, 2, 1, 0, 0, 0, 1});
    write_npy_i64(labels, {3}, std::vector<std::int64_t>{0, 1, 1});
  }
  std::string args(const std::string& more = "") const {
    return "--model " + model + " --data " + data + " --labels " + labels + " --proof " + proof + " " + more;
  }
  testing::TempDir dir;
  std::string model = dir.file("m.onnx"), data = dir.file("x.npy"), labels = dir.file("y.npy"),
              proof = dir.file("p.nnpt");
};

TEST_F(TrainingCli, ProveThenVerifyGivesTheVerdict) {
  for (const char* field : {"m61", "m127"}) {
    CliRun p = run_cli("prove-training " + args(std::string("--field ") + field));
    ASSERT_EQ(p.code, 0) << p.out;
    CliRun v = run_cli("verify-training " + args());
    EXPECT_EQ(v.code, 3) << v.out;  // this random model is far from a minimum
    EXPECT_NE(v.out.find("VERIFIED"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("NOT CONVERGED: "), std::string::npos) << v.out;
    CliRun j = run_cli("verify-training " + args("--json --gradient-out " + dir.file("g.npz")));
    EXPECT_EQ(j.code, 3);
    const auto obj = nlohmann::json::parse(j.out);
    for (const char* key : {"verified", "converged", "loss", "loss_float", "weights_changed", "weights_total",
                            "gradient_norms", "soundness_bits", "proof_bytes"})
      EXPECT_TRUE(obj.contains(key)) << key;
    EXPECT_EQ(obj["verified"], true);
    EXPECT_EQ(obj["weights_total"], 12 + 3 + 6 + 2);
    EXPECT_EQ(obj["gradient_norms"].size(), 2u);
    EXPECT_GE(obj["soundness_bits"].get<double>(), 100.0);
    EXPECT_TRUE(std::filesystem::exists(dir.file("g.npz")));
  }
}

TEST_F(TrainingCli, ATinyLearningRateMovesNothingSoItConverges) {
  ASSERT_EQ(run_cli("prove-training " + args("--lr 1e-18")).code, 0);
  CliRun v = run_cli("verify-training " + args("--lr 1e-18"));
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("\nCONVERGED: no weight would change at lr 2^-60"), std::string::npos) << v.out;
  // The verdict is at the client's learning rate (default 2^-6), never one the server chose: a
  // proof made at another rate is rejected, not judged at the server's rate.
  CliRun dflt = run_cli("verify-training " + args());
  EXPECT_EQ(dflt.code, 1) << dflt.out;
  EXPECT_EQ(dflt.out.find("CONVERGED"), std::string::npos) << dflt.out;
  CliRun other = run_cli("verify-training " + args("--lr 0.5"));
  EXPECT_EQ(other.code, 1) << other.out;
  EXPECT_EQ(other.out.rfind("REJECTED: learning rate", 0), 0u) << other.out;
  EXPECT_EQ(run_cli("verify-training " + args("--lr 2")).code, 2);  // a bad flag is the client's
}

TEST_F(TrainingCli, TamperedProofIsRejectedWithExitOne) {
  ASSERT_EQ(run_cli("prove-training " + args()).code, 0);
  std::ifstream in(proof, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  in.close();
  for (std::size_t at : {bytes.size() - 1, bytes.size() / 2}) {
    std::vector<char> bad = bytes;
    bad[at] ^= 1;
    std::ofstream(dir.file("bad.nnpt"), std::ios::binary).write(bad.data(), static_cast<std::streamsize>(bad.size()));
    CliRun v = run_cli("verify-training --model " + model + " --data " + data + " --labels " + labels + " --proof " +
                       dir.file("bad.nnpt"));
    EXPECT_EQ(v.code, 1) << "byte " << at << ": " << v.out;
    EXPECT_NE(v.out.find("REJECTED: "), std::string::npos) << v.out;
  }
}

// The tamper sweep for training bundles: every header byte and every 7th byte after it, changed
// one at a time, is rejected (exit 1, REJECTED: the check), never verified and never exit 2.
TEST_F(TrainingCli, EveryChangedByteIsRejected) {
  ASSERT_EQ(run_cli("prove-training " + args()).code, 0);
  std::ifstream in(proof, std::ios::binary);
  const std::string honest((std::istreambuf_iterator<char>(in)), {});
  const std::string bad = dir.file("bad.nnpt");
  const std::size_t header = 136 + 8 * 2;  // the fixed fields, dimensions and N for L = 2
  for (std::size_t i = 0; i < honest.size(); i += i < header ? 1 : 7) {
    std::string bytes = honest;
    bytes[i] = static_cast<char>(bytes[i] + 1);
    std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
    CliRun r =
        run_cli("verify-training --model " + model + " --data " + data + " --labels " + labels + " --proof " + bad);
    ASSERT_EQ(r.code, 1) << "byte " << i << ": " << r.out;
    ASSERT_EQ(r.out.rfind("REJECTED: ", 0), 0u) << "byte " << i << ": " << r.out;
  }
}

TEST_F(TrainingCli, TheClientsBadFilesExitTwo) {
  ASSERT_EQ(run_cli("prove-training " + args()).code, 0);
  write_npy_i64(dir.file("y5.npy"), {3}, std::vector<std::int64_t>{0, 5, 1});
  CliRun out_of_range = run_cli("verify-training --model " + model + " --data " + data + " --labels " +
                                dir.file("y5.npy") + " --proof " + proof);
  EXPECT_EQ(out_of_range.code, 2) << out_of_range.out;
  EXPECT_NE(out_of_range.out.find("outside [0, 2)"), std::string::npos) << out_of_range.out;
  write_npy_i64(dir.file("y2.npy"), {2}, std::vector<std::int64_t>{0, 1});
  EXPECT_EQ(run_cli("prove-training --model " + model + " --data " + data + " --labels " + dir.file("y2.npy") +
                    " --proof " + proof)
                .code,
            2);
  EXPECT_EQ(run_cli("verify-training " + args("--threads 0")).code, 2);
  EXPECT_EQ(run_cli("verify-training " + args("--field m62")).code, 2);
  EXPECT_EQ(run_cli("verify-training --model " + model + " --data " + data + " --labels " + labels + " --proof " +
                    dir.file("none.nnpt"))
                .code,
            2);
}

// The backward pass's bound reads the forward pass's outputs (TrainingProofMagnitude in
// test_training_proof.cpp, through the command): W = [[a, -a], [a, -a]] keeps inputs (v, v) small
// at the outputs and proves in m61; inputs (v, -v) pass the forward bound, but their outputs' errors
// would wrap the backward values, so prove-training refuses them (exit 2, one line) and writes no file.
TEST_F(TrainingCli, TheBackwardBoundOnTheOutputsRefusesWhatWouldWrap) {
  const std::int64_t a = std::int64_t{1} << 20, v = 1024;
  testing::write_mlp_onnx(model, {{2, 2, {a, -a, a, -a}, {1, -1}}});
  write_npy_i64(labels, {4}, std::vector<std::int64_t>{0, 1, 1, 0});
  write_npy_f64(data, {4, 2}, std::vector<double>{v, v, v, v, v, v, v, v});
  CliRun small = run_cli("prove-training " + args("--field m61"));
  ASSERT_EQ(small.code, 0) << small.out;
  const CliRun verified = run_cli("verify-training " + args());
  EXPECT_NE(verified.out.find("VERIFIED"), std::string::npos) << verified.out;
  std::filesystem::remove(proof);
  write_npy_f64(data, {4, 2}, std::vector<double>{v, -v, v, -v, v, -v, v, -v});
  CliRun large = run_cli("prove-training " + args("--field m61"));
  EXPECT_EQ(large.code, 2) << large.out;
  // "layer 1 loss (sum of squared errors) could reach 2^65.00 > 2^60 in m61: ...; use --field m127, ..."
  EXPECT_NE(large.out.find("could reach"), std::string::npos) << large.out;
  EXPECT_NE(large.out.find("--field m127"), std::string::npos) << large.out;
  EXPECT_FALSE(std::filesystem::exists(proof));
}

// A proof about other labels, data, model or scales, or in another field than asked, is a rejection
// (exit 1): the server sent something that is no answer to the client's question. With --json the
// rejection is one object.
TEST_F(TrainingCli, AProofForAnotherModelOrDataIsRejected) {
  ASSERT_EQ(run_cli("prove-training " + args()).code, 0);
  auto expect_rejected = [&](const std::string& cmd, const std::string& needle) {
    CliRun r = run_cli(cmd);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_EQ(r.out.rfind("REJECTED: " + needle, 0), 0u) << r.out;
    CliRun j = run_cli(cmd + " --json");
    EXPECT_EQ(j.code, 1) << j.out;
    const auto obj = nlohmann::json::parse(j.out);
    EXPECT_EQ(obj["verified"], false);
    EXPECT_EQ(obj["converged"], false);
    EXPECT_EQ(obj["rejected"].get<std::string>().rfind(needle, 0), 0u) << j.out;
  };
  write_npy_i64(dir.file("y3.npy"), {3}, std::vector<std::int64_t>{1, 1, 1});
  expect_rejected(
      "verify-training --model " + model + " --data " + data + " --labels " + dir.file("y3.npy") + " --proof " + proof,
      "data binding");
  std::vector<testing::BuilderLayer> other = {{3, 4, {1, -2, 0, 3, 2, 1, -1, 0, 0, 1, 1, -2}, {1, 0, -1}},
                                              {2, 3, {1, 2, -1, -2, 0, 1}, {0, 5}}};
  testing::write_mlp_onnx(dir.file("m2.onnx"), other);
  expect_rejected("verify-training --model " + dir.file("m2.onnx") + " --data " + data + " --labels " + labels +
                      " --proof " + proof,
                  "model binding");
  expect_rejected("verify-training " + args("--field m127"), "field");
  std::ifstream in(proof, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir.file("cut.nnpt"), std::ios::binary) << bytes.substr(0, bytes.size() - 1);
  expect_rejected("verify-training --model " + model + " --data " + data + " --labels " + labels + " --proof " +
                      dir.file("cut.nnpt"),
                  "proof format");
  // Nothing written for a rejected proof; the gradients once verified.
  const std::string g = dir.file("g.npz");
  EXPECT_EQ(run_cli("verify-training " + args("--field m127 --gradient-out " + g)).code, 1);
  EXPECT_FALSE(std::filesystem::exists(g));
  EXPECT_EQ(run_cli("verify-training " + args("--field m61 --threads 1 --gradient-out " + g)).code, 3);
  EXPECT_TRUE(std::filesystem::exists(g));
}

}  // namespace
}  // namespace nnproof
