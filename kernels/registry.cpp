// SPDX-License-Identifier: Apache-2.0
#include "kernels/registry.hpp"

#include <cerrno>
#include <cstdlib>
#include <iostream>

#include "kernels/cpu/cpu_engine.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "kernels/thrust/device_info.hpp"
#include "kernels/thrust/thrust_engine.hpp"

namespace nnproof {

std::string engine_names() {
  std::string out;
  for (std::size_t i = 0; i < kEngines.size(); ++i) {
    if (i > 0) out += i + 1 == kEngines.size() ? " or " : ", ";
    out += kEngines[i].name;
  }
  return out;
}

EngineId parse_engine_name(std::string_view name) {
  for (const EngineEntry& e : kEngines) {
    if (e.name != name) continue;
    if (e.id == EngineId::cuda && !thrust_engines_built())
      throw EngineChoiceError(
          "--engine cuda: this nnproof was built without CUDA (no nvcc at build time); use --engine cpu");
    return e.id;
  }
  throw EngineChoiceError("unknown engine '" + std::string(name) + "'; use " + engine_names());
}

std::string engine_unavailable_reason(EngineId id) {
  if (id != EngineId::cuda && id != EngineId::thrust_omp) return {};
  if (!thrust_engines_built()) return "built without CUDA: no Thrust engines";
  if (id == EngineId::thrust_omp) return {};
  const DeviceInfo dev = query_cuda_devices();
  return dev.count == 0 ? "no CUDA device (" + dev.why_none + ")" : std::string{};
}

std::vector<std::string_view> runnable_engines() {
  std::vector<std::string_view> out;
  for (const EngineEntry& e : kEngines)
    if (e.id != EngineId::automatic && engine_unavailable_reason(e.id).empty()) out.push_back(e.name);
  return out;
}

std::size_t dense_work(const QuantizedModel& model, std::size_t batch) {
  std::size_t weights = 0;
  for (const QuantizedLayer& l : model.layers)
    if (!l.structured()) weights += l.rows * l.cols;
  return weights * batch;
}

std::size_t cuda_min_work() {
  if (const char* env = std::getenv("NNPROOF_CUDA_MIN_WORK")) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(env, &end, 10);
    const bool digits_only = *env >= '0' && *env <= '9' && *end == '\0';  // strtoull takes "-1", " 7", "+7"
    if (digits_only && errno != ERANGE) return static_cast<std::size_t>(v);
    throw EngineChoiceError(std::string("NNPROOF_CUDA_MIN_WORK='") + env +
                            "' is not a number of multiply-adds; unset it or use e.g. 0 or 34359738368");
  }
  return std::size_t{1} << 35;
}

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_engine(std::string_view name, int threads, std::size_t work) {
  const EngineId id = parse_engine_name(name);
  set_cpu_threads(threads);
  switch (id) {
    case EngineId::reference:
      return make_reference_engine<Cfg>();
    case EngineId::cpu:
      return make_cpu_engine<Cfg>();
    case EngineId::thrust_omp:
      return make_thrust_omp_engine<Cfg>();
    case EngineId::cuda:
      if (const std::string why = engine_unavailable_reason(id); !why.empty())
        throw EngineChoiceError("--engine cuda: " + why + "; use --engine cpu");
      return make_cuda_engine<Cfg>();
    case EngineId::automatic:
      break;
  }
  // auto: the cpu engine in a build without CUDA and for small work; else query the device once
  // (it starts CUDA).
  if (!thrust_engines_built() || work < cuda_min_work() || query_cuda_devices().count == 0)
    return make_cpu_engine<Cfg>();
  if (const std::string why = cublas_load_error(); !why.empty()) {  // an operator expects the GPU: say why not
    std::cerr << "nnproof: note: --engine auto uses the cpu engine: " << why << "\n";
    return make_cpu_engine<Cfg>();
  }
  return make_cuda_engine<Cfg>();
}

#define NNP_INSTANTIATE_MAKE_ENGINE(Cfg) \
  template std::unique_ptr<Engine<Cfg>> make_engine<Cfg>(std::string_view, int, std::size_t);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE_MAKE_ENGINE)

}  // namespace nnproof
