// SPDX-License-Identifier: Apache-2.0
// The entry points of onnx_import.hpp: the file read (or written back with new scales) through
// protobuf, each failure a one-line ModelError, and the graph handed to the Importer (importer.cpp).
#include "host/onnx/onnx_import.hpp"

#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>

#include "host/onnx/importer.hpp"

namespace nnproof {

namespace {

onnx::ModelProto parse_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ModelError(path + ": is a directory; pass an .onnx file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ModelError(path + ": cannot open file (" + std::strerror(errno) + "); check the path");
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > static_cast<std::uintmax_t>(std::numeric_limits<int>::max()))
    throw ModelError(
        path + ": cannot parse ONNX: the file is over 2 GiB, the protobuf limit; nnproof refuses models this large");
  // Parsed from the stream: reading the file into a string first cost a copy of its size and
  // ~10% of loading a large model.
  onnx::ModelProto model;
  const bool parsed = model.ParseFromIstream(&f);
  if (f.bad()) throw ModelError(path + ": cannot read file; check the path and permissions");
  if (!parsed)
    throw ModelError(path +
                     ": cannot parse ONNX: the file is not a valid ONNX protobuf; "
                     "pass a model written by torch.onnx.export or onnx.save");
  // An empty or text file can decode as a protobuf with no graph: report it as unparsable too.
  if (!model.has_graph())
    throw ModelError(path +
                     ": cannot parse ONNX: the file holds no graph; "
                     "pass a model written by torch.onnx.export or onnx.save");
  return model;
}

}  // namespace

void write_onnx_with_scales(const std::string& in, const std::string& out, double alpha, double beta,
                            std::optional<FieldId> field, std::optional<InputRange> input_range) {
  onnx::ModelProto model = parse_file(in);
  auto* props = model.mutable_metadata_props();
  for (int i = props->size() - 1; i >= 0; --i) {
    const std::string& key = props->Get(i).key();
    if (key == "nnproof.alpha" || key == "nnproof.beta" || (field && key == onnx_detail::kFieldKey) ||
        (input_range && key == onnx_detail::kInputRangeKey))
      props->DeleteSubrange(i, 1);
  }
  for (auto [key, value] : {std::pair{"nnproof.alpha", alpha}, std::pair{"nnproof.beta", beta}}) {
    auto* p = model.add_metadata_props();
    p->set_key(key);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", value);  // round-trips exactly
    p->set_value(buf);
  }
  if (field) {
    auto* p = model.add_metadata_props();
    p->set_key(onnx_detail::kFieldKey);
    p->set_value(std::string(field_name(*field)));
  }
  if (input_range) {
    auto* p = model.add_metadata_props();
    p->set_key(onnx_detail::kInputRangeKey);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g,%.17g", input_range->lo, input_range->hi);  // round-trips exactly
    p->set_value(buf);
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!f || !model.SerializeToOstream(&f))
    throw ModelError(out + ": cannot write (" + std::strerror(errno) + "); check the path");
}

FloatModel import_onnx(const std::string& path) {
  const onnx::ModelProto model = parse_file(path);
  return onnx_detail::Importer(path, model).run();
}

}  // namespace nnproof
