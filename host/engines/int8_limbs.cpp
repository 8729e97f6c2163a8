#include "host/engines/int8_limbs.hpp"

namespace nnproof {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NNP_LIMB_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NNP_LIMB_CLONES
#endif

NNP_LIMB_CLONES void split_limbs(const Fp61* y, std::size_t width, std::int8_t* out) {
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

NNP_LIMB_CLONES void recombine_limbs(const std::int32_t* g, std::size_t width, Fp61 bias, Fp61* z) {
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

NNP_LIMB_CLONES void split_limbs(const Fp127* y, std::size_t width, std::int8_t* out) {
  for (std::size_t l = 0; l < kM127Limbs; ++l) {
    std::int8_t* row = out + l * width;
    const unsigned shift = 8 * static_cast<unsigned>(l);
    for (std::size_t k = 0; k < width; ++k)
      row[k] = static_cast<std::int8_t>(static_cast<std::uint8_t>(y[k].v >> shift) ^ 0x80u);
  }
}

void recombine_limbs(const std::int32_t* g, std::size_t width, Fp127 bias, Fp127* z) {
  for (std::size_t k = 0; k < width; ++k) {
    // Z = P0 + 2^32 P1 + 2^64 P2 + 2^96 P3, each |P_i| < 2^56 (four limbs). The first three sum
    // exactly in 128 bits (|lo| < 2^121). With P3 = 2^31 t + u, 0 <= u < 2^31 (t = P3 >> 31, signed):
    // 2^96 P3 = 2^96 u + 2^127 t = 2^96 u + t (mod p).
    const i128 lo = static_cast<i128>(four_limbs(g, width, k)) +
                    (static_cast<i128>(four_limbs(g + 4 * width, width, k)) << 32) +
                    (static_cast<i128>(four_limbs(g + 8 * width, width, k)) << 64);
    const std::int64_t p3 = four_limbs(g + 12 * width, width, k);
    const std::int64_t t = p3 >> 31, u = p3 & ((std::int64_t{1} << 31) - 1);
    const Fp127 low = Fp127::from_i128(lo + t);                       // |lo + t| < 2^122
    const Fp127 high = Fp127::from_u128(static_cast<u128>(u) << 96);  // < 2^127
    z[k] = low + high + bias;
  }
}

}  // namespace nnproof
