// SPDX-License-Identifier: Apache-2.0
#pragma once
// The kernel side of the int8 convolution (conv_int8.cpp): an int16 kernel as two int8 halves, or
// clamped into int8 with its few larger weights as residual taps, a block of its output channels,
// and its columns folded into the channels for AMX (with the images folded to match).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "verifier/linear_op.hpp"

namespace nnproof::conv_kernel {

// A kernel entry past int8's range, of a clamped kernel: the part r = w - clamp(w, -128, 127) that
// oneDNN's int8 convolution leaves out, added to its int32 products by add_residual.
struct ResidualTap {
  std::size_t oc, ic, kh, kw;  // ic: the input channel, counted over every group
  std::int32_t r;
};

// The kernel as int8: itself when stored as int8 (halves = 1); an int16 kernel clamped into int8
// plus its residual taps (halves = 1, clamped_kernel_fits), or else as two int8 kernels
// w = lo + 256 hi, lo in [-128, 127], side by side as twice the output channels (halves = 2): in
// each group its lo channels, then its hi channels.
struct Int8Kernel {
  std::size_t halves = 1;
  std::vector<std::int8_t> w;         // (halves out_channels) x group_in x kernel_h x kernel_w
  std::vector<ResidualTap> residual;  // a clamped kernel's; kernel_block and folded_kernel drop them
};

// The halves of w, or nothing when hi leaves int8 (w > 32639).
std::optional<std::pair<std::int8_t, std::int8_t>> split_weight(std::int64_t w);

// Whether op's int16 kernel runs clamped into int8 with residual taps: at most one entry in
// kResidualShare leaves int8, and every output's int32 sums stay exact with the whole weights
// (255 max_abs_row_sum(op) < 2^31). A residual tap costs a scalar multiply-add per output position
// and image; the second half it saves costs every entry's products at 64 a cycle (VNNI) or about
// 512 (AMX), and twice the int32 products to join. Quantized float kernels at beta = 256 have a few
// such entries: CNN-2-Quad's second convolution 3 of 12800 (|w| up to 158), which halved its int8
// convolutions' work on Zen 4 (docs/PERFORMANCE.md, session 29).
inline constexpr std::size_t kResidualShare = 512;
bool clamped_kernel_fits(const LinearOp& op);

// op's kernel as an Int8Kernel: int8, clamped (clamped_kernel_fits) or halves, whose every weight
// must then split (split_weight).
Int8Kernel int8_kernel(const LinearOp& op);

// dst (the int32 products of `images` images of the output channels [o0, o0 + ocb), nhwc, as
// oneDNN wrote them) += each of k's residual taps among those channels times its input bytes in
// src (the images of c's input, nhwc, unfolded): the clamped kernel's products become the whole
// kernel's.
void add_residual(const ConvShape& c, const Int8Kernel& k, std::size_t o0, std::size_t ocb, std::size_t images,
                  const std::uint8_t* src, std::int32_t* dst);

// The kernel's output channels [o0, o0 + ocb) as an Int8Kernel of a convolution with ocb output
// channels (groups == 1): its lo channels, then its hi channels.
Int8Kernel kernel_block(const Int8Kernel& k, std::size_t OC, std::size_t o0, std::size_t ocb);

// A kernel's columns folded into the channels: the convolution of shape c as one of kernel_h x 1
// over kernel_w x in_channels channels, whose image has a column per output column ow holding the
// kernel_w input positions that ow's taps read (fold_columns). oneDNN's AMX convolution reduces over
// the channels of a tap in tiles of 64 bytes: CNN-2-Quad's second convolution (16 channels, 5 x 5)
// filled a quarter of each, and took 0.26 ms a block of 16 samples x 5 bytes; folded (80 channels,
// 5 x 1), 0.09 ms. Where the channels are 32 or more (CIFAR-size's), folding was slower; without
// AMX (VNNI on Zen 4) it made no difference. Only without groups (a group's channels would
// interleave with the columns). NNPROOF_CONV_FOLD=always folds without AMX too (the same exact
// products on VNNI): how the tests run the route on any CPU.
bool fold_kernel_columns(const ConvShape& c);

// c's folded convolution: kernel_w x in_channels channels, out_w() columns, a kernel_h x 1 kernel.
ConvShape folded_shape(const ConvShape& c);

// k (oihw, groups 1) as the folded convolution's kernel: w'[o][kw C + ci][kh][0] = w[o][ci][kh][kw].
Int8Kernel folded_kernel(const Int8Kernel& k, const ConvShape& c);

// `images` images of c's input (nhwc, u8) as the folded convolution's (folded_shape): for each
// row and output column ow, the bytes of input columns ow stride_w - pad_left + kw (kw <
// kernel_w), zero where that column is padding. One copy a column where every one is inside.
void fold_columns(const ConvShape& c, std::size_t images, const std::uint8_t* src, std::uint8_t* dst);

}  // namespace nnproof::conv_kernel
