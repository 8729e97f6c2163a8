// SPDX-License-Identifier: Apache-2.0
// The memory estimate is an upper bound in practice (host/memory.hpp). This binary replaces the
// global operator new and delete with a count of the bytes they hold, so a proof's heap peak is
// measured exactly: every table, vector and scratch of nnproof's own code, whichever thread
// allocates it. Not counted: what oneDNN and OpenBLAS take from malloc themselves, which the
// estimate leaves to its fixed allowance (kProcessAllowanceBytes), so the peak is held to the
// estimate less that allowance. The count is the same on every run but for a few KB of per-thread
// buffers whose lifetimes overlap differently; the margins below are megabytes.
#include <gtest/gtest.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include "host/memory.hpp"
#include "host/onnx/onnx_import.hpp"
#include "host/prover.hpp"
#include "host/quantize.hpp"
#include "kernels/registry.hpp"
#include "tests/support/models.hpp"
#include "verifier/image_layout.hpp"

#if defined(__GLIBC__)
namespace {

std::atomic<std::size_t> g_live{0}, g_peak{0};

void* counted(void* p) {
  if (!p) throw std::bad_alloc();
  const std::size_t n = malloc_usable_size(p), now = g_live.fetch_add(n, std::memory_order_relaxed) + n;
  std::size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return p;
}

void release(void* p) noexcept {
  if (!p) return;
  g_live.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}

void* aligned(std::size_t n, std::align_val_t a) {
  const auto align = static_cast<std::size_t>(a);
  return std::aligned_alloc(align, (n + align - 1) / align * align);  // a size that is a multiple
}

}  // namespace

void* operator new(std::size_t n) { return counted(std::malloc(n ? n : 1)); }
void* operator new[](std::size_t n) { return counted(std::malloc(n ? n : 1)); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(aligned(n ? n : 1, a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(aligned(n ? n : 1, a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new[](n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
#endif

namespace nnproof {
namespace {

// The most bytes held through operator new while `fn` ran, beyond those held when it started.
template <class Fn>
std::size_t heap_peak_of(Fn&& fn) {
#if defined(__GLIBC__)
  const std::size_t before = g_live.load();
  g_peak.store(before);
  fn();
  return g_peak.load() - before;
#else
  fn();
  return 0;
#endif
}

// The forward trace that any engine holds: Y_0 and Z_1 .. Z_L, padded, in F (16 bytes an entry in
// m127), but Z_1 in int32 where `narrow_z1` (the cpu engine's narrow hidden Z, which a CNN whose
// second layer pools first has: kernels/cpu/narrow_table.hpp).
std::size_t trace_bytes(const QuantizedModel& m, std::size_t batch, bool narrow_z1) {
  const std::vector<std::size_t> dims = proof_dims(m, 3);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < dims.size(); ++i)
    bytes += padded(dims[i]) * padded(batch) * (i == 1 && narrow_z1 ? 4 : 16);
  return bytes;
}

// A cold engine's first proof of `batch` samples of model m (m127): its heap peak against the
// estimate for that engine (Engine::proof_memory), less the allowance for the process.
void expect_within_estimate(const char* engine_name, std::size_t batch, const QuantizedModel& m, const char* model) {
  std::vector<Fp127> input(batch * m.in_dim());
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = Fp127::from_int(static_cast<std::int64_t>(i * 7 % 256));
  Statement<M127> st = testing::make_statement<M127>(m, batch, std::move(input));
  auto engine = make_engine<M127>(engine_name);
  const std::size_t peak = heap_peak_of([&] { (void)prove_bundle(*engine, st); });
  const std::size_t estimate =
      estimate_prove_bytes(m, FieldId::m127, batch, 3, engine->proof_memory()) - kProcessAllowanceBytes;
  EXPECT_LE(peak, estimate) << engine_name << " at " << batch << ": heap peak " << peak << " bytes";
  // The count sees the tables: the trace alone is below the peak.
  EXPECT_GE(peak, trace_bytes(m, batch, std::string(engine_name) == "cpu")) << engine_name;
  std::printf("%s engine, %s, %zu samples: heap peak %zu bytes, estimate less allowance %zu\n", engine_name, model,
              batch, peak, estimate);
}

// The same for a committed model (by default the CIFAR-size CNN, examples/cifar_cnn).
void expect_within_estimate(const char* engine_name, std::size_t batch,
                            const char* model = "examples/cifar_cnn/cifar_cnn.onnx") {
  expect_within_estimate(engine_name, batch,
                         quantize_model(import_onnx(std::string(NNPROOF_SOURCE_DIR) + "/" + model), {}), model);
}

class MemoryPeak : public ::testing::Test {
 protected:
  void SetUp() override {
#if !defined(__GLIBC__)
    GTEST_SKIP() << "the heap count needs glibc's malloc_usable_size";
#endif
  }
};

// 256 images: 276 MB measured (295 MB on oneDNN's AVX2 routes) against 344 MB (the tables are most of both; the fixed
// part, 4 to 13 MB of weight forms, caches and eq tables here, is the allowance's, so a small batch proves nothing).
TEST_F(MemoryPeak, CpuEngineProofWithinItsEstimate) { expect_within_estimate("cpu", 256); }

// A dense model with int16 weights takes the cpu engine's DGEMM route, which holds the weights,
// the input's limbs and the products in doubles for the whole batch: 256-256-256-10 at 4096 samples,
// five limbs, 84 MB of the peak (ProofMemory::dense_forward_bytes; without it counted, the estimate
// falls below the peak).
TEST_F(MemoryPeak, CpuEngineDenseInt16ProofWithinItsEstimate) {
  std::mt19937_64 rng(18);
  expect_within_estimate("cpu", 4096, testing::random_model({256, 256, 256, 10}, rng, 1000), "dense int16");
}

// The engines that keep every Y, at 64 images (a second each; their tables are already ~200 MB).
// The reference engine's activation sum-check holds three Z_1 in K: 208 MB measured against 245 MB
// (each Z_1 in K is 34 MB: without them counted, the estimate falls below the peak).
TEST_F(MemoryPeak, ReferenceEngineProofWithinItsEstimate) { expect_within_estimate("reference", 64); }

// The Thrust engines' Z_1 in K and in F, their GEMM's limbs in int8 and in doubles and their lanes'
// sums: 210 MB measured against 312 MB (the estimate adds the forward's scratch to the sum-check's).
TEST_F(MemoryPeak, ThrustOmpEngineProofWithinItsEstimate) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "thrust-omp is not built";
  expect_within_estimate("thrust-omp", 64);
}

// A dense model's forward runs the Thrust engines' int8 limb GEMM: 1024 Fashion-MNIST-size samples
// through fcquad (784-128-10), whose limbs (19 a sample in m127) and their doubles are most of the
// peak: 200 MB measured against 223 MB, of which the GEMM's scratch is 167 MB.
TEST_F(MemoryPeak, ThrustOmpEngineDenseProofWithinItsEstimate) {
  if (!engine_unavailable_reason(EngineId::thrust_omp).empty()) GTEST_SKIP() << "thrust-omp is not built";
  expect_within_estimate("thrust-omp", 1024, "examples/fashion_mnist/fcquad.onnx");
}

}  // namespace
}  // namespace nnproof
