// SPDX-License-Identifier: Apache-2.0
#pragma once
// Each subcommand registers itself on the app; its callback stores the exit code.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace nnproof::cli {

void add_prove_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_inspect_command(CLI::App& app, int& exit_code);
void add_interactive_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_train_command(CLI::App& app, int& exit_code);
// prove-training and verify-training.
void add_training_proof_commands(CLI::App& app, int& exit_code);
// serve and query: proving as a service (docs/SERVICE.md).
void add_serve_command(CLI::App& app, int& exit_code);
void add_query_command(CLI::App& app, int& exit_code);

// Adds --alpha / --beta to a subcommand.
struct ScaleOptions {
  std::optional<double> alpha, beta;
};
void add_scale_options(CLI::App& cmd, ScaleOptions& s);

// Adds --engine (the names make_engine takes) and --threads to a subcommand that runs a prover.
void add_engine_options(CLI::App& cmd, std::string& engine, int& threads);
// Adds --threads: a positive number of worker threads; 0, the default when it is absent, means all
// cores. 0 or a negative value given on the command line is refused (exit 2).
void add_threads_option(CLI::App& cmd, int& threads);

}  // namespace nnproof::cli
