// SPDX-License-Identifier: Apache-2.0
// The nnproof command line's flags and files (issue 19): --threads refused when not positive,
// verify --field checked against the bundle, output paths checked before any work and written
// atomically (a failed or rejected run leaves no partial, stale or temporary file and removes
// nothing), the field in the model's metadata as every command's default, interactive's outputs,
// and inspect --model / --float / --all. Runs the built binary ($NNPROOF_BIN).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "host/npy.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/quantize.hpp"
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

class CliFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
    // The 4-3-2 network of test_cli.cpp, 12 samples (more than inspect's 10 text rows).
    std::vector<testing::BuilderLayer> layers = {{3, 4, {1, -2, 0, 3, 2, 1, -1, 0, 0, 1, 1, -3}, {1, 0, -1}},
                                                 {2, 3, {1, 2, -1, -2, 0, 1}, {0, 5}}};
    testing::write_mlp_onnx(model, layers);
    std::vector<double> x;
    for (int k = 0; k < 12 * 4; ++k) x.push_back((k * 5) % 7 - 3);
    write_npy_f64(input, {12, 4}, x);
    std::vector<std::int64_t> y;
    for (int k = 0; k < 12; ++k) y.push_back(k % 2);
    write_npy_i64(labels, {12}, y);
  }
  std::string args(const std::string& more = "") const {
    return "--model " + model + " --input " + input + " --proof " + proof + " " + more;
  }
  std::set<std::string> listing() const {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(model).parent_path()))
      names.insert(e.path().filename().string());
    return names;
  }
  testing::TempDir dir;
  std::string model = dir.file("m.onnx"), input = dir.file("x.npy"), labels = dir.file("y.npy"),
              proof = dir.file("p.nnp");
};

TEST_F(CliFiles, ThreadsMustBePositiveEverywhere) {
  const std::string train = "--model " + model + " --data " + input + " --labels " + labels;
  for (const std::string& cmd :
       {"prove " + args(), "verify " + args(), "interactive --model " + model + " --input " + input,
        "quantize --model " + model + " --calibration " + input + " --labels " + labels + " --out " +
            dir.file("q.onnx"),
        "train " + train + " --out " + dir.file("t.onnx"), "prove-training " + train + " --proof " + dir.file("t.nnpt"),
        "verify-training " + train + " --proof " + dir.file("t.nnpt"), std::string("bench --arch 4,3 --batch 2")})
    for (const char* n : {"0", "-1", "x"}) {
      CliRun r = run_cli(cmd + " --threads " + n);
      EXPECT_EQ(r.code, 2) << cmd << " --threads " << n << ": " << r.out;
      EXPECT_NE(r.out.find("--threads"), std::string::npos) << r.out;
      EXPECT_EQ(lines(r.out), 1u) << r.out;
    }
  ASSERT_EQ(run_cli("prove " + args("--threads 1")).code, 0);
  CliRun v = run_cli("verify " + args("--threads 1"));
  EXPECT_EQ(v.code, 0) << v.out;
}

TEST_F(CliFiles, VerifyFieldMustMatchTheBundle) {
  ASSERT_EQ(run_cli("prove " + args("--field m61")).code, 0);
  EXPECT_EQ(run_cli("verify " + args("--field m61")).code, 0);
  CliRun other = run_cli("verify " + args("--field m127"));
  EXPECT_EQ(other.code, 1) << other.out;
  EXPECT_EQ(other.out, "REJECTED: field: the proof is over m61, not m127 as --field asks\n");
  EXPECT_EQ(run_cli("verify " + args("--field m61-interactive")).code, 2);
  EXPECT_EQ(run_cli("verify " + args("--field m62")).code, 2);
}

// Bad output paths are refused (exit 2, one line) before anything is proved or read, so nothing is
// written; a garbage proof is not even looked at.
TEST_F(CliFiles, OutputPathsAreCheckedBeforeAnyWork) {
  auto expect_two = [](const CliRun& r, const std::string& needle) {
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
    EXPECT_EQ(lines(r.out), 1u) << r.out;
  };
  std::filesystem::create_directory(dir.file("folder"));
  expect_two(run_cli("prove " + args("--output " + dir.file("none/y.npy"))), "does not exist");
  EXPECT_FALSE(std::filesystem::exists(proof));
  expect_two(run_cli("prove --model " + model + " --input " + input + " --proof " + dir.file("folder")),
             "is a directory");
  expect_two(run_cli("prove " + args("--labels-out " + proof)), "same file");
  EXPECT_FALSE(std::filesystem::exists(proof));
  std::ofstream(proof) << "garbage";
  expect_two(run_cli("verify " + args("--labels-out " + dir.file("none/l.npy"))), "does not exist");
  expect_two(run_cli("verify " + args("--output /dev/null")), "not a regular file");
  expect_two(run_cli("quantize --model " + model + " --calibration " + input + " --labels " + labels + " --out " +
                     dir.file("none/q.onnx")),
             "does not exist");
  const std::string train = "--model " + model + " --data " + input + " --labels " + labels;
  expect_two(run_cli("train " + train + " --out " + dir.file("folder")), "is a directory");
  expect_two(run_cli("prove-training " + train + " --proof " + dir.file("none/t.nnpt")), "does not exist");
  expect_two(run_cli("interactive --model " + model + " --input " + input + " --output " + dir.file("none/y.npy")),
             "does not exist");
}

