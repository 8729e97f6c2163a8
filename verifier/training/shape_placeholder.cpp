// SPDX-License-Identifier: Apache-2.0
// TEMP placeholder: TrainingShape's sizes until verifier/training/computation.cpp lands (the
// integrator drops this file and its CMake line). claim_elements() is the format's exact count;
// message_count() is the closed form of the training protocol's walk; soundness_bits() is 0.
#include "core/polynomial.hpp"
#include "verifier/training/statement.hpp"

namespace nnproof {

std::size_t TrainingShape::claim_elements() const {
  std::size_t n = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) n += dims[i] * dims[i - 1] + dims[i];
  return n + samples * dims.back();
}

std::size_t TrainingShape::message_count() const {
  const std::size_t L = depth();
  const std::size_t b = ceil_log2(samples);
  auto nu = [&](std::size_t i) -> std::size_t { return ceil_log2(dims[i]); };
  std::size_t m = L * (2 * b + 2);  // seeds: one per layer
  m += 2 * (nu(L) + b) + 1;         // the loss
  for (std::size_t i = 1; i < L; ++i) {
    if (i >= 2) m += 2 * (nu(i) + b) + 1;  // D_i: merge
    m += 3 * (nu(i) + b) + 2;              // D_i: Hadamard
    m += 2 * nu(i + 1) + 1;                // E_i
  }
  m += 2 * (nu(L) + b) + 1 + 2 * nu(L - 1) + 1;  // Z_L: merge, linear
  for (std::size_t i = 1; i < L; ++i) {
    m += 2 * (nu(i) + b) + 1 + 3 * (nu(i) + b) + 1;  // Y_i: merge, square
    m += 2 * (nu(i) + b) + 1 + 2 * nu(i - 1) + 1;    // Z_i: merge, linear
  }
  return m;
}

double TrainingShape::soundness_bits(FieldId) const { return 0; }

}  // namespace nnproof
