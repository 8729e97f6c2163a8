// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs the built nnproof binary ($NNPROOF_BIN, set by ctest) with arguments, for the CLI tests.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace nnproof::testing {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
};

inline CliRun run_cli(const std::string& args) {
  const char* bin = std::getenv("NNPROOF_BIN");
  const std::string cmd = std::string(bin ? bin : "nnproof") + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace nnproof::testing
