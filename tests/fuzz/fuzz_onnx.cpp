// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the ONNX import (and quantization of what it accepts) must refuse with one error,
// never crash, hang or over-allocate.
#include "host/onnx/onnx_import.hpp"
#include "host/quantize.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = nnproof::fuzz::write_scratch(data, size, ".onnx");
  try {
    nnproof::FloatModel m = nnproof::import_onnx(path);
    nnproof::QuantizedModel q = nnproof::quantize_model(m, {16.0, 16.0});
    q.validate();
  } catch (const nnproof::ModelError&) {
  } catch (const nnproof::QuantizeError&) {
  }
  return 0;
}
