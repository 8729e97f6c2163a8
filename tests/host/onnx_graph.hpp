// SPDX-License-Identifier: Apache-2.0
#pragma once
// A small ONNX graph written node by node, for tests that need the exact node sequences
// torch.onnx.export writes (Pad before AveragePool, BatchNormalization, the Shape / Gather /
// Unsqueeze / Concat flatten idiom, ...) or hostile ones no exporter writes. onnx_builder.hpp
// writes whole MLPs and CNNs; this writes anything.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nnproof::testing {

class OnnxGraph {
 public:
  explicit OnnxGraph(int opset = 13);

  // The data input, FLOAT of shape (batch, dims...) with a symbolic batch.
  void input(const std::string& name, const std::vector<std::int64_t>& dims);
  // An initializer: FLOAT in raw_data as PyTorch writes it, or INT64 / DOUBLE in int64_data / double_data.
  void initializer(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<double>& values,
                   int type = onnx::TensorProto::FLOAT);
  // A Constant node whose value is a tensor (rank 0 when dims is empty).
  void constant(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<double>& values,
                int type = onnx::TensorProto::INT64);
  // A node named `name` writing `output`; attributes through the setters below.
  onnx::NodeProto& node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                        const std::string& output);
  onnx::NodeProto& find(const std::string& name);  // the node named `name`
  void output(const std::string& name);
  void save(const std::string& path) const;

  onnx::ModelProto model;
};

void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t v);
void set_float(onnx::NodeProto& n, const std::string& name, float v);
void set_ints(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v);
void set_string(onnx::NodeProto& n, const std::string& name, const std::string& v);

}  // namespace nnproof::testing
