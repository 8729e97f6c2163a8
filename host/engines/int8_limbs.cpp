#include "host/engines/int8_limbs.hpp"

namespace nnproof {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NNP_LIMB_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NNP_LIMB_CLONES
#endif

NNP_LIMB_CLONES void split_limbs_m61(const Fp61* y, std::size_t width, std::int8_t* out) {
  for (std::size_t l = 0; l < kM61Limbs; ++l) {
    std::int8_t* row = out + l * width;
    const unsigned shift = 8 * static_cast<unsigned>(l);
    for (std::size_t k = 0; k < width; ++k)  // byte ^ 0x80 read as int8 is byte - 128
      row[k] = static_cast<std::int8_t>(static_cast<std::uint8_t>(y[k].v >> shift) ^ 0x80u);
  }
}

// Four limbs as one signed 64-bit value: |sum_{i<4} 2^(8 i) g_i| < 2^31 (1 + 2^8 + 2^16 + 2^24) < 2^56.
static inline std::int64_t four_limbs(const std::int32_t* g, std::size_t width, std::size_t k) {
  return static_cast<std::int64_t>(g[k]) + (static_cast<std::int64_t>(g[width + k]) << 8) +
         (static_cast<std::int64_t>(g[2 * width + k]) << 16) + (static_cast<std::int64_t>(g[3 * width + k]) << 24);
}

NNP_LIMB_CLONES void recombine_limbs_m61(const std::int32_t* g, std::size_t width, Fp61 bias, Fp61* z) {
  constexpr std::uint64_t P = Fp61::P;
  for (std::size_t k = 0; k < width; ++k) {
    // Z = lo + 2^32 hi with |lo|, |hi| < 2^56 < p: adding p makes each a representative in (0, 2p).
    const std::uint64_t lo = static_cast<std::uint64_t>(four_limbs(g, width, k) + static_cast<std::int64_t>(P));
    const std::uint64_t hi =
        static_cast<std::uint64_t>(four_limbs(g + 4 * width, width, k) + static_cast<std::int64_t>(P));
    // 2^32 hi = 2^32 (hi mod 2^29) + 2^61 (hi >> 29) = 2^32 (hi mod 2^29) + (hi >> 29)  (mod p).
    const std::uint64_t shifted = ((hi & ((std::uint64_t{1} << 29) - 1)) << 32) + (hi >> 29);
    std::uint64_t x = lo + shifted + bias.v;  // < 2^62 + (2^61 + 2^33) + 2^61 < 2^64
    x = (x & P) + (x >> 61);                  // < 2^61 + 4
    z[k].v = x >= P ? x - P : x;
  }
}

}  // namespace nnproof
