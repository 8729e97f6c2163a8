// SPDX-License-Identifier: Apache-2.0
#include "host/memory.hpp"

#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <optional>
#include <string>

#include "kernels/thrust/device_info.hpp"
#include "verifier/byte_io.hpp"
#include "verifier/chunked.hpp"
#include "verifier/image_layout.hpp"

namespace nnproof {
namespace {

std::size_t pow2(std::size_t d) { return std::size_t{1} << ceil_log2(d); }

// Saturating u128 -> size_t.
std::size_t clamp(u128 x) { return x > static_cast<u128>(SIZE_MAX) ? SIZE_MAX : static_cast<std::size_t>(x); }

// The model as the engine holds it: dense weights in several forms (int64, field, limbs).
u128 weight_bytes(const QuantizedModel& model, FieldId field) {
  u128 entries = 0;
  for (const auto& layer : model.layers)
    if (!layer.structured()) entries += static_cast<u128>(layer.rows) * layer.cols;
  return entries * (8 + 2 * byte_io::field_base_bytes(field));
}

// One layer's scratch: `padded` entries of F per column of the padded batch b, `real` per sample of
// the batch, and `bytes` beside them.
struct LayerScratch {
  std::size_t padded = 0, real = 0;
  u128 bytes = 0;
};

std::size_t round_up(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }

// What the engine's forward pass allocates for each layer of the proof's model (`layout`) beside
// the trace's tables, for `batch` samples (padded to b; ProofMemory). Without Y tables, past the first layer,
// a dense layer squares Z_{i-1} into a table as large as Y_{i-1}, and a structured chain squares its
// input rows into a vector (cols x b) unless it starts with a sum pool, which squares as it pools
// (the cpu engine: cpu_engine.cpp, forward_of_square; structured_cpu.hpp). A chain writes each op's
// output but the last into a vector (rows x batch), the last too where the engine says so, and holds
// chain_input_bytes per entry of an op's input; a dense layer holds what dense_forward_bytes says.
// An ones pool that is not depthwise is counted as squared first: an upper bound either way.
std::vector<LayerScratch> forward_scratch(const QuantizedModel& layout, const ProofMemory& shape, std::size_t batch) {
  const std::size_t b = pow2(batch);
  std::vector<LayerScratch> out(layout.layers.size());
  for (std::size_t i = 0; i < layout.layers.size(); ++i) {
    const QuantizedLayer& layer = layout.layers[i];
    const bool squares = i > 0 && !shape.keeps_activations;
    if (!layer.structured()) {
      if (squares) out[i].padded = pow2(layer.cols);
      if (shape.dense_forward_bytes) out[i].bytes = shape.dense_forward_bytes(layer, batch);
      continue;
    }
    if (squares && !layer.ops.front().is_ones_pool()) out[i].padded = layer.ops.front().cols;
    for (std::size_t j = 0; j < layer.ops.size(); ++j) {
      if (j + 1 < layer.ops.size() || shape.chain_writes_last_op) out[i].real += layer.ops[j].rows;
      const u128 input = static_cast<u128>(pow2(layer.ops[j].cols)) * round_up(b, 32);
      out[i].bytes = std::max(out[i].bytes, input * shape.chain_input_bytes);
    }
  }
  return out;
}

// The dense forward's int8 limb GEMM scratch (ProofMemory::gemm_limbs): the split input and the
// products of the largest layer of each, dimensions padded to multiples of 16, kept across layers.
u128 gemm_scratch(const QuantizedModel& layout, const ProofMemory& shape, std::size_t batch) {
  if (shape.gemm_limbs == 0) return 0;
  std::size_t inner = 0, rows = 0;
  for (const QuantizedLayer& layer : layout.layers)
    if (!layer.structured()) {
      inner = std::max(inner, round_up(layer.cols, 16));
      rows = std::max(rows, round_up(layer.rows, 16));
    }
  const u128 columns = round_up(shape.gemm_limbs * batch, 16);
  return columns *
         (static_cast<u128>(inner) * shape.gemm_input_bytes + static_cast<u128>(rows) * shape.gemm_output_bytes);
}

// estimate_prove_bytes for the proof's layout `layout`.
std::size_t prove_bytes(const QuantizedModel& model, const QuantizedModel& layout, FieldId field, std::size_t batch,
                        std::uint32_t version, const ProofMemory& shape) {
  const std::vector<std::size_t> dims = proof_dims(model, version);
  const std::size_t L = dims.size() - 1, b = pow2(batch);
  const std::size_t F = byte_io::field_base_bytes(field), K = byte_io::field_challenge_bytes(field);
  // The forward trace: Y_0, Z_1 .. Z_L and, where the engine keeps them, Y_1 .. Y_{L-1} = Z o Z,
  // each padded n_i x b in F. The forward's scratch lives for one layer: the largest is counted.
  u128 rows = pow2(dims[0]);
  std::size_t widest = 0;  // the widest Z_i (i < L): the activation sum-checks'
  for (std::size_t i = 1; i <= L; ++i) {
    rows += pow2(dims[i]) * (i < L && shape.keeps_activations ? 2 : 1);
    if (i < L) widest = std::max(widest, pow2(dims[i]));
  }
  const std::size_t widest_y = std::max(widest, pow2(dims[0]));  // the widest Y_{i-1}: the matrix products'
  u128 most = 0;
  for (const LayerScratch& s : forward_scratch(layout, shape, batch))
    most = std::max(most, (static_cast<u128>(s.padded) * b + static_cast<u128>(s.real) * batch) * F + s.bytes);
  const u128 tables = rows * b * F + most + gemm_scratch(layout, shape, batch);
  // The activation sum-check's tables of the widest Z_i's size, in K (halves) and in F.
  const u128 activation =
      static_cast<u128>(widest) * b * (shape.activation_k_halves * K / 2 + shape.activation_f_tables * F);
  // The matrix product's partial sums in lanes, at the widest Y_{i-1}, in K.
  const u128 lanes = static_cast<u128>(widest_y) * std::min(b, shape.combine_lanes) * K;
  // The chunk's input: its field form, and a second copy in the layout of the proof's tables (the
  // Thrust engines' host scatter before their upload; the cpu engine's transpose scatters in place).
  const u128 input = static_cast<u128>(batch) * model.in_dim() * 2 * F;
  return clamp(tables + activation + lanes + input + weight_bytes(model, field) + kProcessAllowanceBytes);
}

// The process's mapped address space now (VmSize of /proc/self/status), 0 when unknown.
std::size_t mapped_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  std::size_t kib = 0;
  while (status >> key) {
    if (key == "VmSize:" && status >> kib) return kib * 1024;
    status.ignore(4096, '\n');
  }
  return 0;
}

// What the process may use at most, from physical memory and the limits placed on it.
std::pair<std::size_t, std::string> host_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  std::size_t best = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
  std::string what = "physical memory";
  auto consider = [&](std::size_t bytes, const char* name) {
    if (bytes > 0 && (best == 0 || bytes < best)) {
      best = bytes;
      what = name;
    }
  };
  rlimit rl{};
  // The address space this process has already mapped (libraries, thread stacks, OpenBLAS's
  // buffers: ~350 MiB here before main) counts against ulimit -v: what is left of it is the limit.
  if (::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    const std::size_t limit = static_cast<std::size_t>(rl.rlim_cur), mapped = mapped_bytes();
    consider(limit > mapped ? limit - mapped : 1, "the address space left under ulimit -v");
  }
  if (::getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    consider(static_cast<std::size_t>(rl.rlim_cur), "the data-segment limit (ulimit -d)");
  std::ifstream cg("/sys/fs/cgroup/memory.max");  // "max" when unlimited
  std::string text;
  if (cg >> text && !text.empty() && std::all_of(text.begin(), text.end(), ::isdigit))
    consider(std::stoull(text), "the cgroup's memory.max");
  return {best, what};
}

}  // namespace

