// SPDX-License-Identifier: Apache-2.0
// The prover's int8 column sums (row_combine's core) against plain int64 sums, for every kernel
// this CPU runs: shapes that are not multiples of the 4-row steps or 16-column blocks, row ranges
// that start and stop inside the table (as the per-thread parts do), 8 and 16 byte arrays, and the
// largest sums the exactness bound admits.
#include <gtest/gtest.h>

#include <random>

#include "core/lazy.hpp"
#include "kernels/cpu/int8_column_sums.hpp"

namespace nnproof {
namespace {

struct Case {
  std::size_t rows, cols, a0, a1;
};

TEST(Int8ColumnSums, EveryKernelMatchesPlainSums) {
  std::mt19937_64 rng(90);
  const std::vector<Case> cases{{1, 1, 0, 1},    {3, 17, 0, 3},    {4, 16, 0, 4},      {7, 33, 4, 7},
                                {37, 70, 8, 24}, {130, 5, 0, 130}, {257, 200, 64, 257}};
  for (const auto& kernel : int8_column_sums_kernels()) {
    for (const Case& t : cases) {
      for (unsigned nbytes : {8u, 16u}) {
        for (int fill : {0, 1, 2}) {  // random; all 255 against 127; all 255 against -128
          const std::size_t stride = (t.rows + 3) / 4 * 4, acc_stride = column_sums_stride(t.cols);
          std::vector<std::int8_t> w(t.rows * t.cols);
          std::vector<std::uint8_t> bytes(nbytes * stride, 0);  // zero past rows, as required
          for (auto& x : w) x = fill == 0 ? static_cast<std::int8_t>(rng()) : fill == 1 ? 127 : -128;
          for (unsigned c = 0; c < nbytes; ++c)
            for (std::size_t a = 0; a < t.rows; ++a)
              bytes[c * stride + a] = fill == 0 ? static_cast<std::uint8_t>(rng()) : 255;
          std::vector<std::int32_t> acc(nbytes * acc_stride, 3), want(acc);  // the kernels add to acc
          for (unsigned c = 0; c < nbytes; ++c)
            for (std::size_t j = 0; j < t.cols; ++j)
              for (std::size_t a = t.a0; a < t.a1; ++a)
                want[c * acc_stride + j] += std::int32_t{w[a * t.cols + j]} * bytes[c * stride + a];
          kernel.fn(w.data(), t.rows, t.cols, t.a0, t.a1, bytes.data(), stride, nbytes, acc.data());
          EXPECT_EQ(acc, want) << kernel.name << " rows " << t.rows << " cols " << t.cols << " rows [" << t.a0 << ", "
                               << t.a1 << ") bytes " << nbytes << " fill " << fill;
        }
      }
    }
  }
}

// At the exactness bound's largest row count, every partial sum at its extreme: |sum| just under
// 2^31 must come out exact, not wrapped.
TEST(Int8ColumnSums, LargestExactSumsDoNotWrap) {
  std::size_t rows = 1;
  while (int8_byte_sums_exact(rows + 1)) ++rows;
  ASSERT_FALSE(int8_byte_sums_exact(rows + 1));
  const std::size_t cols = 19, stride = (rows + 3) / 4 * 4;
  for (const auto& kernel : int8_column_sums_kernels()) {
    for (std::int8_t wv : {std::int8_t{127}, std::int8_t{-128}}) {
      std::vector<std::int8_t> w(rows * cols, wv);
      std::vector<std::uint8_t> bytes(8 * stride, 0);
      for (unsigned c = 0; c < 8; ++c)
        for (std::size_t a = 0; a < rows; ++a) bytes[c * stride + a] = 255;
      std::vector<std::int32_t> acc(8 * column_sums_stride(cols), 0);
      kernel.fn(w.data(), rows, cols, 0, rows, bytes.data(), stride, 8, acc.data());
      const std::int64_t want = static_cast<std::int64_t>(rows) * 255 * wv;
      for (std::size_t j = 0; j < cols; ++j)
        EXPECT_EQ(acc[j], want) << kernel.name << " w " << int{wv} << " column " << j;
    }
  }
}

}  // namespace
}  // namespace nnproof
