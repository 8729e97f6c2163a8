// SPDX-License-Identifier: Apache-2.0
#pragma once
// The cpu engine's convolutions on the exact limb GEMM of the dense path (issue 23, item 2): each
// input value is cut into its bytes (eight for m61, sixteen for m127), the bytes of a block of
// samples become the batch dimension of one oneDNN u8 x s8 -> s32 convolution (VNNI or AMX, in
// oneDNN's int8 kernels), and each output is rebuilt as sum_l 2^(8 l) G_l mod p by the dense path's
// recombine_limbs. Exact: a byte is at most 255 and |w| <= 128, so fewer than 2^31 / (128 x 255)
// taps per output (int8_byte_sums_exact) keep every int32 sum exact (a clamped kernel's, its
// residual taps added: 255 x the largest sum of |w| over an output's taps below 2^31, on the whole
// weights); oneDNN's zero padding is the convolution's. The same result as structured_forward's apply_op, bit for bit
// (the field element is unique); only where oneDNN's int8 kernels use VNNI or AMX (int8_limb_gemm_available), since
// without them it forms 16-bit pair sums that saturate.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/field_m127.hpp"
#include "core/field_m61.hpp"
#include "kernels/cpu/op_output.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "verifier/linear_op.hpp"

namespace nnproof {

// Whether the int8 route is exact for op here: a convolution with int8 weights, or int16 weights
// clamped into int8 with a few residual taps (clamped_kernel_fits, conv_int8_kernel.hpp), or split
// into two int8 halves w = lo + 256 hi (all but w > 32639; twice the output channels, the halves
// joined in the field), few enough taps per output, on a CPU with VNNI or AMX.
bool int8_conv_exact(const LinearOp& op);

// Whether the cpu engine takes it: exact, and at least kInt8ConvMinTaps taps per output. Below
// that the 16 int32 products per output (m127) cost more to write and join than the 31-bit limb
// route's five in-register sums: on CNN-2-Quad's and the CIFAR-size CNN's first convolutions (25
// and 27 taps) the limb route was faster, on their second ones (400 and 288 taps) this one was
// (docs/PERFORMANCE.md, session 13).
inline constexpr std::size_t kInt8ConvMinTaps = 64;
bool int8_conv_route_fits(const LinearOp& op);

// out (op.rows x batch, row-major) = op applied to `in` (op.cols rows of stride in_stride);
// int8_conv_exact(op) must hold. Parallel over blocks of up to 16 samples, each split, convolved
// and joined on one thread, a block of output channels at a time; max_chunk_bytes bounds the int32
// products of one such block (at least one sample and one channel, or all of a grouped
// convolution's channels: smaller in tests, to run many blocks of channels and a shorter last
// block of samples).
inline constexpr std::size_t kConvChunkBytes = std::size_t{4} << 20;
std::vector<Fp61> apply_conv_int8(const LinearOp& op, const Fp61* in, std::size_t in_stride, std::size_t batch,
                                  std::size_t max_chunk_bytes = kConvChunkBytes);
std::vector<Fp127> apply_conv_int8(const LinearOp& op, const Fp127* in, std::size_t in_stride, std::size_t batch,
                                   std::size_t max_chunk_bytes = kConvChunkBytes);

// The same, written to `out` (every row of op.rows, samples [0, batch), the bias added).
void apply_conv_int8_into(const LinearOp& op, const Fp61* in, std::size_t in_stride, std::size_t batch,
                          const OpOutput<Fp61>& out);
void apply_conv_int8_into(const LinearOp& op, const Fp127* in, std::size_t in_stride, std::size_t batch,
                          const OpOutput<Fp127>& out);

// The same from non-negative 64-bit integers below 2^raw_bits (a sum pool of a narrow Z's squares,
// structured_cpu.hpp): half the bytes of m127's elements to read, and no scan for their width.
void apply_conv_int8_into(const LinearOp& op, const std::uint64_t* in, std::size_t in_stride, std::size_t batch,
                          unsigned raw_bits, const OpOutput<Fp61>& out);
void apply_conv_int8_into(const LinearOp& op, const std::uint64_t* in, std::size_t in_stride, std::size_t batch,
                          unsigned raw_bits, const OpOutput<Fp127>& out);

// The same into a narrow Z's int64 entries (kernels/cpu/narrow_forward.hpp, int8_conv_narrow): each
// output rebuilt mod 2^64, exact only where every output plus its bias is below 2^63 in magnitude
// (output_bound_bits, structured_limbs.hpp), which the caller has checked.
void apply_conv_int8_into(const LinearOp& op, const std::uint64_t* in, std::size_t in_stride, std::size_t batch,
                          unsigned raw_bits, const NarrowOutput& out, std::size_t max_chunk_bytes = kConvChunkBytes);

}  // namespace nnproof
