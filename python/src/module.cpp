// SPDX-License-Identifier: Apache-2.0
// The module nnproof._nnproof: its exception, inspect, and the calls of inference.cpp and training.cpp.
#include <algorithm>

#include "bindings.hpp"
#include "host/cli/inspect_view.hpp"
#include "nnproof/version.hpp"

namespace nnproof::python {
namespace {

// `nnproof inspect --json` of a bundle in memory (plain, chunked or training), through the CLI's
// own view: the header's shape is taken only after the length it implies is checked against the
// bytes given, and nothing is allocated beyond them.
py::dict py_inspect(const py::bytes& data) {
  const std::string bytes(data);
  const cli::BundleView v = call_library([&] {
    try {
      const cli::ProofReader read = [&](std::size_t max_bytes) {
        const std::size_t n = std::min(max_bytes, bytes.size());
        return std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      };
      return cli::inspect_bundle(read, bytes.size());
    } catch (const ProofFormatError& e) {
      throw InputError(std::string("bundle: ") + e.what());
    }
  });
  const std::size_t n_out = v.dims.empty() ? 0 : v.dims.back();
  py::dict d;
  d["nnproof_version"] = NNPROOF_VERSION;
  d["kind"] = v.training ? "training" : "inference";
  d["version"] = v.version;
  d["field"] = std::string(field_name(v.field));
  d["batch"] = v.batch;
  d["dims"] = v.dims;
  d["soundness_bits"] = v.soundness_bits;
  d["proof_bytes"] = v.proof_bytes;
  d["file_bytes"] = v.file_bytes;
  if (v.training) {  // `nnproof inspect --json`'s keys for a .nnpt
    d["mode"] = v.mode;
    d["samples"] = v.batch;
    d["lr_exponent"] = v.lr_exponent;
    d["claim_bytes"] = v.claim_bytes;
    d["message_count"] = v.messages;
    d["loss"] = to_int(v.loss);
  } else {
    d["chunks"] = v.chunk_batches.size();  // a plain bundle is one proof of the whole batch
    d["chunk_batches"] = v.chunk_batches;
  }
  d["outputs"] = to_int_rows(v.outputs, n_out);
  return d;
}

}  // namespace

PYBIND11_MODULE(_nnproof, m) {
  m.doc() = "nnproof's C++ core (use the package nnproof, not this module)";
  m.attr("__version__") = NNPROOF_VERSION;
  m.attr("proof_version") = kProofVersion;
  m.attr("oldest_proof_version") = kOldestProofVersion;
  // A subclass of ValueError: the caller's own model, input or argument is wrong.
  // nnproof.Error: the base of Rejected (defined in Python) and InputError, which is also a
  // ValueError (the caller's own model, input or argument is wrong).
  auto error = py::reinterpret_steal<py::object>(PyErr_NewException("nnproof.Error", PyExc_Exception, nullptr));
  m.attr("Error") = error;
  const py::tuple bases = py::make_tuple(error, py::handle(PyExc_ValueError));
  py::register_exception<InputError>(m, "InputError", bases);
  m.attr("InputError").attr("__module__") = "nnproof";
  m.def("inspect", &py_inspect, py::arg("bundle"),
        "The header and claimed outputs of a bundle (plain, chunked or training), as `nnproof inspect --json`.");
  bind_inference(m);
  bind_training(m);
}

}  // namespace nnproof::python
