// SPDX-License-Identifier: Apache-2.0
// Proof files of format version 2, committed as nnproof made them before version 3
// (tests/fixtures/proof_v2/: the examples/mlp model and input, m61 and m127), still verify through
// the CLI with version 2's input binding, and a changed input, message or version is still
// rejected; new proofs are version 3 (the compact input binding, verifier/input_binding.hpp).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "host/npy.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/temp_dir.hpp"

namespace nnproof {
namespace {

using testing::CliRun;
using testing::run_cli;

std::string source(const std::string& relative) { return std::string(NNPROOF_SOURCE_DIR) + "/" + relative; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class CliVersions : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("NNPROOF_BIN")) GTEST_SKIP() << "NNPROOF_BIN is not set (run through ctest)";
  }
  CliRun verify(const std::string& proof, const std::string& input) const {
    return run_cli("verify --model " + model + " --input " + input + " --proof " + proof);
  }
  // The example's input with sample 0, feature 5 moved by 1.0 (16 quantization steps).
  std::string changed_input() const {
    NpyArray x = read_npy(input);
    x.reals[5] += 1.0;
    write_npy_f64(dir.file("x_changed.npy"), x.shape, x.reals);
    return dir.file("x_changed.npy");
  }
  // Verifies bytes after setting the version field (offset 8) to `version`.
  CliRun verify_as_version(std::string bytes, char version) const {
    bytes[8] = version;
    write_bytes(dir.file("relabelled.nnp"), bytes);
    return verify(dir.file("relabelled.nnp"), input);
  }
  testing::TempDir dir;
  std::string model = source("examples/mlp/model.onnx"), input = source("examples/mlp/input.npy");
};

TEST_F(CliVersions, Version2FilesStillVerifyAndRejectTampering) {
  for (const char* field : {"m61", "m127"}) {
    const std::string proof = source(std::string("tests/fixtures/proof_v2/mlp_") + field + ".nnp");
    const std::string bytes = read_bytes(proof);
    ASSERT_GT(bytes.size(), 200u) << proof;
    EXPECT_EQ(bytes[8], 2) << proof;
    CliRun ok = verify(proof, input);
    EXPECT_EQ(ok.code, 0) << field << ": " << ok.out;
    EXPECT_EQ(ok.out, "VERIFIED\n") << field;
    CliRun other = verify(proof, changed_input());
    EXPECT_EQ(other.code, 1) << field << ": " << other.out;
    EXPECT_EQ(other.out.rfind("REJECTED: input binding", 0), 0u) << field << ": " << other.out;
    std::string message = bytes;
    message[message.size() - 20] ^= 0x01;  // inside the last proof message
    write_bytes(dir.file("message.nnp"), message);
    CliRun changed = verify(dir.file("message.nnp"), input);
    EXPECT_EQ(changed.code, 1) << field << ": " << changed.out;
    EXPECT_EQ(changed.out.rfind("REJECTED: ", 0), 0u) << field << ": " << changed.out;
    CliRun v3 = verify_as_version(bytes, 3);  // version 3 hashes the input otherwise
    EXPECT_EQ(v3.code, 1) << field << ": " << v3.out;
    EXPECT_EQ(v3.out.rfind("REJECTED: input binding", 0), 0u) << field << ": " << v3.out;
  }
}

TEST_F(CliVersions, NewProofsAreVersion3) {
  for (const char* field : {"m61", "m127"}) {
    const std::string proof = dir.file(std::string("p_") + field + ".nnp");
    CliRun p = run_cli("prove --model " + model + " --input " + input + " --proof " + proof + " --field " + field);
    ASSERT_EQ(p.code, 0) << p.out;
    const std::string bytes = read_bytes(proof);
    EXPECT_EQ(bytes[8], 3) << field;
    EXPECT_EQ(verify(proof, input).code, 0) << field;
    // The committed version 2 file of the same statement has the same outputs and a different input binding.
    const std::string v2 = read_bytes(source(std::string("tests/fixtures/proof_v2/mlp_") + field + ".nnp"));
    EXPECT_EQ(bytes.substr(48, 32), v2.substr(48, 32)) << field << ": the model binding";
    EXPECT_NE(bytes.substr(80, 32), v2.substr(80, 32)) << field << ": the input binding";
    CliRun v2_label = verify_as_version(bytes, 2);
    EXPECT_EQ(v2_label.code, 1) << field << ": " << v2_label.out;
    EXPECT_EQ(v2_label.out.rfind("REJECTED: input binding", 0), 0u) << field << ": " << v2_label.out;
  }
}

}  // namespace
}  // namespace nnproof
