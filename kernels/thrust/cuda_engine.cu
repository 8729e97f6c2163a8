// SPDX-License-Identifier: Apache-2.0
// The CUDA build of kernels/thrust/thrust_engine.inl: the `cuda` engine. Thrust runs the functors on the
// device; the int8 limb GEMM runs on tensor cores through cuBLAS (int8 inputs, int32 accumulation).
#define NNP_THRUST_NS cuda_backend

#include <cuda_runtime.h>
#include <thrust/execution_policy.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cub/util_allocator.cuh>
#include <functional>
#include <string>

#include "kernels/thrust/cublas_library.hpp"
#include "kernels/thrust/device_info.hpp"
#include "kernels/thrust/host_syncs.hpp"
#include "kernels/thrust/thrust_engine.hpp"

// The caching allocator tags every block with the legacy default stream, on which the engine runs
// all its work; with per-thread default streams, blocks could be reused across unordered streams.
#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
#error "the cuda engine assumes the legacy default stream (do not build with --default-stream per-thread)"
#endif

namespace nnproof::cuda_backend {

constexpr const char* kEngineName = "cuda";

[[noreturn]] void fail(const char* file, int line, const char* call, const std::string& why) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " + why);
}
#define NNP_CUDA_CHECK(call)                                                                                     \
  do {                                                                                                           \
    const cudaError_t err_ = (call);                                                                             \
    if (err_ != cudaSuccess) ::nnproof::cuda_backend::fail(__FILE__, __LINE__, #call, cudaGetErrorString(err_)); \
  } while (0)
#define NNP_CUBLAS_CHECK(call)                                                                                  \
  do {                                                                                                          \
    const cublasStatus_t st_ = (call);                                                                          \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                                           \
      ::nnproof::cuda_backend::fail(__FILE__, __LINE__, #call, ::nnproof::cublas_library().status_string(st_)); \
  } while (0)

// One cuBLAS handle per thread, created on first use and destroyed at thread exit (RAII).
class CublasHandle {
 public:
  CublasHandle() { NNP_CUBLAS_CHECK(cublas_library().create(&h_)); }
  ~CublasHandle() { cublas_library().destroy(h_); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

cublasHandle_t cublas() {
  thread_local CublasHandle handle;
  return handle.get();
}

// cuBLAS reads the operands where they are: no copies of them (ProofMemory).
constexpr std::size_t kGemmCopyBytes = 0;

// Row-major C (rows x n) = W (rows x inner) * T^T is column-major C^T (n x rows) = T W^T: the "TN"
// form of cuBLAS's int8 tensor-core GEMMs, with T (n x inner, row-major) read as the transposed
// inner x n column-major operand and W (rows x inner, row-major) as the inner x rows one. inner and
// n, and rows, are multiples of 16 (the caller pads with zeros). int8 in, int32 out, exact int32 sums.
void gemm_s8(const std::int8_t* w, const std::int8_t* t, std::int32_t* c, std::size_t rows, std::size_t inner,
             std::size_t n) {
  const std::int32_t one = 1, zero = 0;
  NNP_CUBLAS_CHECK(cublas_library().gemm_ex(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n),
                                            static_cast<int>(rows), static_cast<int>(inner), &one, t, CUDA_R_8I,
                                            static_cast<int>(inner), w, CUDA_R_8I, static_cast<int>(inner), &zero, c,
                                            CUDA_R_32I, static_cast<int>(n), CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT));
  NNP_CUDA_CHECK(cudaGetLastError());
}

// Device memory from CUB's caching allocator, for the engine's tables (device_allocate) and for
// Thrust's temporary storage (every transform_reduce and reduce_by_key asks for some): without it
// each table and each sum-check round paid a cudaMalloc and a cudaFree, and cudaFree synchronizes
// the device. Power-of-two bins from 512 B to 2 GiB (CUB's default bins stop at 2 MB, and larger
// blocks are not cached: every table of a proof is larger), at most 4 GiB of free blocks kept.
// Process-wide and never destroyed (skip_cleanup): its blocks go with the CUDA context at exit,
// after which freeing them would fail.
cub::CachingDeviceAllocator& device_cache() {
  static auto* c = new cub::CachingDeviceAllocator(/*bin_growth=*/2, /*min_bin=*/9, /*max_bin=*/31,
                                                   /*max_cached_bytes=*/std::size_t{4} << 30, /*skip_cleanup=*/true);
  return *c;
}

void* device_allocate(std::size_t bytes) {
  void* p = nullptr;
  NNP_CUDA_CHECK(device_cache().DeviceAllocate(&p, bytes));
  return p;
}
// Called from destructors, so it must not throw. It fails only when the context is broken or an
// earlier error is still pending (CUDA calls return those), which the failing call reports; the
// block is then not released, a loss of its memory until exit.
void device_free(void* p) noexcept { static_cast<void>(device_cache().DeviceFree(p)); }

// The input's upload (ThrustEngine::input_table, through upload_input) from page-locked memory: the
// rows are copied (by all the host's threads, 4 MiB at a time) into a pinned staging buffer that the
// backend keeps, and each chunk's DMA is queued on the legacy default stream as soon as it is
// copied, so the host does not wait for the transfer (a pageable cudaMemcpy copies through the
// driver's own small staging buffers at a fraction of the bus's rate and returns only when done);
// the transpose queued next is ordered after it. The buffer is reused only once the upload that
// last read it has finished (an event), so the wait, when there is one, is at the next proof's
// upload: counted there as the host sync.
class PinnedStaging {
 public:
  PinnedStaging() = default;
  PinnedStaging(const PinnedStaging&) = delete;
  PinnedStaging& operator=(const PinnedStaging&) = delete;
  ~PinnedStaging() {  // at thread exit: errors (a context already gone) are ignored
    if (done_) cudaEventDestroy(done_);
    if (buffer_) cudaFreeHost(buffer_);
  }

  void upload(void* to, const void* from, std::size_t bytes) {
    if (done_) NNP_CUDA_CHECK(cudaEventSynchronize(done_));  // the last upload has left the buffer
    if (bytes > capacity_) {
      if (buffer_) NNP_CUDA_CHECK(cudaFreeHost(buffer_));
      buffer_ = nullptr;
      capacity_ = 0;
      NNP_CUDA_CHECK(cudaMallocHost(&buffer_, bytes));
      capacity_ = bytes;
    }
    // Chunk by chunk: the DMA of one chunk runs while the host copies the next.
    for (std::size_t at = 0; at < bytes; at += kChunk) {
      const std::size_t n = bytes - at < kChunk ? bytes - at : kChunk;
      char* staged = static_cast<char*>(buffer_) + at;
      copy_in_parallel(staged, static_cast<const char*>(from) + at, n);
      NNP_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(to) + at, staged, n, cudaMemcpyHostToDevice, cudaStreamLegacy));
    }
    if (!done_) NNP_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    NNP_CUDA_CHECK(cudaEventRecord(done_, cudaStreamLegacy));
  }

 private:
  static constexpr std::size_t kChunk = std::size_t{4} << 20;
  // One host thread's memcpy reaches a fraction of the memory's bandwidth: slices of 256 KiB.
  static void copy_in_parallel(char* to, const char* from, std::size_t bytes) {
    constexpr std::size_t kSlice = std::size_t{256} << 10;
    const auto slices = static_cast<std::ptrdiff_t>((bytes + kSlice - 1) / kSlice);
#pragma omp parallel for schedule(static)
    for (std::ptrdiff_t i = 0; i < slices; ++i) {
      const std::size_t at = static_cast<std::size_t>(i) * kSlice;
      std::memcpy(to + at, from + at, bytes - at < kSlice ? bytes - at : kSlice);
    }
  }

  void* buffer_ = nullptr;
  std::size_t capacity_ = 0;
  cudaEvent_t done_ = nullptr;
};

class CachedTemporaries {
 public:
  using value_type = char;
  char* allocate(std::ptrdiff_t bytes) { return static_cast<char*>(device_allocate(static_cast<std::size_t>(bytes))); }
  void deallocate(char* p, std::size_t) noexcept { device_free(p); }
};

// The execution policies of the engine's Thrust calls: exec() for those that return a value (the
// host waits for it) or must have finished when they return; exec_nosync() for launches that are
// only stream-ordered (the legacy default stream orders every kernel, copy and cuBLAS call of the
// engine), so that the host queues the next one without waiting (host_syncs.hpp).
inline auto exec() {
  thread_local CachedTemporaries temporaries;
  note_host_sync();
  return thrust::cuda::par(temporaries);
}
inline auto exec_nosync() {
  thread_local CachedTemporaries temporaries;
  return thrust::cuda::par_nosync(temporaries);
}

}  // namespace nnproof::cuda_backend

