// SPDX-License-Identifier: Apache-2.0
#pragma once
// The kernel side of the int8 convolution (conv_int8.cpp): an int16 kernel as two int8 halves, a
// block of its output channels, and its columns folded into the channels for AMX (with the
// images folded to match).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "verifier/linear_op.hpp"

namespace nnproof::conv_kernel {

// The kernel as int8: itself when stored as int8 (halves = 1); an int16 kernel as two int8 kernels
// w = lo + 256 hi, lo in [-128, 127], side by side as twice the output channels (halves = 2): in
// each group its lo channels, then its hi channels.
struct Int8Kernel {
  std::size_t halves = 1;
  std::vector<std::int8_t> w;  // (halves out_channels) x group_in x kernel_h x kernel_w
};

// The halves of w, or nothing when hi leaves int8 (w > 32639).
std::optional<std::pair<std::int8_t, std::int8_t>> split_weight(std::int64_t w);

// op's kernel as an Int8Kernel; every weight must split (split_weight).
Int8Kernel int8_kernel(const LinearOp& op);

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
