// SPDX-License-Identifier: Apache-2.0
// nnproof: prove and verify neural-network inference (see README.md).
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/memory.hpp"
#include "nnproof/version.hpp"
#include "verifier/proof.hpp"

int main(int argc, char** argv) {
  using namespace nnproof::cli;
  CLI::App app{"nnproof: verifiable neural-network inference (SafetyNets)", "nnproof"};
  app.require_subcommand(1);
  // serialize_bundle writes kProofVersion; parse_header reads kOldestProofVersion .. kProofVersion.
  std::string reads;
  for (std::uint32_t v = nnproof::kOldestProofVersion; v <= nnproof::kProofVersion; ++v)
    reads += (reads.empty() ? "v" : ", v") + std::to_string(v);
  app.set_version_flag("--version", "nnproof " NNPROOF_VERSION " (proof format: writes v" +
                                        std::to_string(nnproof::kProofVersion) + ", reads " + reads + ")");
  int exit_code = kExitOk;
  add_prove_command(app, exit_code);
  add_verify_command(app, exit_code);
  add_inspect_command(app, exit_code);
  add_interactive_command(app, exit_code);
  add_bench_command(app, exit_code);
  add_quantize_command(app, exit_code);
  add_train_command(app, exit_code);
  add_training_proof_commands(app, exit_code);
  add_serve_command(app, exit_code);
  add_query_command(app, exit_code);
  // The commands that build a proof's tables, once or repeatedly, in one process: its freed tables
  // reused, not faulted in afresh (host/memory.hpp). Not `serve`: its jobs run on worker threads,
  // whose malloc arenas map the largest tables anyway, and it would hold what they keep for good.
  for (const char* name : {"prove", "bench", "train", "prove-training", "quantize"})
    app.get_subcommand(name)->parse_complete_callback([] { nnproof::keep_freed_memory(); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A bad flag or value is the client's mistake: one line, exit 2.
    std::fprintf(stderr, "nnproof: error: %s; see nnproof <command> --help\n", e.what());
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    // Memory the client's own machine could not give (exit 2), never a crash.
    std::fflush(stdout);
    std::fprintf(stderr,
                 "nnproof: error: out of memory (std::bad_alloc); `nnproof prove --dry-run` estimates what a batch "
                 "needs, and prove --max-memory proves it in chunks that fit\n");
    return kExitBadInput;
  } catch (const std::exception& e) {
    // Every anticipated failure (bad files, usage, scales, magnitudes) is one line and exit 2.
    std::fflush(stdout);
    std::fprintf(stderr, "nnproof: error: %s\n", e.what());
    return kExitBadInput;
  }
  return exit_code;
}
