// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs another nnproof command as a child process of this binary: training jobs on the server,
// verify-training in `query --train` (the commands' own code, checks and messages).
#include <functional>
#include <string>
#include <vector>

namespace nnproof::service {

// Runs /proc/self/exe with `args` and waits. Its stdout goes line by line to on_line when given,
// else to this process's stdout; its stderr is appended to `log` when given, else inherited. The
// child starts with an empty signal mask and default SIGPIPE (the server blocks SIGTERM in its
// threads and ignores SIGPIPE). Returns the exit status, 128 + the signal if killed, -1 if it
// could not start.
int run_self(const std::vector<std::string>& args, const std::function<void(const std::string&)>& on_line = {},
             const std::string& log = "");

}  // namespace nnproof::service
