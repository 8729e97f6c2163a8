// SPDX-License-Identifier: Apache-2.0
// The OpenMP build of kernels/thrust/thrust_engine.inl: the `thrust-omp` engine. Thrust runs the functors
// on host threads; the int8 limb GEMM is computed exactly with BLAS DGEMM (int8 x 7-bit limb
// products summed in int32 range are integers far below 2^53), in the same TN layout as cuBLAS.
#define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_OMP
#define NNP_THRUST_NS thrust_omp

#include <cblas.h>
#include <thrust/system/omp/execution_policy.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "kernels/thrust/host_syncs.hpp"
#include "kernels/thrust/thrust_engine.hpp"

namespace nnproof::thrust_omp {

constexpr const char* kEngineName = "thrust-omp";

// C (rows x n) = W (rows x inner) * T^T with T (n x inner): DGEMM with B transposed, exact. It holds
// each operand and the product again in doubles: kGemmCopyBytes per entry (ProofMemory).
constexpr std::size_t kGemmCopyBytes = sizeof(double);
void gemm_s8(const std::int8_t* w, const std::int8_t* t, std::int32_t* c, std::size_t rows, std::size_t inner,
             std::size_t n) {
  std::vector<double> wd(w, w + rows * inner), td(t, t + n * inner), cd(rows * n);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(n),
              static_cast<int>(inner), 1.0, wd.data(), static_cast<int>(inner), td.data(), static_cast<int>(inner), 0.0,
              cd.data(), static_cast<int>(n));
  for (std::size_t i = 0; i < cd.size(); ++i) c[i] = static_cast<std::int32_t>(cd[i]);
}

// The execution policies of every Thrust call in the engine (the cuda build's carry a caching
// allocator for temporaries; host threads allocate cheaply). Here every call finishes before it
// returns; exec() counts a host sync where the cuda build's synchronizing policy waits
// (host_syncs.hpp), so CI measures what the cuda engine would wait for.
inline auto exec() {
  note_host_sync();
  return thrust::omp::par;
}
inline auto exec_nosync() { return thrust::omp::par; }

// The memory of the engine's tables: plain heap memory here. The allocator that calls these is the
// cuda build's, so CI runs it (under ASan too) although only the cuda build caches.
inline void* device_allocate(std::size_t bytes) { return ::operator new(bytes); }
inline void device_free(void* p) noexcept { ::operator delete(p); }

}  // namespace nnproof::thrust_omp

#include "kernels/thrust/transfers.hpp"  // after exec_nosync(), which it calls

namespace nnproof::thrust_omp {

// The input's upload (ThrustEngine::input_table): the cuda build's goes through a pinned staging
// buffer without a wait; here a plain copy, counted as that build counts it (one host sync: its wait
// for the staging buffer's previous upload).
template <class T>
DeviceVector<T> upload_input(const T* first, std::size_t n) {
  return upload<T>(first, first + n);
}

}  // namespace nnproof::thrust_omp

#include "kernels/thrust/thrust_engine.inl"

namespace nnproof {

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_thrust_omp_engine() {
  return std::make_unique<thrust_omp::ThrustEngine<Cfg>>();
}

#define NNP_INSTANTIATE_MAKE_THRUST_OMP_ENGINE(Cfg) template std::unique_ptr<Engine<Cfg>> make_thrust_omp_engine<Cfg>();
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE_MAKE_THRUST_OMP_ENGINE)
#undef NNP_INSTANTIATE_MAKE_THRUST_OMP_ENGINE

}  // namespace nnproof
