// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared pieces of the nnproof subcommands: loading a problem, choosing an engine, field dispatch,
// progress on a terminal, and the exit codes of DESIGN.md (0 ok, 1 rejected, 2 bad usage or input).
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "host/npy.hpp"
#include "host/prover.hpp"
#include "host/quantize.hpp"
#include "kernels/registry.hpp"

namespace nnproof::cli {

constexpr int kExitOk = 0;
constexpr int kExitRejected = 1;
constexpr int kExitBadInput = 2;

// Bad usage: printed as one line, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A model and an input batch, quantized.
struct Problem {
  FloatModel float_model;
  QuantizedModel model;
  Digest model_digest{};
  std::vector<std::int64_t> input;  // b x n_0, row per sample
  std::size_t batch = 0;
};

Problem load_problem(const std::string& model_path, const std::string& input_path, const ScaleChoice& scales);
// The same for an input read by `read_input` (the Python module's arrays: .npy bytes in memory),
// called after the model is loaded; `input_name` stands for its path in the messages.
Problem load_problem(const std::string& model_path, const std::function<NpyArray()>& read_input,
                     const std::string& input_name, const ScaleChoice& scales);

FieldId parse_field(const std::string& name);

// The field a command proves in: --field when given (`flag`, a field name, else empty), else the
// model's nnproof.field metadata (what `nnproof quantize` chose), else m61. m61-interactive is
// refused unless `interactive` (proof files need >= 100 bits).
FieldId choose_field(const std::string& flag, const FloatModel& model, bool interactive = false);
// --field's value checked before any work (UsageError for an unknown name or, unless `interactive`,
// m61-interactive); nullopt when the flag was not given.
std::optional<FieldId> parse_field_flag(const std::string& flag, bool interactive = false);

// Calls fn.template operator()<Cfg>() for the configuration of `field`.
template <class Fn>
decltype(auto) with_field(FieldId field, Fn&& fn) {
  switch (field) {
    case FieldId::m61:
      return fn.template operator()<M61>();
    case FieldId::m127:
      return fn.template operator()<M127>();
    case FieldId::m61_interactive:
      return fn.template operator()<M61Interactive>();
  }
  throw UsageError("unknown field");
}

// The same for the fields a proof file may hold (m61, m127).
template <class Fn>
decltype(auto) with_file_field(FieldId field, Fn&& fn) {
  if (field == FieldId::m61_interactive)
    throw UsageError("m61-interactive is for interactive mode only (nnproof interactive); use m61 or m127");
  if (field == FieldId::m127) return fn.template operator()<M127>();
  return fn.template operator()<M61>();
}

template <class F>
std::vector<F> to_field(const std::vector<std::int64_t>& v) {
  std::vector<F> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = F::from_int(v[i]);
  return out;
}

// The statement of a loaded problem in the field of Cfg, outputs not yet filled in.
template <class Cfg>
Statement<Cfg> make_statement(const Problem& p) {
  return sample_statement<Cfg>(p.model, p.model_digest, p.input, 0, p.batch);
}

// Exact outputs (field elements) as floats: centered / s_Z(L), then the model's final op.
template <class F>
std::vector<double> dequantize_outputs(const QuantizedModel& model, const std::vector<F>& outputs);
// The same of exact outputs already centered (inspect's view of a bundle).
std::vector<double> dequantize_outputs(const QuantizedModel& model, const std::vector<i128>& outputs);

// Progress lines on stderr when it is a terminal; nothing in CI logs or pipes.
ProgressFn terminal_progress();

// An exact integer in decimal (JSON carries values beyond 2^53 as such strings).
std::string to_decimal(i128 x);

std::vector<unsigned char> read_file_prefix(const std::string& path, std::size_t max_bytes);
// A proof path the client named must be a readable regular file (UsageError, exit 2, otherwise):
// what the file holds is the server's, but a missing or unreadable path is the client's mistake.
void check_proof_path(const std::string& path);

// Output files, checked before any work and written atomically: each is written to a temporary
// file in its own directory (so a rename can replace the path in one step) and renamed onto its
// path by commit(). A run that fails or is rejected before commit() leaves no partial or stale
// file: its temporaries are removed, and whatever the user had at those paths stays untouched.
class OutputFiles {
 public:
  // Checks every (path, flag) pair with a non-empty path: its directory exists and is writable,
  // the path is not a directory or a device, and no path is given twice. UsageError otherwise.
  explicit OutputFiles(const std::vector<std::pair<std::string, std::string>>& paths = {});
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  ~OutputFiles();
  // Runs write(tmp) on a fresh temporary file beside `path`. A failure removes the temporary and
  // throws UsageError naming `path`.
  void stage(const std::string& path, const std::function<void(const std::string& tmp)>& write);
  void stage_bytes(const std::string& path, const std::vector<unsigned char>& bytes);
  // Renames every staged file onto its path.
  void commit();

 private:
  std::vector<std::pair<std::string, std::string>> staged_;  // (path, temporary)
};

// Checks that `path` can be written (as OutputFiles does), naming `flag` in the error.
void check_output_path(const std::string& path, const std::string& flag);

// One file written atomically (OutputFiles with one entry).
void write_file(const std::string& path, const std::vector<unsigned char>& bytes);

}  // namespace nnproof::cli
