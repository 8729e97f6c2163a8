// SPDX-License-Identifier: Apache-2.0
#include "host/cli/common.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

namespace nnproof::cli {

Problem load_problem(const std::string& model_path, const std::string& input_path, const ScaleChoice& scales) {
  Problem p;
  p.float_model = import_onnx(model_path);
  p.model = quantize_model(p.float_model, scales);
  p.model_digest = model_digest(p.model);
  NpyArray x = read_npy(input_path);
  p.input = quantize_input(x, input_path, p.model);
  p.batch = x.shape[0];
  return p;
}

FieldId parse_field(const std::string& name) {
  for (FieldId id : {FieldId::m61, FieldId::m127, FieldId::m61_interactive})
    if (name == field_name(id)) return id;
  throw UsageError("unknown field '" + name + "'; use m61, m127 or (interactive only) m61-interactive");
}

template <class F>
std::vector<double> dequantize_outputs(const QuantizedModel& model, const std::vector<F>& outputs) {
  const double scale = model.output_scale();
  const std::size_t n = model.out_dim();
  std::vector<double> y(outputs.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<double>(outputs[i].centered()) / scale;
  if (model.final_op == FinalOp::none) return y;
  for (std::size_t k = 0; k < y.size() / n; ++k) {  // a numerically stable (log-)softmax per sample
    double* row = y.data() + k * n;
    double mx = row[0], sum = 0;
    for (std::size_t o = 1; o < n; ++o) mx = std::max(mx, row[o]);
    for (std::size_t o = 0; o < n; ++o) sum += std::exp(row[o] - mx);
    for (std::size_t o = 0; o < n; ++o)
      row[o] = model.final_op == FinalOp::softmax ? std::exp(row[o] - mx) / sum : row[o] - mx - std::log(sum);
  }
  return y;
}

template std::vector<double> dequantize_outputs(const QuantizedModel&, const std::vector<Fp61>&);
template std::vector<double> dequantize_outputs(const QuantizedModel&, const std::vector<Fp127>&);

ProgressFn terminal_progress() {
  if (!::isatty(STDERR_FILENO)) return {};
  return [](const std::string& stage) { std::fprintf(stderr, "\r\033[K%s", stage.c_str()); };
}

std::string to_decimal(i128 x) {
  if (x == 0) return "0";
  const bool neg = x < 0;
  u128 m = neg ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x);
  std::string s;
  for (; m; m /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
  return neg ? "-" + s : s;
}

std::vector<unsigned char> read_file_prefix(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot open: " + std::strerror(errno));
  std::vector<unsigned char> buf(max_bytes);
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(max_bytes));
  buf.resize(static_cast<std::size_t>(in.gcount()));
  return buf;
}

void write_file(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw UsageError(path + ": cannot write: " + std::strerror(errno));
}

}  // namespace nnproof::cli
