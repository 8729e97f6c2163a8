#include "host/cli/commands.hpp"

namespace nnproof::cli {

void add_scale_options(CLI::App& cmd, ScaleOptions& s) {
  cmd.add_option("--alpha", s.alpha, "input scale (default: the model's nnproof.alpha metadata, else 1)");
  cmd.add_option("--beta", s.beta, "weight scale (default: the model's nnproof.beta metadata, else 1)");
}

}  // namespace nnproof::cli
