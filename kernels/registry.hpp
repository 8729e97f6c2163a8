// SPDX-License-Identifier: Apache-2.0
#pragma once
// Engines by name: the one list that the CLI (--engine), the tests and the benchmarks read. A new
// engine is a line in kEngines, a case in make_engine and a factory beside its code.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine/engine.hpp"

namespace nnproof {

enum class EngineId { automatic, reference, cpu, cuda, thrust_omp };

struct EngineEntry {
  EngineId id;
  std::string_view name;
};

inline constexpr std::array<EngineEntry, 5> kEngines{{{EngineId::automatic, "auto"},
                                                      {EngineId::reference, "reference"},
                                                      {EngineId::cpu, "cpu"},
                                                      {EngineId::cuda, "cuda"},
                                                      {EngineId::thrust_omp, "thrust-omp"}}};

// A name that names no engine, or one this build or machine cannot run (cuda without nvcc at build
// time or without a device): a usage error, one line that says what to use instead.
struct EngineChoiceError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// "auto, reference, cpu, cuda or thrust-omp", for help and error messages.
std::string engine_names();

// The engine a name stands for. Throws EngineChoiceError for an unknown name or for cuda in a
// build without CUDA; it touches no CUDA, so it may run before a fork.
EngineId parse_engine_name(std::string_view name);

// Why the named engine cannot run here (empty when it can): "built without CUDA: ...", "no CUDA
// device (...)". Queries the device for cuda (it starts CUDA); the others need nothing.
std::string engine_unavailable_reason(EngineId id);

// The engines other than `auto` that can run here, by name, in the order of kEngines.
std::vector<std::string_view> runnable_engines();

// The work of a proof for `auto`'s choice: the multiply-adds of its dense layers' forward pass
// (batch x the sum of rows x cols). Structured layers run on the host in every engine.
std::size_t dense_work(const QuantizedModel& model, std::size_t batch);

// Below this much dense work `auto` picks the cpu engine even where a GPU is present: a fresh
// process pays CUDA's start and cuBLAS's load (~0.3-0.5 s, an estimate: no GPU has measured it
// yet), which the cpu engine's whole proof undercuts for smaller problems (it proves the TIMIT
// shape, 12 M weights, at ~25 G multiply-adds per second on 2 cores). 2^35 (~34 G multiply-adds, a
// TIMIT proof of batch ~2800) until a GPU measures the crossover; NNPROOF_CUDA_MIN_WORK overrides
// it (0: cuda whenever a device is usable).
std::size_t cuda_min_work();

// Sets the threads used by OpenMP and OpenBLAS (0 = leave the defaults), then makes the engine.
// `auto` is cuda where device 0 is usable, cuBLAS loads and `work` (dense_work; unknown: the
// largest) reaches cuda_min_work(), else cpu (with a note on stderr when a device is present but
// cuBLAS is not). Throws EngineChoiceError as above, or when cuda has no device.
template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_engine(std::string_view name, int threads = 0, std::size_t work = SIZE_MAX);

}  // namespace nnproof
