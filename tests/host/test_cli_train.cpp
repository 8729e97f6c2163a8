// SPDX-License-Identifier: Apache-2.0
// `nnproof train` from the command line ($NNPROOF_BIN): a trained model that prove and verify
// accept, one JSON object per epoch, the same bytes from every engine, and one-line errors with
// exit code 2 for bad labels and a field that could wrap; a convolutional model trains the same on
// every engine and reads back, and its training proof verifies.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/npy.hpp"
#include "kernels/registry.hpp"
#include "tests/host/onnx_builder.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/temp_dir.hpp"

namespace nnproof {
namespace {

using testing::CliRun;
using testing::run_cli;

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

class CliTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
    // 4-3-2 in sixteenths at alpha = beta = 16 (metadata), a final Softmax.
    std::vector<testing::BuilderLayer> layers = {
        {3, 4, {0.25, -0.5, 0, 0.75, 0.5, 0.25, -0.25, 0, 0, 0.25, 0.25, -0.75}, {0.0625, 0, -0.0625}},
        {2, 3, {0.25, 0.5, -0.25, -0.5, 0, 0.25}, {0, 0.3125}}};
    testing::BuildOptions opt;
    opt.alpha = opt.beta = 16;
    opt.softmax = true;
    testing::write_mlp_onnx(model, layers, opt);
    std::vector<double> x;
    for (int k = 0; k < 12 * 4; ++k) x.push_back(((k * 7) % 33 - 16) / 16.0);
    write_npy_f64(data, {12, 4}, x);
    std::vector<std::int64_t> y;
    for (int k = 0; k < 12; ++k) y.push_back(k % 2);
    write_npy_i64(labels, {12}, y);
  }
  std::string args(const std::string& out, const std::string& more = "") const {
    return "train --model " + model + " --data " + data + " --labels " + labels + " --out " + out + " " + more;
  }
  testing::TempDir dir;
  std::string model = dir.file("m.onnx"), data = dir.file("x.npy"), labels = dir.file("y.npy");
};

TEST_F(CliTrain, TrainedModelProvesAndVerifies) {
  const std::string out = dir.file("t.onnx");
  CliRun t = run_cli(args(out, "--field m127 --epochs 3 --json --engine cpu"));
  ASSERT_EQ(t.code, 0) << t.out;
  std::istringstream in(t.out);
  std::string line;
  std::size_t epochs = 0, changed = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["epoch"], ++epochs);
    for (const char* key : {"loss", "loss_float", "accuracy", "weights_changed", "seconds"})
      EXPECT_TRUE(j.contains(key)) << key << " in " << line;
    EXPECT_TRUE(j["loss"].is_string());  // exact, past 2^53
    changed += j["weights_changed"].get<std::size_t>();
  }
  EXPECT_GT(changed, 0u);  // the default learning rate trains this model
  EXPECT_GE(epochs, 1u);
  EXPECT_LE(epochs, 3u);
  const std::string proof = dir.file("p.nnp");
  CliRun p = run_cli("prove --model " + out + " --input " + data + " --proof " + proof + " --field m127");
  ASSERT_EQ(p.code, 0) << p.out;
  CliRun v = run_cli("verify --model " + out + " --input " + data + " --proof " + proof);
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("VERIFIED"), std::string::npos);
  // Without --json: a line per epoch and a summary.
  CliRun text = run_cli(args(dir.file("t2.onnx"), "--field m127 --epochs 2 --engine cpu"));
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("epoch 1/2: loss "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("trained 12 samples"), std::string::npos) << text.out;
}

TEST_F(CliTrain, EveryEngineWritesTheSameBytes) {
  std::string first;
  for (std::string_view name : runnable_engines()) {
    const std::string out = dir.file("t-" + std::string(name) + ".onnx");
    CliRun t = run_cli(args(out, "--field m127 --epochs 4 --batch 5 --seed 3 --engine " + std::string(name)));
    ASSERT_EQ(t.code, 0) << name << ": " << t.out;
    const std::string bytes = read_bytes(out);
    ASSERT_FALSE(bytes.empty());
    if (first.empty())
      first = bytes;
    else
      EXPECT_EQ(bytes, first) << name << " wrote other bytes";
  }
  EXPECT_NE(first, read_bytes(model));
}