void keep_freed_memory() {
#if defined(__GLIBC__)
  // Blocks past M_MMAP_THRESHOLD (at most 32 MiB in glibc) are mmapped and unmapped on free; with
  // no mmap they come from the heap, and a trim threshold past any table keeps the heap's top.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);  // -1: never trim (INT_MAX would still trim past 2 GiB)
#endif
}

std::size_t parse_byte_size(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "IB") unit.resize(unit.size() - 2);
  if (!unit.empty() && unit.back() == 'B' && unit != "B") unit.pop_back();
  if (unit == "B") unit.clear();
  const std::string units = "KMGT";
  double scale = 1;
  if (unit.size() == 1 && units.find(unit[0]) != std::string::npos)
    scale = std::exp2(10.0 * static_cast<double>(units.find(unit[0]) + 1));
  else if (!unit.empty())
    used = 0;
  const double bytes = value * scale;
  if (used == 0 || !std::isfinite(bytes) || bytes < 1 || bytes >= 1.8e19)
    throw std::invalid_argument("'" + text +
                                "' is not a memory size: give bytes (1500000000) or a size with K, M, G or T (1.5G)");
  return static_cast<std::size_t>(bytes);
}

std::string format_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

MemoryLimit default_memory_limit(bool cuda) {
  if (cuda) {
    const DeviceInfo d = query_cuda_devices();
    if (d.count > 0 && d.total_memory > 0)
      return {d.total_memory / 10 * 8, "80% of " + d.name + "'s memory (" + format_bytes(d.total_memory) + ")"};
  }
  const auto [bytes, what] = host_memory();
  return {bytes / 10 * 8, "80% of " + what + " (" + format_bytes(bytes) + ")"};
}

