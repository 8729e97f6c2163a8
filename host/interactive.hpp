// SPDX-License-Identifier: Apache-2.0
#pragma once
// Interactive mode (PROTOCOL.md section 6): the verifier draws every challenge from the OS CSPRNG
// after the prover's previous message. The parties talk over a pair of file descriptors (pipes or
// a socket), in one process (two threads) or in two.
#include <functional>
#include <memory>
#include <stdexcept>

#include "kernels/engine/engine.hpp"
#include "verifier/verifier.hpp"

namespace nnproof {

// The other party closed the channel, or sent bytes that are not a field element.
struct ChannelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// 32 bytes from getrandom(2), mapped to K as the transcript's bytes are.
template <class K>
K csprng_challenge();

// Prover side: sends the outputs, then answers the challenges. `in_fd` carries challenges,
// `out_fd` carries messages.
template <class Cfg>
void serve_interactive_prover(Engine<Cfg>& engine, const QuantizedModel& model,
                              const std::vector<typename Cfg::F>& input, std::size_t batch, int in_fd, int out_fd);

// Verifier side: receives the outputs, then runs the protocol. On acceptance `outputs` holds the
// verified outputs (b x n_L, row per sample).
template <class Cfg>
Verdict run_interactive_verifier(const QuantizedModel& model, const std::vector<typename Cfg::F>& input,
                                 std::size_t batch, int in_fd, int out_fd, std::vector<typename Cfg::F>& outputs);

// Both parties in this process, the prover on a thread, over a pipe pair.
template <class Cfg>
Verdict interactive_in_process(Engine<Cfg>& engine, const QuantizedModel& model,
                               const std::vector<typename Cfg::F>& input, std::size_t batch,
                               std::vector<typename Cfg::F>& outputs);

// The prover in a forked child process, the verifier here, over a pipe pair.
template <class Cfg>
Verdict interactive_two_processes(Engine<Cfg>& engine, const QuantizedModel& model,
                                  const std::vector<typename Cfg::F>& input, std::size_t batch,
                                  std::vector<typename Cfg::F>& outputs);

// The same with the prover's engine made in the child, after the fork: a child cannot use CUDA
// once its parent has initialized it (cudaGetDeviceCount, as `--engine auto` asks, is enough), nor
// libgomp's threads once they exist. The CLI passes its engine this way. If the child cannot make
// its engine, it prints the reason to stderr and the verifier sees the channel close.
template <class Cfg>
using EngineFactory = std::function<std::unique_ptr<Engine<Cfg>>()>;
template <class Cfg>
Verdict interactive_two_processes(const EngineFactory<Cfg>& make_engine, const QuantizedModel& model,
                                  const std::vector<typename Cfg::F>& input, std::size_t batch,
                                  std::vector<typename Cfg::F>& outputs);

}  // namespace nnproof