TEST_F(CliTrain, BadLabelsExitTwoWithOneLine) {
  const std::string out = dir.file("t.onnx"), bad = dir.file("bad.npy");
  write_npy_f64(bad, {12}, std::vector<double>(12, 1.0));  // floats
  CliRun floats = run_cli("train --model " + model + " --data " + data + " --labels " + bad + " --out " + out);
  EXPECT_EQ(floats.code, 2) << floats.out;
  EXPECT_NE(floats.out.find(bad + ": labels must be an integer array"), std::string::npos) << floats.out;
  EXPECT_EQ(lines(floats.out), 1u) << floats.out;
  write_npy_i64(bad, {12}, std::vector<std::int64_t>(12, 2));  // 2 classes
  CliRun range = run_cli("train --model " + model + " --data " + data + " --labels " + bad + " --out " + out);
  EXPECT_EQ(range.code, 2) << range.out;
  EXPECT_NE(range.out.find("outside [0, 2)"), std::string::npos) << range.out;
  EXPECT_EQ(lines(range.out), 1u) << range.out;
  write_npy_i64(bad, {11}, std::vector<std::int64_t>(11, 0));
  CliRun count = run_cli("train --model " + model + " --data " + data + " --labels " + bad + " --out " + out);
  EXPECT_EQ(count.code, 2) << count.out;
  EXPECT_NE(count.out.find("11 labels for 12 samples"), std::string::npos) << count.out;
  EXPECT_FALSE(std::ifstream(out).good());  // nothing written
}

TEST_F(CliTrain, AFieldThatCouldWrapExitsTwo) {
  // alpha = beta = 1024: s_Z(2) = 2^50, so the loss alone could pass 2^100.
  CliRun t = run_cli(args(dir.file("t.onnx"), "--field m61 --alpha 1024 --beta 1024"));
  EXPECT_EQ(t.code, 2) << t.out;
  EXPECT_NE(t.out.find("layer 2 loss"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("--field m127"), std::string::npos) << t.out;
  EXPECT_EQ(lines(t.out), 1u) << t.out;
}

TEST_F(CliTrain, LearningRateIsRoundedToAPowerOfTwo) {
  CliRun t = run_cli(args(dir.file("t.onnx"), "--field m127 --epochs 1 --lr 0.1 --engine reference"));
  EXPECT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("learning rate 0.1 rounded to 2^-3 = 0.125"), std::string::npos) << t.out;
  CliRun bad = run_cli(args(dir.file("t.onnx"), "--lr 2"));
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--lr must be in (0, 1]"), std::string::npos) << bad.out;
}

TEST_F(CliTrain, NonPowerOfTwoScalesAreRefused) {
  CliRun t = run_cli(args(dir.file("t.onnx"), "--field m127 --alpha 3 --beta 16"));
  EXPECT_EQ(t.code, 2) << t.out;
  EXPECT_NE(t.out.find("nnproof quantize"), std::string::npos) << t.out;
}

// A tiny CNN: a 1 x 6 x 6 image, Conv 2 x 3 x 3 (pad 1, stride 1) then the square; then a 2 x 2
// average pool, Flatten and a dense map to 2 classes, one layer. In quarters at alpha = beta = 4.
class CliTrainCnn : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
    using S = testing::BuilderStage;
    S conv;
    conv.kind = S::Kind::conv;
    conv.out_channels = 2;
    conv.kernel_h = conv.kernel_w = 3;
    conv.pads = {1, 1, 1, 1};
    for (int t = 0; t < 18; ++t) conv.weights.push_back(((t * 5) % 7 - 3) / 4.0);
    conv.bias = {0.25, -0.25};
    S square;
    S pool;
    pool.kind = S::Kind::average_pool;
    pool.kernel_h = pool.kernel_w = 2;
    pool.stride_h = pool.stride_w = 2;
    S flatten;
    flatten.kind = S::Kind::flatten;
    S dense;
    dense.kind = S::Kind::dense;
    dense.rows = 2;
    dense.cols = 18;
    for (int t = 0; t < 36; ++t) dense.weights.push_back(((t * 3) % 5 - 2) / 4.0);
    dense.bias = {0, 0.25};
    testing::BuildOptions opt;
    opt.alpha = opt.beta = 4;
    testing::write_cnn_onnx(model, {1, 6, 6}, {conv, square, pool, flatten, dense}, opt);
    std::vector<double> x;
    for (int k = 0; k < 10 * 36; ++k) x.push_back(((k * 7) % 9 - 4) / 4.0);
    write_npy_f64(data, {10, 1, 6, 6}, x);
    std::vector<std::int64_t> y;
    for (int k = 0; k < 10; ++k) y.push_back(k % 3 == 0 ? 1 : 0);
    write_npy_i64(labels, {10}, y);
  }
  std::string args(const std::string& out, const std::string& more = "") const {
    return "train --model " + model + " --data " + data + " --labels " + labels + " --out " + out + " " + more;
  }
  testing::TempDir dir;
  std::string model = dir.file("cnn.onnx"), data = dir.file("x.npy"), labels = dir.file("y.npy");
};

