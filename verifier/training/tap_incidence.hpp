// SPDX-License-Identifier: Apache-2.0
#pragma once
// The tap-incidence MLE of one convolution (docs/TRAINING_PROTOCOL.md, "Structured layers"): the
// verifier's part of a kernel-gradient seed. A trained convolution's gradient is
//   G[tap] = sum_k sum_a V[a][k] U[j(a, tap)][k]          (taps reading padding contribute 0)
// so G~(t) = sum_k sum_a sum_j V(a, k) M_t(a, j) U(j, k) with
//   M_t(a, j) = sum_{tap : j(a, tap) = j} eq(t, tap),
// the op's matrix with every kernel entry replaced by eq(t, tap). M_t~(q, s) therefore factors as
// the convolution's W~(q, s) does in the pow2 layouts (docs/IMAGE_LAYOUT.md section 2):
//   M_t~(q, s) = sum_{oc, ic, kh, kw} eq(t, (oc, ic, kh, kw)) a(oc) e_c(ic) S_h(kh) S_w(kw)
// in O(kernel entries + kernel_h H_out + kernel_w W_out + the eq tables), never O(positions x taps).
#include <array>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

#include "core/polynomial.hpp"
#include "verifier/linear_op.hpp"

namespace nnproof {

// S[k] = sum_{x < out_n} eq_out[x] eq_in[stride x + k - pad] over the rows (or columns) in range.
template <class K>
std::vector<K> shifted_axis_sums(const std::vector<K>& eq_out, const std::vector<K>& eq_in, std::size_t out_n,
                                 std::size_t in_n, std::size_t kernel, std::size_t stride, std::size_t pad) {
  std::vector<K> S(kernel, K::zero());
  for (std::size_t k = 0; k < kernel; ++k)
    for (std::size_t x = 0; x < out_n; ++x) {
      const std::size_t i = x * stride + k;  // shifted by pad
      if (i >= pad && i < pad + in_n) S[k] += eq_out[x] * eq_in[i - pad];
    }
  return S;
}

// M_t~(q, s) for a convolution whose input and output are both in pow2 layouts (pow2_in and
// pow2_out set); t has ceil_log2(kernel entries) coordinates, q ceil_log2(out_size), s
// ceil_log2(in_size), each low bit first. Throws std::invalid_argument otherwise.
template <class K>
K tap_incidence_mle(const ConvShape& c, std::span<const K> t, std::span<const K> q, std::span<const K> s) {
  if (!c.pow2_in || !c.pow2_out)
    throw std::invalid_argument("tap_incidence_mle: the convolution's images are not in pow2 layouts");
  if (t.size() != ceil_log2(c.kernel_size()) || q.size() != ceil_log2(c.out_size()) ||
      s.size() != ceil_log2(c.in_size()))
    throw std::invalid_argument("tap_incidence_mle: a point has the wrong number of coordinates");
  // Column, row and channel bits of a point (the pow2 layout keeps them apart).
  auto split = [](std::span<const K> x, std::size_t rows, std::size_t cols) {
    const std::size_t lw = ceil_log2(cols), lh = ceil_log2(rows);
    return std::array<std::vector<K>, 3>{eq_table<K>(x.first(lw)), eq_table<K>(x.subspan(lw, lh)),
                                         eq_table<K>(x.subspan(lw + lh))};
  };
  const auto [qw, qh, qc] = split(q, c.out_rows(), c.out_cols());
  const auto [sw, sh, sc] = split(s, c.in_rows(), c.in_cols());
  const std::vector<K> Sh = shifted_axis_sums(qh, sh, c.out_h(), c.in_h, c.kernel_h, c.stride_h, c.pad_top);
  const std::vector<K> Sw = shifted_axis_sums(qw, sw, c.out_w(), c.in_w, c.kernel_w, c.stride_w, c.pad_left);
  const std::vector<K> et = eq_table<K>(t);
  const std::size_t gin = c.group_in(), per_group = c.out_channels / c.groups;
  K acc = K::zero();
  for (std::size_t oc = 0; oc < c.out_channels; ++oc)
    for (std::size_t cl = 0; cl < gin; ++cl) {
      const K channels = qc[oc] * sc[oc / per_group * gin + cl];
      K window = K::zero();
      for (std::size_t kh = 0; kh < c.kernel_h; ++kh) {
        const std::size_t base = ((oc * gin + cl) * c.kernel_h + kh) * c.kernel_w;
        K row = K::zero();
        for (std::size_t kw = 0; kw < c.kernel_w; ++kw) row += et[base + kw] * Sw[kw];
        window += row * Sh[kh];
      }
      acc += channels * window;
    }
  return acc;
}

}  // namespace nnproof
