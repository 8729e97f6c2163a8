// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/structured_limbs.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "core/simd/x86.hpp"
#include "kernels/cpu/isa.hpp"

namespace nnproof {

namespace {

// Whether two matrices hold the same entries in the same storage.
bool same_entries(const WeightMatrix& a, const WeightMatrix& b) {
  if (a.width() != b.width() || a.size() != b.size()) return false;
  return a.visit([&](const auto* x) {
    return b.visit([&](const auto* y) { return std::memcmp(x, y, a.size() * a.width()) == 0; });
  });
}

// cached_tap_table's tables: at most kMaxTables, and kMaxTapEntries taps in all (a slab holds at
// most kMaxSlabTaps: 16 MiB), so the cache stays a few slabs in size; the least recently used is
// dropped first (a model whose limb-route ops need more slabs than that builds them as before). An
// op is found by its shape and its weights' stamp or, failing that, their entries compared in full
// (a dense op's weights are the size of its table): each proof's ops are fresh copies
// (ProofLayout's padded model) with new stamps.
class TapTableCache {
 public:
  std::shared_ptr<const TapTable> get(const LinearOp& op, std::size_t first_row, std::size_t max_taps) {
    const Shape shape{op.kind, op.rows, op.cols, op.conv, first_row, max_taps};
    {
      const std::lock_guard lock(mutex_);
      for (auto s = slots_.begin(); s != slots_.end(); ++s)
        if (s->shape == shape && (s->stamp == op.weights.stamp() || same_entries(s->weights, op.weights))) {
          s->stamp = op.weights.stamp();        // this op's next lookup: O(1)
          std::rotate(s, s + 1, slots_.end());  // the most recent last: the oldest is dropped first
          return slots_.back().table;
        }
    }
    auto table = std::make_shared<const TapTable>(op, first_row, max_taps);  // outside the lock: parallel
    const std::lock_guard lock(mutex_);
    slots_.push_back({shape, op.weights.stamp(), op.weights, table});
    const auto entries = [](const Slot& s) { return s.table->in.size(); };
    std::size_t total = 0;
    for (const Slot& s : slots_) total += entries(s);
    while (slots_.size() > 1 && (slots_.size() > kMaxTables || total > kMaxTapEntries)) {
      total -= entries(slots_.front());
      slots_.erase(slots_.begin());
    }
    return table;
  }