std::size_t estimate_prove_bytes(const QuantizedModel& model, FieldId field, std::size_t batch, std::uint32_t version,
                                 const ProofMemory& engine) {
  return prove_bytes(model, ProofLayout(model, version).model(), field, batch, version, engine);
}

std::size_t estimate_batch_bytes(const QuantizedModel& model, FieldId field, std::size_t batch) {
  // The loaded input (int64) and its float form while it is read, the outputs in F and as float64.
  const u128 input = static_cast<u128>(batch) * model.in_dim() * (8 + 4);
  const u128 outputs = static_cast<u128>(batch) * model.out_dim() * (byte_io::field_base_bytes(field) + 8);
  return clamp(input + outputs);
}

std::size_t estimate_verify_bytes(const QuantizedModel& model, FieldId field, std::size_t batch, std::size_t chunk) {
  const std::size_t F = byte_io::field_base_bytes(field);
  const u128 chunk_input = static_cast<u128>(chunk) * model.in_dim() * F;
  return clamp(estimate_batch_bytes(model, field, batch) + chunk_input + weight_bytes(model, field) +
               static_cast<u128>(batch) * model.out_dim() * F + kProcessAllowanceBytes);
}

std::vector<std::size_t> ChunkPlan::sizes() const {
  std::vector<std::size_t> out;
  for (std::size_t at = 0; at < batch; at += chunk_samples) out.push_back(std::min(chunk_samples, batch - at));
  return out;
}

ChunkPlan plan_chunks(const QuantizedModel& model, FieldId field, std::size_t batch, std::uint32_t version,
                      std::size_t limit, const ProofMemory& engine) {
  const ProofLayout layout(model, version);  // a CNN's copies the model: made once, not once per size tried
  auto estimate = [&](std::size_t n) { return prove_bytes(model, layout.model(), field, n, version, engine); };
  ChunkPlan plan;
  plan.batch = batch;
  plan.whole_bytes = estimate(batch);
  const std::size_t shared = estimate_batch_bytes(model, field, batch);
  auto fits = [&](std::size_t c) {
    const std::size_t need = estimate(c);
    return need <= limit && shared <= limit - need;
  };
  std::size_t c = batch;
  if (!fits(batch)) {
    c = batch > 1 ? std::size_t{1} << (ceil_log2(batch) - 1) : 1;  // below the whole batch's padded size
    while (c > 1 && !fits(c)) c /= 2;
    if (!fits(c)) {
      const std::size_t one = estimate(1) + shared;
      throw MemoryLimitError("out of memory: proving even one sample of this batch needs about " + format_bytes(one) +
                             " (estimated), more than the limit of " + format_bytes(limit) +
                             "; raise --max-memory or free memory");
    }
  }
  plan.chunk_samples = c;
  plan.chunks = (batch + c - 1) / c;
  plan.peak_bytes = shared + estimate(c);
  if (plan.chunks > kMaxChunks)
    throw MemoryLimitError("out of memory: this batch would need " + std::to_string(plan.chunks) + " chunks (at most " +
                           std::to_string(kMaxChunks) + "); raise --max-memory above " + format_bytes(limit) +
                           " or prove fewer samples per file");
  const std::vector<std::size_t> dims = proof_dims(model, version);
  std::vector<double> bits;
  for (std::size_t n : plan.sizes()) bits.push_back(ProofShape{dims, n}.soundness_bits(field));
  plan.soundness_bits = combined_soundness_bits(bits);
  if (plan.soundness_bits < kMinSoundnessBits)
    throw MemoryLimitError("the " + std::to_string(plan.chunks) + " chunks that --max-memory " + format_bytes(limit) +
                           " asks for would leave " + std::to_string(plan.soundness_bits) +
                           " bits of soundness (< 100, the union bound over chunks); raise --max-memory");
  return plan;
}

}  // namespace nnproof
