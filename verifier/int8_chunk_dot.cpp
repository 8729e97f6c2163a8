#include "verifier/int8_chunk_dot.hpp"

namespace nnproof {

// One loop, compiled for x86-64-v4 (AVX-512), v3 (AVX2) and the baseline, the best chosen at load
// time: the compiler vectorizes it as 16-bit multiply-adds at each width.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
std::int32_t int8_int16_dot(const std::int8_t* w, const std::int16_t* c, std::size_t len) {
  std::int32_t s = 0;
  for (std::size_t j = 0; j < len; ++j) s += static_cast<std::int32_t>(w[j]) * c[j];
  return s;
}

}  // namespace nnproof