 private:
  struct Shape {
    LinearOp::Kind kind;
    std::size_t rows, cols;
    ConvShape conv;
    std::size_t first_row, max_taps;
    bool operator==(const Shape&) const = default;
  };
  struct Slot {
    Shape shape;
    std::uint64_t stamp;   // the op's weights' (a stamp names one matrix's contents)
    WeightMatrix weights;  // a copy of them
    std::shared_ptr<const TapTable> table;
  };
  static constexpr std::size_t kMaxTables = 16, kMaxTapEntries = 4 * kMaxSlabTaps;
  std::mutex mutex_;
  std::vector<Slot> slots_;
};

// One tap at a time over the block's samples, per limb: the compiler vectorizes the inner loop
// (AVX2's vpmuldq in the v3 clone).
NNP_CLONES_V3
void sum_taps_loops(const std::int32_t* block, std::size_t cols, const std::uint32_t* in, const std::int32_t* w,
                    std::size_t taps, unsigned limbs, std::int64_t* sums) {
  constexpr std::size_t B = kLimbBlock;
  for (std::size_t i = 0; i < limbs * B; ++i) sums[i] = 0;
  for (std::size_t t = 0; t < taps; ++t)
    for (unsigned l = 0; l < limbs; ++l) {
      const std::int32_t* x = block + (l * cols + in[t]) * B;
      for (std::size_t k = 0; k < B; ++k) sums[l * B + k] += std::int64_t{w[t]} * x[k];
    }
}

#ifdef NNP_X86_KERNELS
NNP_AVX512_WARNINGS_OFF  // GCC 12's false positives (core/simd/x86.hpp)
// The block's 32 samples as four groups of eight, L limbs: 4 L accumulators (20 of the 32
// registers for m127) stay in registers for all of the row's taps; each tap's limbs are loaded
// once, sign-extended to 64 bits and multiplied by vpmuldq (32 x 32 -> 64 bits, one uop, where
// the vpmullq that the compiler picks for int64 products is three).
template <unsigned L>
__attribute__((target("avx512f"))) void sum_taps_avx512(const std::int32_t* block, std::size_t cols,
                                                        const std::uint32_t* in, const std::int32_t* w,
                                                        std::size_t taps, std::int64_t* sums) {
  constexpr unsigned G = kLimbBlock / 8;
  __m512i acc[L][G];
  for (unsigned l = 0; l < L; ++l)
    for (unsigned g = 0; g < G; ++g) acc[l][g] = _mm512_setzero_si512();
  for (std::size_t t = 0; t < taps; ++t) {
    const __m512i wv = _mm512_set1_epi64(w[t]);
    const std::int32_t* x = block + std::size_t{in[t]} * kLimbBlock;
    for (unsigned l = 0; l < L; ++l)
      for (unsigned g = 0; g < G; ++g) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + l * cols * kLimbBlock + 8 * g));
        acc[l][g] = _mm512_add_epi64(acc[l][g], _mm512_mul_epi32(_mm512_cvtepi32_epi64(v), wv));
      }
  }
  for (unsigned l = 0; l < L; ++l)
    for (unsigned g = 0; g < G; ++g) _mm512_storeu_si512(sums + l * kLimbBlock + 8 * g, acc[l][g]);
}

// The block's 32 int16 samples of two taps interleaved (unpacklo / unpackhi of 16-bit words, within
// each 128-bit lane) against their two weights, one vpdpwssd per half: lane 4 q + r of `lo` sums
// sample 8 q + r, of `hi` sample 8 q + 4 + r (q < 4, r < 4), put back in order at the end.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void sum_taps_int16_vnni(const std::int16_t* block,
                                                                                const std::uint32_t* in,
                                                                                const std::int32_t* w, std::size_t taps,
                                                                                std::int64_t* sums) {
  static_assert(kLimbBlock == 32);  // one zmm of int16 a tap
  __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
  for (std::size_t t = 0; t < taps; t += 2) {
    const bool pair = t + 1 < taps;
    const __m512i a = _mm512_loadu_si512(block + std::size_t{in[t]} * kLimbBlock);
    const __m512i b = pair ? _mm512_loadu_si512(block + std::size_t{in[t + 1]} * kLimbBlock) : _mm512_setzero_si512();
    // (w[t], w[t + 1]) as two int16 in each int32 lane
    const auto w1 = static_cast<std::uint32_t>(pair ? w[t + 1] : 0);
    const __m512i wv =
        _mm512_set1_epi32(static_cast<std::int32_t>((static_cast<std::uint32_t>(w[t]) & 0xFFFFu) | (w1 << 16)));
    lo = _mm512_dpwssd_epi32(lo, _mm512_unpacklo_epi16(a, b), wv);
    hi = _mm512_dpwssd_epi32(hi, _mm512_unpackhi_epi16(a, b), wv);
  }
  const __m512i first = _mm512_permutex2var_epi32(  // samples 0-15 (index 16 + i: hi's lane i)
      lo, _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), hi);
  const __m512i second = _mm512_permutex2var_epi32(  // samples 16-31
      lo, _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), hi);
  _mm512_storeu_si512(sums, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(first)));
  _mm512_storeu_si512(sums + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(first, 1)));
  _mm512_storeu_si512(sums + 16, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(second)));
  _mm512_storeu_si512(sums + 24, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(second, 1)));
}
NNP_AVX512_WARNINGS_ON
#endif

}  // namespace

