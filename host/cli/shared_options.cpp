// SPDX-License-Identifier: Apache-2.0
#include <charconv>
#include <string>

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
  add_threads_option(cmd, threads);
}

void add_threads_option(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads, "worker threads, at least 1 (default: all cores)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            int n = 0;
            const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
            if (ec != std::errc{} || end != s.data() + s.size() || n <= 0)
              return "'" + s +
                     "' is not a positive number of threads; give 1 or more, or leave --threads out to use all cores";
            return {};
          },
          "N"));
}

}  // namespace nnproof::cli
