// SPDX-License-Identifier: Apache-2.0
#pragma once
// The prover's memory: its peak estimated from the model and the batch before any work, the limit
// it is held to (--max-memory, or 80% of what this process may use), and the plan that cuts a
// batch into chunks that each fit (docs/PERFORMANCE.md, "Memory"; docs/FORMAT.md, "Chunked bundles").
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/engine/proof_memory.hpp"
#include "verifier/model.hpp"
#include "verifier/proof.hpp"

namespace nnproof {

// Not enough memory for even one sample under the limit, or a plan with too many chunks.
struct MemoryLimitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Keeps the memory of freed tables in this process for the next ones instead of handing it back
// to the kernel (glibc: no mmap for large blocks, no trimming of the heap's top). A proof's tables
// are large (0.45 GB at the CIFAR-size CNN's batch 256 in m127) and short-lived; given back, each
// new one comes as fresh zeroed pages, one fault per 4 KiB: a third of a CNN proof's time on a warm
// prover (docs/PERFORMANCE.md, session 17). The cost: the process's RSS stays at its peak. The
// nnproof commands that prove (prove, bench, train, prove-training, quantize) call it; not `serve`
// (worker threads' arenas) nor the Python module, whose host process decides. No-op without glibc.
// Only the main thread's arena benefits: glibc's other arenas mmap blocks past 64 MiB regardless.
void keep_freed_memory();

// "1500000000", "1.5G", "512M", "64K" (K, M, G, T: powers of 1024; a trailing B or iB allowed).
// std::invalid_argument naming the text otherwise, or for zero.
std::size_t parse_byte_size(const std::string& text);
// "1.50 GiB", "812.3 MiB", "900 B".
std::string format_bytes(std::size_t bytes);

struct MemoryLimit {
  std::size_t bytes = 0;
  std::string source;  // "--max-memory", "80% of physical memory (23.4 GiB)", ...
};

// 80% of the least of: physical memory, the address space left under ulimit -v (RLIMIT_AS less
// what the process has mapped), the data limit (ulimit -d, RLIMIT_DATA) and the cgroup's
// memory.max; with `cuda`, 80% of device 0's memory.
MemoryLimit default_memory_limit(bool cuda);

// A process besides its tables (prover or verifier): code, libraries, thread stacks and arenas, oneDNN's and
// OpenBLAS's buffers. Peak RSS of a 1-sample proof of the MLP example is ~30 MiB; the allowance
// covers what malloc keeps and address space that threads reserve. Part of every estimate below.
inline constexpr std::size_t kProcessAllowanceBytes = std::size_t{128} << 20;

// The prover's peak memory for one proof of `batch` samples, in bytes: the forward pass's tables
// (each n_i x b padded to powers of two, in F), the most scratch the forward writes for one layer,
// the activation sum-check's tables (the widest Z_i's size, in K and F), the input's field forms,
// and a fixed allowance for the process; these are added, though a layer's forward scratch and the
// sum-check's tables are not held at once. An upper estimate, held against each engine's heap peak
// (tests/host/test_memory_peak.cpp) and calibrated against peak RSS (docs/PERFORMANCE.md). `engine`
// is what the engine that proves says of itself (Engine::proof_memory): the cpu engine keeps no Y_i
// and holds half a Z_i in K; the reference engine three Z_i in K; the Thrust engines Z_i in K and
// F, and their GEMM's and lanes' scratch. The default is the conservative count (ProofMemory{}).
std::size_t estimate_prove_bytes(const QuantizedModel& model, FieldId field, std::size_t batch, std::uint32_t version,
                                 const ProofMemory& engine = {});
// What the prover holds for the whole batch whatever the chunks: the loaded input (int64) and the
// outputs. Counted once in a plan.
std::size_t estimate_batch_bytes(const QuantizedModel& model, FieldId field, std::size_t batch);
// The verifier's peak for one chunk of `chunk` samples of a `batch`-sample input: the loaded input,
// the chunk's field form and the bundle's bytes (it never builds a table).
std::size_t estimate_verify_bytes(const QuantizedModel& model, FieldId field, std::size_t batch, std::size_t chunk);

struct ChunkPlan {
  std::size_t batch = 0;
  std::size_t chunk_samples = 0;           // every chunk but the last holds this many
  std::size_t chunks = 0;                  // 1: a plain bundle
  std::size_t whole_bytes = 0;             // estimated peak of one proof of the whole batch
  std::size_t peak_bytes = 0;              // estimated peak of this plan (the batch's share + its largest chunk)
  double soundness_bits = 0;               // of the bundle: the union bound over its chunks
  std::vector<std::size_t> sizes() const;  // samples in each chunk, in order
};

// The fewest chunks whose estimated peak fits `limit`: the whole batch when it fits, else chunks of
// the largest power of two that does (tables pad the batch to a power of two, so any other size
// costs as much as the next power). MemoryLimitError when one sample does not fit, when more than
// kMaxChunks chunks are needed, or when the union bound would fall below 100 bits.
// `engine` as for estimate_prove_bytes: pass what the engine that will prove says (proof_memory()).
ChunkPlan plan_chunks(const QuantizedModel& model, FieldId field, std::size_t batch, std::uint32_t version,
                      std::size_t limit, const ProofMemory& engine = {});

}  // namespace nnproof