#include "kernels/thrust/transfers.hpp"  // after exec_nosync(), which it calls

namespace nnproof::cuda_backend {

// [first, first + n) of host memory as a new table, through the thread's pinned staging buffer.
template <class T>
DeviceVector<T> upload_input(const T* first, std::size_t n) {
  thread_local PinnedStaging staging;
  note_host_sync();  // the wait for the staging buffer's last upload, if it is still running
  note_upload(n * sizeof(T));
  auto t = sized_table<T>(n);
  staging.upload(raw(t), first, n * sizeof(T));
  return t;
}

}  // namespace nnproof::cuda_backend

#include "kernels/thrust/thrust_engine.inl"

namespace nnproof {

bool thrust_engines_built() { return true; }

// RAII for the two events that time a cuBLAS call.
class EventPair {
 public:
  EventPair() {
    NNP_CUDA_CHECK(cudaEventCreate(&start));
    NNP_CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~EventPair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  cudaEvent_t start = nullptr, stop = nullptr;
};

double cuda_seconds(const std::function<void()>& work) {
  EventPair ev;
  NNP_CUDA_CHECK(cudaEventRecord(ev.start));
  work();
  NNP_CUDA_CHECK(cudaEventRecord(ev.stop));
  NNP_CUDA_CHECK(cudaEventSynchronize(ev.stop));
  float ms = 0;
  NNP_CUDA_CHECK(cudaEventElapsedTime(&ms, ev.start, ev.stop));
  return ms / 1000.0;
}

double cuda_sgemm_seconds(std::size_t rows, std::size_t inner, std::size_t n) {
  using namespace cuda_backend;
  auto w = NNP_THRUST(thrust::device_vector<float>(rows * inner, 0.5f));
  auto y = NNP_THRUST(thrust::device_vector<float>(inner * n, 0.25f));
  auto c = NNP_THRUST(thrust::device_vector<float>(rows * n));
  const float one = 1, zero = 0;
  const auto sgemm = [&] {
    NNP_CUBLAS_CHECK(cublas_library().sgemm(
        cublas(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(rows), static_cast<int>(inner), &one,
        raw(y), static_cast<int>(n), raw(w), static_cast<int>(inner), &zero, raw(c), static_cast<int>(n)));
  };
  sgemm();  // untimed: the first call also creates the cuBLAS handle and loads its kernels
  return cuda_seconds(sgemm);
}

double cuda_copy_seconds(std::size_t bytes) {
  using namespace cuda_backend;
  auto from = NNP_THRUST(thrust::device_vector<char>(bytes, 1));
  auto to = NNP_THRUST(thrust::device_vector<char>(bytes));
  const auto copy = [&] { NNP_CUDA_CHECK(cudaMemcpy(raw(to), raw(from), bytes, cudaMemcpyDeviceToDevice)); };
  copy();  // untimed: first touch
  return cuda_seconds(copy);
}

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_cuda_engine() {
  const DeviceInfo dev = query_cuda_devices();
  if (dev.count == 0) throw CudaError("no CUDA device (" + dev.why_none + ")");
  cublas_library();  // a missing cuBLAS fails here, in one line, not at the first GEMM
  return std::make_unique<cuda_backend::ThrustEngine<Cfg>>();
}

#define NNP_INSTANTIATE_MAKE_CUDA_ENGINE(Cfg) template std::unique_ptr<Engine<Cfg>> make_cuda_engine<Cfg>();
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE_MAKE_CUDA_ENGINE)
#undef NNP_INSTANTIATE_MAKE_CUDA_ENGINE

}  // namespace nnproof
