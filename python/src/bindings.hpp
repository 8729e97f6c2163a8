// SPDX-License-Identifier: Apache-2.0
#pragma once
// The extension module nnproof._nnproof: thin bindings over the library entry points the CLI uses
// (host/cli/common.hpp, host/cli/verify.hpp, host/cli/verify_training.hpp, host/calibrate.hpp). The Python layer
// (python/nnproof/__init__.py) turns paths, bytes and arrays into these calls' arguments; no
// protocol logic lives here.
//   module.cpp     the module, its exception type, inspect (host/cli/inspect_view.hpp)
//   inference.cpp  prove, verify, quantize
//   training.cpp   train, prove_training, verify_training
//   convert.cpp    arguments in (inputs as .npy bytes or paths, scales) and results out (arrays, ints)
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "host/cli/common.hpp"

namespace nnproof::python {

namespace py = pybind11;

// The caller's own mistake (a bad model, input, flag value): nnproof.InputError in Python, the
// class of the CLI's exit code 2. Every std::exception from the library maps to it, as the CLI's
// main() maps them to exit 2; std::bad_alloc stays MemoryError.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs fn with the GIL released, turning library exceptions into InputError.
template <class Fn>
decltype(auto) call_library(Fn&& fn) {
  try {
    py::gil_scoped_release release;
    return fn();
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(e.what());
  }
}

// An input batch: a path (read as `nnproof prove --input` reads it) or the bytes of a .npy file
// (what numpy.save writes for the caller's array), with the name messages use for it.
struct InputSpec {
  std::string path;
  std::optional<std::string> npy;
  std::string name;
  NpyArray read() const;
};
InputSpec input_spec(const std::string& path, const std::optional<py::bytes>& npy, const std::string& name);

ScaleChoice scales(std::optional<double> alpha, std::optional<double> beta);

py::array_t<double> to_array(const std::vector<double>& v, std::size_t rows, std::size_t cols);
py::array_t<std::int64_t> to_array(const std::vector<std::int64_t>& v);
// Exact integers (beyond 64 bits in m127) as Python ints, rows of `cols`.
py::list to_int_rows(const std::vector<i128>& v, std::size_t cols);
py::int_ to_int(i128 v);
std::vector<unsigned char> to_vector(const py::bytes& b);

void bind_inference(py::module_& m);
void bind_training(py::module_& m);

}  // namespace nnproof::python
