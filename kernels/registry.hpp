// SPDX-License-Identifier: Apache-2.0
#pragma once
// Engines by name: the one list that the CLI (--engine), the tests and the benchmarks read. A new
// engine is a line in kEngines, a case in make_engine and a factory beside its code.
#include <array>
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

// Sets the threads used by OpenMP and OpenBLAS (0 = leave the defaults), then makes the engine.
// `auto` is cuda where device 0 is usable and cuBLAS loads, else cpu (with a note on stderr when
// a device is present but cuBLAS is not). Throws EngineChoiceError as above, or when cuda has no
// device.
template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_engine(std::string_view name, int threads = 0);

}  // namespace nnproof
