// SPDX-License-Identifier: Apache-2.0
// `nnproof quantize` through the built binary ($NNPROOF_BIN) on the tiny CNN of issue 19's user
// trial (tests/host/trial_cnn.hpp): with labels and without, the chosen pair reported and written.
// NNPROOF_TRIAL_DIR=<folder> keeps the model and its 1000 calibration images there, for the
// benchmark in docs/PERFORMANCE.md.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "tests/host/trial_cnn.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/temp_dir.hpp"

namespace nnproof {
namespace {

using testing::CliRun;
using testing::run_cli;

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
    const char* keep = std::getenv("NNPROOF_TRIAL_DIR");
    folder = keep ? keep : dir.file("");
    std::filesystem::create_directories(folder);
    files = testing::write_trial_cnn(folder, 1000);
  }
  testing::TempDir dir;
  std::string folder;
  testing::TrialFiles files;
};

// The trial's labels are the float model's predictions, so the most accurate pair agrees with the
// float model at least as often as the pair the unlabelled search picks (99.7% here); the rule
// before 0.2.0 (three betas without a gain end an alpha) stopped at 83.5% (alpha 2, beta 1024).
TEST_F(QuantizeCli, TrialCnnWithLabels) {
  const std::string out = folder + "/q.onnx";
  const std::string common = "quantize --json --model " + files.model + " --calibration " + files.images;
  CliRun r = run_cli(common + " --labels " + files.labels + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const FloatModel q = import_onnx(out);
  EXPECT_EQ(q.alpha, j["chosen"]["alpha"].get<double>());
  EXPECT_EQ(q.beta, j["chosen"]["beta"].get<double>());
  EXPECT_EQ(j["chosen"]["by"], "labels");
  EXPECT_EQ(j["chosen"]["accuracy"].get<double>(), j["chosen"]["agreement"].get<double>());
  CliRun u = run_cli(common + " --out " + folder + "/q_unlabelled.onnx");
  ASSERT_EQ(u.code, 0) << u.out;
  EXPECT_GE(j["chosen"]["accuracy"].get<double>(), nlohmann::json::parse(u.out)["chosen"]["agreement"].get<double>());
  CliRun text = run_cli("quantize --model " + files.model + " --calibration " + files.images + " --labels " +
                        files.labels + " --out " + out);
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("with labels: chose alpha=" + std::to_string(static_cast<std::int64_t>(q.alpha.value_or(0))) +
                          " beta=" + std::to_string(static_cast<std::int64_t>(q.beta.value_or(0))) +
                          ", the most accurate pair"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("among equally accurate pairs the one closest to the float model's outputs"),
            std::string::npos)
      << text.out;
}

// Float inputs need alpha > 1, which --max-exponent 0 forbids: the advice says so, not "use --field
// m127" (which cannot help).
TEST_F(QuantizeCli, MaxExponentTooSmallForFloatInputsNamesTheCause) {
  CliRun r = run_cli("quantize --max-exponent 0 --model " + files.model + " --calibration " + files.images + " --out " +
                     folder + "/q0.onnx");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("the inputs are not integers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("raise --max-exponent"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("m127"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Without --labels: the pair closest to the float model, said so, written with the calibration
// range; then an input far outside that range draws one warning line from prove and verify (which
// still succeed), and an input inside it none.
TEST_F(QuantizeCli, TrialCnnWithoutLabelsAndTheRangeWarning) {
  const std::string out = folder + "/q_nolabels.onnx";
  CliRun r = run_cli("quantize --model " + files.model + " --calibration " + files.images + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("no labels: chose alpha="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("closest to the float model's"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<- chosen"), std::string::npos) << r.out;
  CliRun j = run_cli("quantize --json --model " + files.model + " --calibration " + files.images + " --out " + out);
  ASSERT_EQ(j.code, 0) << j.out;
  const auto json = nlohmann::json::parse(j.out);
  EXPECT_EQ(json["chosen"]["by"], "float outputs");
  EXPECT_FALSE(json["chosen"].contains("accuracy"));
  const FloatModel q = import_onnx(out);
  EXPECT_EQ(q.alpha, json["chosen"]["alpha"].get<double>());
  EXPECT_EQ(q.beta, json["chosen"]["beta"].get<double>());
  ASSERT_TRUE(q.input_range);
  EXPECT_EQ(q.input_range->lo, 0.0);
  EXPECT_EQ(q.input_range->hi, 1.0);

  const NpyArray images = read_npy(files.images);
  const std::size_t n = 5, per = images.size() / images.shape[0];
  std::vector<double> near(images.reals.begin(), images.reals.begin() + n * per), far = near;
  for (double& v : far) v *= 255;  // uint8 pixels where [0, 1] was calibrated
  const std::string near_path = dir.file("near.npy"), far_path = dir.file("far.npy"), proof = dir.file("p.nnp");
  write_npy_f64(near_path, {n, 1, 28, 28}, near);
  write_npy_f64(far_path, {n, 1, 28, 28}, far);
  for (const char* cmd : {"prove", "verify"}) {
    CliRun f =
        run_cli(std::string(cmd) + " --model " + out + " --input " + far_path + " --proof " + proof + " --field m127");
    EXPECT_EQ(f.code, 0) << f.out;
    EXPECT_EQ(
        count(f.out, "warning: " + far_path + ": the input spans [0, 255] but " + out + " was calibrated on [0, 1]"),
        1u)
        << f.out;
    EXPECT_EQ(count(f.out, "warning"), 1u) << f.out;
  }
  for (const char* cmd : {"prove", "verify"}) {
    CliRun f = run_cli(std::string(cmd) + " --model " + out + " --input " + near_path + " --proof " + proof);
    EXPECT_EQ(f.code, 0) << f.out;
    EXPECT_EQ(count(f.out, "warning"), 0u) << f.out;
  }
}

}  // namespace
}  // namespace nnproof
