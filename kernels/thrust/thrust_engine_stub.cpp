// SPDX-License-Identifier: Apache-2.0
// Built without the CUDA toolkit: no Thrust, so neither Thrust engine exists.
#include "kernels/thrust/thrust_engine.hpp"

namespace nnproof {

bool thrust_engines_built() { return false; }

std::string cublas_load_error() { return "built without CUDA"; }

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_thrust_omp_engine() {
  throw std::runtime_error("the thrust-omp engine needs the CUDA toolkit's Thrust at build time; use --engine cpu");
}

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_cuda_engine() {
  throw std::runtime_error("this nnproof was built without CUDA (no nvcc at build time); use --engine cpu");
}

double cuda_sgemm_seconds(std::size_t, std::size_t, std::size_t) {
  throw std::runtime_error("this nnproof was built without CUDA");
}

double cuda_seconds(const std::function<void()>&) { throw std::runtime_error("this nnproof was built without CUDA"); }

double cuda_copy_seconds(std::size_t) { throw std::runtime_error("this nnproof was built without CUDA"); }

#define NNP_INSTANTIATE_MAKE_THRUST_OMP_ENGINE(Cfg) template std::unique_ptr<Engine<Cfg>> make_thrust_omp_engine<Cfg>();
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE_MAKE_THRUST_OMP_ENGINE)
#undef NNP_INSTANTIATE_MAKE_THRUST_OMP_ENGINE
#define NNP_INSTANTIATE_MAKE_CUDA_ENGINE(Cfg) template std::unique_ptr<Engine<Cfg>> make_cuda_engine<Cfg>();
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE_MAKE_CUDA_ENGINE)
#undef NNP_INSTANTIATE_MAKE_CUDA_ENGINE

}  // namespace nnproof
