// SPDX-License-Identifier: Apache-2.0
#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"

namespace nnproof::cli {

void add_scale_options(CLI::App& cmd, ScaleOptions& s) {
  cmd.add_option("--alpha", s.alpha, "input scale (default: the model's nnproof.alpha metadata, else 1)");
  cmd.add_option("--beta", s.beta, "weight scale (default: the model's nnproof.beta metadata, else 1)");
}

void add_engine_options(CLI::App& cmd, std::string& engine, int& threads) {
  cmd.add_option("--engine", engine,
                 engine_names() + " (auto, the default: cuda with a device for large proofs, else cpu)");
  cmd.add_option("--threads", threads, "worker threads (default: all cores)");
}

}  // namespace nnproof::cli