TEST_F(CliTrainCnn, EveryEngineWritesTheSameBytesAndTheModelProves) {
  std::string first;
  std::size_t changed = 0;
  for (std::string_view name : runnable_engines()) {
    const std::string out = dir.file("t-" + std::string(name) + ".onnx");
    CliRun t = run_cli(
        args(out, "--field m127 --epochs 3 --batch 4 --seed 5 --lr 0.0001 --json --engine " + std::string(name)));
    ASSERT_EQ(t.code, 0) << name << ": " << t.out;
    std::istringstream in(t.out);
    for (std::string line; std::getline(in, line);)
      if (line.front() == '{') changed += nlohmann::json::parse(line)["weights_changed"].get<std::size_t>();
    const std::string bytes = read_bytes(out);
    ASSERT_FALSE(bytes.empty());
    if (first.empty())
      first = bytes;
    else
      EXPECT_EQ(bytes, first) << name << " wrote other bytes";
  }
  EXPECT_GT(changed, 0u);
  EXPECT_NE(first, read_bytes(model));
  // The trained model reads back: prove and verify accept it.
  const std::string out = dir.file("t-reference.onnx"), proof = dir.file("p.nnp");
  CliRun p = run_cli("prove --model " + out + " --input " + data + " --proof " + proof + " --field m127");
  ASSERT_EQ(p.code, 0) << p.out;
  CliRun v = run_cli("verify --model " + out + " --input " + data + " --proof " + proof);
  EXPECT_EQ(v.code, 0) << v.out;
  // The training proof of the trained CNN (docs/TRAINING_PROTOCOL.md, "Structured layers"): the
  // client's verify-training says VERIFIED and gives the convergence verdict; inspect reads the
  // file; a changed byte of the claims is REJECTED.
  const std::string tp = dir.file("p.nnpt");
  const std::string files = " --model " + out + " --data " + data + " --labels " + labels + " --proof " + tp;
  CliRun pt = run_cli("prove-training" + files + " --field m127");
  ASSERT_EQ(pt.code, 0) << pt.out;
  CliRun vt = run_cli("verify-training" + files);
  EXPECT_TRUE(vt.code == 0 || vt.code == 3) << vt.out;
  EXPECT_NE(vt.out.find("VERIFIED"), std::string::npos) << vt.out;
  EXPECT_NE(vt.out.find(vt.code == 0 ? "CONVERGED" : "NOT CONVERGED: "), std::string::npos) << vt.out;
  CliRun vj = run_cli("verify-training" + files + " --json --max-changed 1000000");
  EXPECT_EQ(vj.code, 0) << vj.out;
  const auto j = nlohmann::json::parse(vj.out.substr(vj.out.find('{')));
  EXPECT_TRUE(j["verified"].get<bool>());
  EXPECT_TRUE(j["converged"].get<bool>());
  EXPECT_GE(j["soundness_bits"].get<double>(), 100.0);
  EXPECT_EQ(j["gradient_norms"].size(), 2u);
  CliRun in = run_cli("inspect --json " + tp);
  ASSERT_EQ(in.code, 0) << in.out;
  const auto ij = nlohmann::json::parse(in.out);
  EXPECT_EQ(ij["kind"], "training");
  EXPECT_EQ(ij["soundness_bits"].get<double>(), j["soundness_bits"].get<double>());
  EXPECT_EQ(ij["file_bytes"].get<std::size_t>(), read_bytes(tp).size());
  std::string bytes = read_bytes(tp);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  std::ofstream(tp, std::ios::binary) << bytes;
  CliRun bad = run_cli("verify-training" + files);
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("REJECTED"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace nnproof

namespace nnproof {
namespace {

// The loop closed: train until a full-batch step changes no weight (train stops there),
// then the client's verify-training over the same data at the same rate says CONVERGED (exit 0),
// and says NOT CONVERGED (exit 3) for the model before training.
TEST_F(CliTrain, TrainingUntilNoStepMovesReachesConvergedThroughVerifyTraining) {
  const std::string out = dir.file("t.onnx"), proof = dir.file("p.nnpt");
  CliRun t = run_cli(args(out, "--field m127 --epochs 500 --json --engine reference"));
  ASSERT_EQ(t.code, 0) << t.out;
  std::cerr << "epochs to convergence: " << lines(t.out) << "\n";
  const std::string last = t.out.substr(t.out.rfind('{'));
  ASSERT_EQ(nlohmann::json::parse(last)["weights_changed"], 0) << "did not converge in 500 epochs: " << last;
  const std::string files = " --data " + data + " --labels " + labels + " --proof " + proof;
  ASSERT_EQ(run_cli("prove-training --model " + out + files + " --field m127").code, 0);
  CliRun v = run_cli("verify-training --model " + out + files);
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("\nCONVERGED"), std::string::npos) << v.out;
  ASSERT_EQ(run_cli("prove-training --model " + model + files + " --field m127").code, 0);
  CliRun before = run_cli("verify-training --model " + model + files);
  EXPECT_EQ(before.code, 3) << before.out;
}

}  // namespace
}  // namespace nnproof
