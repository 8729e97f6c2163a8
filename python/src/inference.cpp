// SPDX-License-Identifier: Apache-2.0
// prove, verify and quantize: the steps of `nnproof prove`, `verify` and `quantize`, called
// through the same library functions, with the GIL released while they run.
#include <fmt/core.h>

#include "bindings.hpp"
#include "host/calibrate.hpp"
#include "host/calibrate_range.hpp"
#include "host/cli/verify.hpp"
#include "kernels/cpu/cpu_engine.hpp"

namespace nnproof::python {
namespace {

struct Proved {
  std::vector<unsigned char> bundle;
  std::vector<double> outputs;
  std::vector<std::int64_t> labels;
  std::size_t batch = 0, classes = 0;
  std::string engine;
};

// `nnproof prove`: the field from `field` or the model's metadata, the magnitudes checked first.
Proved prove(const std::string& model, const InputSpec& in, const std::string& field_flag, const std::string& engine,
             const ScaleChoice& sc) {
  (void)cli::parse_field_flag(field_flag);
  cli::Problem p = cli::load_problem(
      model, [&] { return in.read(); }, in.name, sc);
  const FieldId field = cli::choose_field(field_flag, p.float_model);
  check_magnitudes(p.model, p.input, field);
  return cli::with_file_field(field, [&]<class Cfg>() {
    auto eng = make_engine<Cfg>(engine, 0, dense_work(p.model, p.batch));
    Statement<Cfg> st = cli::make_statement<Cfg>(p);
    ProofBundle<Cfg> bundle = prove_bundle(*eng, st);
    Proved r;
    r.bundle = serialize_bundle(bundle);
    r.outputs = cli::dequantize_outputs(p.model, st.outputs);
    r.batch = p.batch;
    r.classes = p.model.out_dim();
    r.labels = argmax_labels(st.outputs, p.batch, r.classes);
    r.engine = eng->name();
    return r;
  });
}

py::tuple py_prove(const std::string& model, const std::string& input_path, const std::optional<py::bytes>& input_npy,
                   const std::string& input_name, const std::string& field, const std::string& engine,
                   std::optional<double> alpha, std::optional<double> beta) {
  const InputSpec in = input_spec(input_path, input_npy, input_name);
  Proved r = call_library([&] { return prove(model, in, field, engine, scales(alpha, beta)); });
  py::bytes bundle(reinterpret_cast<const char*>(r.bundle.data()), r.bundle.size());
  return py::make_tuple(bundle, to_array(r.outputs, r.batch, r.classes), to_array(r.labels), r.engine);
}

// `nnproof verify` through cli::verify_proof: the same checks, the same REJECTED reasons.
py::dict py_verify(const std::string& model, const std::string& input_path, const std::optional<py::bytes>& input_npy,
                   const std::string& input_name, const py::bytes& proof, const std::string& field,
                   std::optional<double> alpha, std::optional<double> beta) {
  const InputSpec in = input_spec(input_path, input_npy, input_name);
  const std::string bytes(proof);
  std::size_t batch = 0, classes = 0;
  const cli::VerifyOutcome r = call_library([&] {
    const cli::VerifyTargets t{cli::parse_field_flag(field), "", ""};
    cli::OutputFiles files;
    cli::Problem p = cli::load_problem(
        model, [&] { return in.read(); }, in.name, scales(alpha, beta));
    batch = p.batch;
    classes = p.model.out_dim();
    // The proof is in memory: the reader hands out its prefix, as read_file_prefix does a file's.
    const cli::ProofReader read = [&](std::size_t max_bytes) {
      const std::size_t n = std::min(max_bytes, bytes.size());
      return std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    };
    return cli::verify_proof(p, read, t, files);
  });
  py::dict d;
  d["accepted"] = r.code == cli::kExitOk;
  d["reason"] = r.reason;
  if (r.code != cli::kExitOk) return d;
  d["field"] = std::string(field_name(r.field));
  d["soundness_bits"] = r.soundness_bits;
  d["outputs"] = to_array(r.outputs, batch, classes);
  d["labels"] = to_array(r.labels);
  d["exact"] = to_int_rows(r.exact, classes);
  return d;
}

// `nnproof quantize`: the scale search, then the model with the chosen scales written to `out`.
py::dict py_quantize(const std::string& model, const std::string& input_path, const std::optional<py::bytes>& input_npy,
                     const std::string& input_name, const std::optional<std::vector<std::int64_t>>& labels,
                     const std::string& field_name_, const std::string& out, int max_exponent) {
  const InputSpec in = input_spec(input_path, input_npy, input_name);
  const ScaleTrial best = call_library([&] {
    const FieldId field = cli::parse_field(field_name_);
    if (field == FieldId::m61_interactive) throw InputError("field: use m61 or m127 (the fields of proof files)");
    if (max_exponent < 0 || max_exponent > 30) throw InputError("max_exponent must be in [0, 30]");
    const FloatModel fm = import_onnx(model);
    const NpyArray x = in.read();
    if (labels && (x.shape.empty() || labels->size() != x.shape[0]))
      throw InputError(fmt::format("labels: {} labels for {} calibration samples; give one class index per sample",
                                   labels->size(), x.shape.empty() ? 0 : x.shape[0]));
    const ScaleSearch s = search_scales(fm, x, in.name, labels, field, max_exponent);
    if (!s.best)
      throw InputError(fmt::format(
          "{}: no scales alpha, beta in 2^0 .. 2^{} keep every value inside {}; try field=\"m127\" or a larger "
          "max_exponent (nnproof quantize --json lists every pair's cause)",
          in.name, max_exponent, cli::parse_field(field_name_) == FieldId::m127 ? "m127" : "m61"));
    const ScaleTrial& b = s.trials[*s.best];
    write_onnx_with_scales(model, out, b.alpha, b.beta, field, input_range(x));
    return b;
  });
  py::dict d;
  d["alpha"] = best.alpha;
  d["beta"] = best.beta;
  d["accuracy"] = best.accuracy ? py::object(py::float_(*best.accuracy)) : py::object(py::none());
  d["output_error"] = best.output_error ? py::object(py::float_(*best.output_error)) : py::object(py::none());
  d["agreement"] = best.agreement ? py::object(py::float_(*best.agreement)) : py::object(py::none());
  return d;
}

}  // namespace

void bind_inference(py::module_& m) {
  using namespace pybind11::literals;
  m.def("prove", &py_prove, "model"_a, "input_path"_a, "input_npy"_a, "input_name"_a, "field"_a, "engine"_a, "alpha"_a,
        "beta"_a, "Proves the model on the input (as `nnproof prove`): (bundle bytes, outputs, labels, engine name).");
  m.def("verify", &py_verify, "model"_a, "input_path"_a, "input_npy"_a, "input_name"_a, "proof"_a, "field"_a, "alpha"_a,
        "beta"_a,
        "Verifies a bundle (as `nnproof verify`): a dict with accepted, reason and, when accepted, the outputs.");
  m.def("quantize", &py_quantize, "model"_a, "input_path"_a, "input_npy"_a, "input_name"_a, "labels"_a, "field"_a,
        "out"_a, "max_exponent"_a, "Chooses the scales (as `nnproof quantize`) and writes the model with them to out.");
  m.def(
      "set_threads", [](int threads) { set_cpu_threads(threads); }, "threads"_a,
      "Threads of the cpu engine and the verifier (0: all cores).");
}

}  // namespace nnproof::python