TEST_F(CliFiles, ARejectedVerifyWritesNothingAndRemovesNothing) {
  const std::string y = dir.file("out.npy"), l = dir.file("labels-out.npy");
  ASSERT_EQ(run_cli("prove " + args()).code, 0);
  std::ofstream(y) << "the user's";
  std::ofstream(l) << "own files";
  std::string bytes = read_bytes(proof);
  std::string bad = bytes;
  bad[bad.size() - 3] ^= 1;
  std::ofstream(proof, std::ios::binary | std::ios::trunc) << bad;
  const auto before = listing();
  CliRun r = run_cli("verify " + args("--output " + y + " --labels-out " + l));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(read_bytes(y), "the user's");
  EXPECT_EQ(read_bytes(l), "own files");
  EXPECT_EQ(listing(), before);  // no temporaries left either
  std::ofstream(proof, std::ios::binary | std::ios::trunc) << bytes;
  r = run_cli("verify " + args("--output " + y + " --labels-out " + l));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_npy(y).shape, (std::vector<std::size_t>{12, 2}));
  EXPECT_EQ(read_npy(l).shape, (std::vector<std::size_t>{12}));
  EXPECT_EQ(listing(), before);
}

TEST_F(CliFiles, AFailedProveLeavesTheOldFilesAndNoTemporaries) {
  std::ofstream(proof) << "an earlier proof";
  const auto before = listing();
  write_npy_f64(dir.file("huge.npy"), {1, 4}, std::vector<double>(4, 1e15));  // could wrap m61
  CliRun r = run_cli("prove --model " + model + " --input " + dir.file("huge.npy") + " --proof " + proof +
                     " --output " + dir.file("new.npy"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(read_bytes(proof), "an earlier proof");
  auto after = listing();
  after.erase("huge.npy");
  EXPECT_EQ(after, before);
  // A successful run replaces the file, with the permissions a new file gets (0666 less the umask).
  ASSERT_EQ(run_cli("prove " + args()).code, 0);
  EXPECT_EQ(read_bytes(proof).substr(0, 7), "NNPROOF");
  const mode_t mask = ::umask(0);
  ::umask(mask);
  struct stat st {};
  ASSERT_EQ(::stat(proof.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
}

// nnproof.field in the model's metadata (what quantize writes) is the default of prove,
// interactive, train and prove-training; --field still wins; verify takes the proof's.
TEST_F(CliFiles, TheFieldInTheMetadataIsTheDefault) {
  const std::string q = dir.file("q.onnx");
  CliRun quant = run_cli("quantize --model " + model + " --calibration " + input + " --labels " + labels +
                         " --field m127 --max-exponent 1 --out " + q);
  ASSERT_EQ(quant.code, 0) << quant.out;
  ASSERT_EQ(import_onnx(q).field, FieldId::m127);
  auto field_of = [&](const std::string& path) {
    CliRun r = run_cli("inspect --json " + path);
    EXPECT_EQ(r.code, 0) << r.out;
    return nlohmann::json::parse(r.out)["field"].get<std::string>();
  };
  const std::string pq = "--model " + q + " --input " + input + " --proof " + proof;
  ASSERT_EQ(run_cli("prove " + pq).code, 0);
  EXPECT_EQ(field_of(proof), "m127");
  EXPECT_EQ(run_cli("verify " + pq).code, 0);
  ASSERT_EQ(run_cli("prove " + pq + " --field m61").code, 0);
  EXPECT_EQ(field_of(proof), "m61");
  EXPECT_EQ(run_cli("verify " + pq).code, 0);
  CliRun i = run_cli("interactive --model " + q + " --input " + input);
  EXPECT_EQ(i.code, 0) << i.out;
  EXPECT_NE(i.out.find("over m127"), std::string::npos) << i.out;
  // Training: the trained model keeps the field; prove-training defaults to it.
  const std::string t = dir.file("t.onnx"), tp = dir.file("t.nnpt");
  const std::string train = " --data " + input + " --labels " + labels;
  ASSERT_EQ(run_cli("train --model " + q + train + " --epochs 1 --out " + t).code, 0);
  EXPECT_EQ(import_onnx(t).field, FieldId::m127);
  ASSERT_EQ(run_cli("prove-training --model " + t + train + " --proof " + tp).code, 0);
  EXPECT_EQ(field_of(tp), "m127");
  const int verdict = run_cli("verify-training --model " + t + train + " --proof " + tp + " --field m127").code;
  EXPECT_TRUE(verdict == 0 || verdict == 3) << verdict;  // verified: converged or not
  // A model whose metadata names no proof field: one line naming the key and the fix.
  write_onnx_with_scales(model, dir.file("bad.onnx"), 1, 1, FieldId::m61_interactive);
  CliRun bad = run_cli("prove --model " + dir.file("bad.onnx") + " --input " + input + " --proof " + proof);
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("nnproof.field"), std::string::npos) << bad.out;
  EXPECT_EQ(lines(bad.out), 1u) << bad.out;
}

// interactive: m61 with challenges from F_p^2 (>= 100 bits) unless asked for m61-interactive,
// whose bits are printed; --output and --labels-out as prove writes them.
TEST_F(CliFiles, InteractiveDefaultsToHundredBitsAndWritesOutputs) {
  const std::string yi = dir.file("yi.npy"), li = dir.file("li.npy"), yp = dir.file("yp.npy"), lp = dir.file("lp.npy");
  CliRun i = run_cli("interactive --model " + model + " --input " + input + " --output " + yi + " --labels-out " + li);
  ASSERT_EQ(i.code, 0) << i.out;
  EXPECT_NE(i.out.find("interactive proof over m61 "), std::string::npos) << i.out;
  const auto at = i.out.find(" bits of soundness");
  ASSERT_NE(at, std::string::npos) << i.out;
  EXPECT_GE(std::stod(i.out.substr(i.out.rfind(' ', at - 1) + 1)), 100.0) << i.out;
  ASSERT_EQ(run_cli("prove " + args("--output " + yp + " --labels-out " + lp)).code, 0);
  EXPECT_EQ(read_npy(yi).reals, read_npy(yp).reals);
  EXPECT_EQ(read_npy(li).integers, read_npy(lp).integers);
  CliRun weak = run_cli("interactive --model " + model + " --input " + input + " --field m61-interactive");
  EXPECT_EQ(weak.code, 0) << weak.out;
  EXPECT_NE(weak.out.find("over m61-interactive"), std::string::npos) << weak.out;
  EXPECT_NE(weak.out.find("bits of soundness (one try per session"), std::string::npos) << weak.out;
}

TEST_F(CliFiles, InspectWithTheModelGivesScalesAndFloats) {
  const std::string y = dir.file("out.npy");
  ASSERT_EQ(run_cli("prove " + args("--alpha 2 --beta 2 --output " + y)).code, 0);
  const double scale = quantize_model(import_onnx(model), {2.0, 2.0}).output_scale();
  ASSERT_EQ(scale, 32.0);  // s_Z(1) = 4, s_Y(1) = 16, s_Z(2) = 32
  CliRun r = run_cli("inspect --json --float --model " + model + " --alpha 2 --beta 2 " + proof);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["output_scale"].get<double>(), scale);
  const NpyArray floats = read_npy(y);
  ASSERT_EQ(j["outputs_float"].size(), 12u);
  for (std::size_t k = 0; k < 12; ++k)
    for (std::size_t o = 0; o < 2; ++o) {
      EXPECT_EQ(j["outputs_float"][k][o].get<double>(), floats.reals[k * 2 + o]);
      EXPECT_EQ(std::stod(j["outputs"][k][o].get<std::string>()) / scale, floats.reals[k * 2 + o]);
    }
  EXPECT_FALSE(nlohmann::json::parse(run_cli("inspect --json " + proof).out).contains("output_scale"));
  // The text view: the first 10 rows and how many more; --all prints them all.
  CliRun text = run_cli("inspect " + proof);
  EXPECT_NE(text.out.find("  [9] "), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("  [10] "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("... 2 more rows (--all"), std::string::npos) << text.out;
  CliRun all = run_cli("inspect --all --float --model " + model + " --alpha 2 --beta 2 " + proof);
  EXPECT_EQ(all.code, 0) << all.out;
  EXPECT_NE(all.out.find("  [11] "), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("output scale:   32"), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find("more row"), std::string::npos) << all.out;
  // --float needs the model, and the model must be the proof's (scales included).
  EXPECT_EQ(run_cli("inspect --float " + proof).code, 2);
  CliRun other = run_cli("inspect --model " + model + " " + proof);
  EXPECT_EQ(other.code, 2) << other.out;
  EXPECT_NE(other.out.find("another model or other scales"), std::string::npos) << other.out;
}

}  // namespace
}  // namespace nnproof
