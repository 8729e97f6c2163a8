// SPDX-License-Identifier: Apache-2.0
// ONNX import rejections of malformed tensors (truncated, absurd, external, NaN), files and metadata:
// each a one-line message, and nothing allocated by what the file claims.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "host/onnx/onnx_import.hpp"
#include "tests/host/onnx_import_fixture.hpp"

namespace nnproof {
namespace {

using namespace onnx_import_test;

// ---- rejections: tensors --------------------------------------------------------------------

TEST_F(OnnxImport, RejectsTruncatedTensor) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    auto& w = initializer(m, "fc1.weight");
    w.set_raw_data(w.raw_data().substr(4));
  });
  expect_error(path, {"tensor 'fc1.weight'", "44 bytes", "(3, 4)", "needs 48"});
}

TEST_F(OnnxImport, RejectsTypedCountMismatch) {
  BuildOptions opt;
  opt.float_weights = false;
  std::vector<BuilderLayer> layers = {{2, 2, {1, 2, 3, 4}, {1, 1}}};
  const auto path = edited_model(file("m.onnx"), layers, opt,
                                 [](onnx::ModelProto& m) { initializer(m, "fc1.bias").add_int64_data(9); });
  expect_error(path, {"tensor 'fc1.bias'", "holds 3 values", "needs 2"});
}

TEST_F(OnnxImport, RejectsAbsurdSizesWithoutAllocating) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    auto& w = initializer(m, "fc1.weight");
    w.set_dims(0, std::int64_t{1} << 40);
    w.set_dims(1, std::int64_t{1} << 40);
  });
  expect_error(path, {"tensor 'fc1.weight'", "more than 2^31 elements"});
}

TEST_F(OnnxImport, RejectsNegativeDims) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                 [](onnx::ModelProto& m) { initializer(m, "fc1.weight").set_dims(0, -3); });
  expect_error(path, {"tensor 'fc1.weight'", "negative dimension"});
}

TEST_F(OnnxImport, RejectsExternalData) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    initializer(m, "fc2.weight").set_data_location(onnx::TensorProto::EXTERNAL);
  });
  expect_error(path, {"tensor 'fc2.weight'", "external data", "save_as_external_data=False"});
}

TEST_F(OnnxImport, RejectsHalfPrecision) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    initializer(m, "fc1.weight").set_data_type(onnx::TensorProto::FLOAT16);
  });
  expect_error(path, {"tensor 'fc1.weight'", "FLOAT16", "float32"});
}

TEST_F(OnnxImport, RejectsNaNWeights) {
  const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {}, [](onnx::ModelProto& m) {
    auto& w = initializer(m, "fc1.weight");
    std::string raw = w.raw_data();
    const auto nan = std::bit_cast<std::uint32_t>(std::numeric_limits<float>::quiet_NaN());
    for (int b = 0; b < 4; ++b) raw[b] = static_cast<char>(nan >> (8 * b));
    w.set_raw_data(raw);
  });
  expect_error(path, {"tensor 'fc1.weight'", "NaN"});
}

// ---- rejections: files and metadata -------------------------------------------------------

TEST_F(OnnxImport, RejectsGarbageFile) {
  {
    std::ofstream f(file("garbage.onnx"), std::ios::binary);
    f << std::string(16, '\xff');
  }
  expect_error(file("garbage.onnx"), {"cannot parse ONNX"});
  {
    std::ofstream f(file("text.onnx"));
    f << "this is not an ONNX model\n";
  }
  expect_error(file("text.onnx"), {"cannot parse ONNX"});
  { std::ofstream f(file("empty.onnx")); }
  expect_error(file("empty.onnx"), {"cannot parse ONNX"});
}

TEST_F(OnnxImport, RejectsMissingFile) { expect_error(file("nope.onnx"), {"cannot open file"}); }

TEST_F(OnnxImport, RejectsDirectory) { expect_error(tmp_.path().string(), {"directory"}); }

TEST_F(OnnxImport, RejectsEmptyGraph) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* g = m.mutable_graph();
  g->add_input()->set_name("input");
  g->add_output()->set_name("output");
  save(m, file("m.onnx"));
  expect_error(file("m.onnx"), {"no nodes"});
}

TEST_F(OnnxImport, RejectsBadMetadata) {
  for (std::string value : {"abc", "-1", "0", "inf", "nan", "", "16 "}) {
    SCOPED_TRACE("value '" + value + "'");
    const auto path = edited_model(file("m.onnx"), make_layers({4, 3, 2}), {},
                                   [&](onnx::ModelProto& m) { set_metadata(m, "nnproof.beta", value); });
    expect_error(path, {"nnproof.beta = '" + value + "'", "not a finite positive number"});
  }
  BuildOptions opt;
  opt.alpha = -2;
  testing::write_mlp_onnx(file("m.onnx"), make_layers({4, 3, 2}), opt);
  expect_error(file("m.onnx"), {"nnproof.alpha = '-2'"});
}

}  // namespace
}  // namespace nnproof
