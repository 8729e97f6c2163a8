// SPDX-License-Identifier: Apache-2.0
#include <span>

#include "bindings.hpp"

namespace nnproof::python {

NpyArray InputSpec::read() const {
  if (!npy) return read_npy(path);
  return read_npy_bytes(std::span(reinterpret_cast<const unsigned char*>(npy->data()), npy->size()), name);
}

InputSpec input_spec(const std::string& path, const std::optional<py::bytes>& npy, const std::string& name) {
  InputSpec s;
  s.path = path;
  if (npy) s.npy = std::string(*npy);
  s.name = name.empty() ? path : name;
  return s;
}

ScaleChoice scales(std::optional<double> alpha, std::optional<double> beta) { return ScaleChoice{alpha, beta}; }

py::array_t<double> to_array(const std::vector<double>& v, std::size_t rows, std::size_t cols) {
  py::array_t<double> a({rows, cols});
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::array_t<std::int64_t> to_array(const std::vector<std::int64_t>& v) {
  py::array_t<std::int64_t> a(v.size());
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::int_ to_int(i128 v) {
  // Through the decimal string: Python ints are unbounded, i128 has no direct conversion.
  const std::string s = cli::to_decimal(v);
  return py::reinterpret_steal<py::int_>(PyLong_FromString(s.c_str(), nullptr, 10));
}

py::list to_int_rows(const std::vector<i128>& v, std::size_t cols) {
  py::list rows;
  for (std::size_t k = 0; cols && k < v.size() / cols; ++k) {
    py::list row;
    for (std::size_t j = 0; j < cols; ++j) row.append(to_int(v[k * cols + j]));
    rows.append(row);
  }
  return rows;
}

std::vector<unsigned char> to_vector(const py::bytes& b) {
  const std::string_view s(b);
  return {s.begin(), s.end()};
}

}  // namespace nnproof::python