bool int16_taps_available() {
#ifdef NNP_X86_KERNELS
  return int8_avx512_vnni_allowed();  // oneDNN's AVX-512 VNNI level: this CPU has it, the cap admits it
#else
  return false;
#endif
}

void sum_taps_int16(const std::int16_t* block, const std::uint32_t* in, const std::int32_t* w, std::size_t taps,
                    std::int64_t* sums) {
#ifdef NNP_X86_KERNELS
  static const bool simd = int16_taps_available();
  if (simd) return sum_taps_int16_vnni(block, in, w, taps, sums);
#endif
  for (std::size_t k = 0; k < kLimbBlock; ++k) sums[k] = 0;  // exact in int64 anyway
  for (std::size_t t = 0; t < taps; ++t)
    for (std::size_t k = 0; k < kLimbBlock; ++k) sums[k] += std::int64_t{w[t]} * block[in[t] * kLimbBlock + k];
}

void sum_taps_limbs(const std::int32_t* block, std::size_t cols, const std::uint32_t* in, const std::int32_t* w,
                    std::size_t taps, unsigned limbs, std::int64_t* sums) {
#ifdef NNP_X86_KERNELS
  static const bool simd = avx512_ifma_kernels_allowed();
  if (simd) switch (limbs) {
      case 1:
        return sum_taps_avx512<1>(block, cols, in, w, taps, sums);
      case 2:
        return sum_taps_avx512<2>(block, cols, in, w, taps, sums);
      case 3:
        return sum_taps_avx512<3>(block, cols, in, w, taps, sums);
      case 4:
        return sum_taps_avx512<4>(block, cols, in, w, taps, sums);
      case 5:
        return sum_taps_avx512<5>(block, cols, in, w, taps, sums);
      default:
        break;
    }
#endif
  sum_taps_loops(block, cols, in, w, taps, limbs, sums);
}

void sum_taps_limbs_portable(const std::int32_t* block, std::size_t cols, const std::uint32_t* in,
                             const std::int32_t* w, std::size_t taps, unsigned limbs, std::int64_t* sums) {
  sum_taps_loops(block, cols, in, w, taps, limbs, sums);
}

std::size_t max_taps_per_row(const LinearOp& op) {
  if (op.kind == LinearOp::Kind::dense) return op.cols;
  return op.conv.group_in() * op.conv.kernel_h * op.conv.kernel_w;  // padding only removes taps
}

std::uint64_t max_abs_row_sum(const LinearOp& op) {
  // A dense op's rows, or a convolution's output channels: each row of channel oc reads some of
  // kernel[oc]'s entries once (all of them where no padding cuts it).
  const std::size_t rows = op.kind == LinearOp::Kind::dense ? op.rows : op.conv.out_channels;
  const std::size_t per_row = op.kind == LinearOp::Kind::dense ? op.cols : max_taps_per_row(op);
  std::uint64_t most = 0;
  op.weights.visit([&](const auto* w) {
    for (std::size_t a = 0; a < rows; ++a) {
      std::uint64_t sum = 0;
      for (std::size_t t = 0; t < per_row; ++t) {
        const std::int64_t x = static_cast<std::int64_t>(w[a * per_row + t]);
        sum += static_cast<std::uint64_t>(x < 0 ? -x : x);
      }
      most = std::max(most, sum);
    }
  });
  return most;
}

bool limb_route_fits(const LinearOp& op) {
  constexpr std::size_t kMaxTaps = std::size_t{1} << 17;  // 2^17 x 2^15 x 2^31 = 2^63
  constexpr std::size_t kMinAverageTaps = 8;
  return op.weights.width() <= 2 && max_taps_per_row(op) < kMaxTaps && op.cols < (std::size_t{1} << 32) &&
         op.nnz_bound() >= kMinAverageTaps * op.rows;
}

std::shared_ptr<const TapTable> cached_tap_table(const LinearOp& op, std::size_t first_row, std::size_t max_taps) {
  static TapTableCache cache;
  return cache.get(op, first_row, max_taps);
}

}  // namespace nnproof
