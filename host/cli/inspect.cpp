// SPDX-License-Identifier: Apache-2.0
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "nnproof/version.hpp"

namespace nnproof::cli {
namespace {

struct InspectOptions {
  std::string proof;
  bool json = false;
};

template <class Cfg>
int print_bundle(const InspectOptions& o, const std::vector<unsigned char>& bytes, const ProofShape& shape) {
  ProofBundle<Cfg> b = parse_bundle<Cfg>(bytes, shape);
  const std::size_t n_out = shape.dims.back();
  const double bits = shape.soundness_bits(Cfg::kId);
  const std::size_t proof_bytes = b.messages.size() * Cfg::K::kBytes;
  std::vector<std::vector<std::string>> outputs(shape.batch);
  for (std::size_t k = 0; k < shape.batch; ++k)
    for (std::size_t j = 0; j < n_out; ++j) outputs[k].push_back(to_decimal(b.outputs[k * n_out + j].centered()));
  if (o.json) {
    nlohmann::json j;
    j["nnproof_version"] = NNPROOF_VERSION;
    j["field"] = std::string(field_name(Cfg::kId));
    j["batch"] = shape.batch;
    j["dims"] = shape.dims;
    j["soundness_bits"] = bits;
    j["proof_bytes"] = proof_bytes;
    j["outputs"] = outputs;
    fmt::print("{}\n", j.dump());
    return kExitOk;
  }
  std::string dims;
  for (auto d : shape.dims) dims += (dims.empty() ? "" : "-") + std::to_string(d);
  fmt::print("field:          {}\nbatch:          {}\ndims:           {}\nsoundness bits: {:.1f}\n",
             field_name(Cfg::kId), shape.batch, dims, bits);
  fmt::print(
      "proof bytes:    {} ({} elements, outputs excluded)\nfile bytes:     {}\noutputs (exact, centered; as the file "
      "claims them, unverified until nnproof verify accepts it):\n",
      proof_bytes, b.messages.size(), bytes.size());
  for (std::size_t k = 0; k < shape.batch; ++k) {
    std::string row;
    for (const auto& s : outputs[k]) row += (row.empty() ? "" : " ") + s;
    fmt::print("  [{}] {}\n", k, row);
  }
  return kExitOk;
}

int run_inspect(const InspectOptions& o) {
  std::error_code ec;
  const std::uintmax_t file_size = std::filesystem::file_size(o.proof, ec);
  if (ec) throw UsageError(o.proof + ": cannot open: " + ec.message());
  try {
    // No model at hand: take the header's shape, but only after checking the size it implies
    // against the file's real length, so nothing is allocated beyond what the file holds.
    auto fixed = read_file_prefix(o.proof, kFixedHeaderBytes);
    std::size_t depth = fixed.size() == kFixedHeaderBytes ? fixed[112] | fixed[113] << 8 | fixed[114] << 16 |
                                                                static_cast<std::size_t>(fixed[115]) << 24
                                                          : 0;
    auto head = read_file_prefix(o.proof, bundle_header_size(std::min(depth, kMaxDepth)));
    BundleHeader h = parse_header(head, kAnyDepth);
    const ProofShape shape{h.dims, h.batch};
    const std::size_t want = bundle_size(h.field, shape);
    if (file_size != want)
      throw ProofFormatError((file_size < want ? "truncated proof: " : "trailing bytes after the proof: ") +
                             std::to_string(file_size) + " bytes, the header implies " + std::to_string(want));
    auto bytes = read_file_prefix(o.proof, want);
    if (h.field == FieldId::m127) return print_bundle<M127>(o, bytes, shape);
    return print_bundle<M61>(o, bytes, shape);
  } catch (const ProofFormatError& e) {
    throw UsageError(o.proof + ": " + e.what());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "show a proof bundle's field, shape, soundness, size and outputs");
  cmd->add_option("proof", o->proof, "proof bundle (.nnp)")->required();
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->callback([o, &exit_code] { exit_code = run_inspect(*o); });
}

}  // namespace nnproof::cli
