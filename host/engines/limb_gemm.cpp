#include "host/engines/limb_gemm.hpp"

#include <cblas.h>

namespace nnproof {

LimbPlan plan_limbs(std::uint64_t max_row_abs_sum, unsigned field_bits) {
  constexpr std::uint64_t kExact = std::uint64_t{1} << 53;
  unsigned c = 0;
  while (c < field_bits && c < 52 && ((std::uint64_t{1} << (c + 1)) - 1) * static_cast<unsigned __int128>(max_row_abs_sum) <= kExact) ++c;
  if (c < 8) return {};  // too narrow to pay: the direct kernel is faster and simpler
  return {c, (field_bits + c - 1) / c};
}

void dgemm_rowmajor(std::size_t rows, std::size_t inner, std::size_t ncols, const double* W, const double* B, double* C) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(ncols),
              static_cast<int>(inner), 1.0, W, static_cast<int>(inner), B, static_cast<int>(ncols), 0.0, C,
              static_cast<int>(ncols));
}

}  // namespace nnproof
