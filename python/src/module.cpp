// SPDX-License-Identifier: Apache-2.0
// The module nnproof._nnproof: its exception, inspect, and the calls of inference.cpp.
#include <algorithm>

#include "bindings.hpp"
#include "nnproof/version.hpp"
#include "verifier/chunked.hpp"
#include "verifier/proof.hpp"
#include "verifier/training/bundle.hpp"

namespace nnproof::python {
namespace {

std::size_t le32(const std::vector<unsigned char>& b, std::size_t at) {
  return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | static_cast<std::size_t>(b[at + 3]) << 24;
}

struct Inspected {
  BundleHeader header;
  std::size_t batch = 0, n_out = 0, proof_bytes = 0;
  double bits = 0;
  std::vector<i128> outputs;
};

template <class Cfg>
Inspected inspect_as(const std::vector<unsigned char>& bytes, const ProofShape& shape) {
  ProofBundle<Cfg> b = parse_bundle<Cfg>(bytes, shape);
  Inspected r;
  r.header = b.header;
  r.batch = shape.batch;
  r.n_out = shape.dims.back();
  r.bits = shape.soundness_bits(Cfg::kId);
  r.proof_bytes = b.messages.size() * Cfg::K::kBytes;
  for (const auto& y : b.outputs) r.outputs.push_back(y.centered());
  return r;
}

// `nnproof inspect --json` of an inference bundle in memory: the header's shape is taken only
// after the length it implies is checked against the bytes given (nothing allocated beyond them).
Inspected inspect(const std::vector<unsigned char>& bytes) {
  try {
    if (is_training_bundle(bytes))
      throw InputError("a training proof (.nnpt): nnproof.inspect reads inference bundles; use `nnproof inspect`");
    if (is_chunked_bundle(bytes))  // nnproof.verify reads them; inspect's chunk walk is the CLI's for now
      throw InputError("a chunked bundle (NNPCHUNK): nnproof.inspect reads plain bundles; use `nnproof inspect`");
    auto prefix = [&](std::size_t n) {
      return std::vector<unsigned char>(bytes.begin(),
                                        bytes.begin() + static_cast<std::ptrdiff_t>(std::min(n, bytes.size())));
    };
    auto fixed = prefix(kFixedHeaderBytes);
    const std::size_t depth = fixed.size() == kFixedHeaderBytes ? le32(fixed, kFixedHeaderBytes - 4) : 0;
    BundleHeader h = parse_header(prefix(bundle_header_size(std::min(depth, kMaxDepth))), kAnyDepth);
    const ProofShape shape{h.dims, h.batch};
    const std::size_t want = bundle_size(h.field, shape);
    if (bytes.size() != want)
      throw ProofFormatError((bytes.size() < want ? "truncated proof: " : "trailing bytes after the proof: ") +
                             std::to_string(bytes.size()) + " bytes, the header implies " + std::to_string(want));
    if (h.field == FieldId::m127) return inspect_as<M127>(bytes, shape);
    return inspect_as<M61>(bytes, shape);
  } catch (const ProofFormatError& e) {
    throw InputError(std::string("bundle: ") + e.what());
  }
}

py::dict py_inspect(const py::bytes& data) {
  const std::vector<unsigned char> bytes = to_vector(data);
  const Inspected r = call_library([&] { return inspect(bytes); });
  py::dict d;
  d["nnproof_version"] = NNPROOF_VERSION;
  d["kind"] = "inference";
  d["version"] = r.header.version;
  d["field"] = std::string(field_name(r.header.field));
  d["batch"] = r.batch;
  d["dims"] = r.header.dims;
  d["soundness_bits"] = r.bits;
  d["proof_bytes"] = r.proof_bytes;
  d["chunks"] = 1;  // `nnproof inspect --json`'s keys: a plain bundle is one proof of the whole batch
  d["chunk_batches"] = std::vector<std::size_t>{r.batch};
  d["outputs"] = to_int_rows(r.outputs, r.n_out);
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
  m.def("inspect", &py_inspect, py::arg("bundle"), "The header and claimed outputs of an inference bundle.");
  bind_inference(m);
}

}  // namespace nnproof::python
