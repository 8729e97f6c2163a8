// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/conv_int8.hpp"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/lazy.hpp"
#include "kernels/cpu/conv_int8_bytes.hpp"
#include "kernels/cpu/conv_int8_kernel.hpp"
#include "kernels/cpu/int8_limbs.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

namespace {

using namespace conv_bytes;
using namespace conv_kernel;
using dnnl::memory;
memory::dim md(std::size_t d) { return static_cast<memory::dim>(d); }

// One oneDNN convolution of shape c over `images` images of bytes (nhwc, u8) into int32 (nhwc),
// for each of several kernels of that shape (output-channel blocks), each repacked into the layout
// its implementation reads. Run by several threads at once, each with its own scratchpad
// (scratchpad_mode::user), each call single-threaded (oneDNN runs a primitive called inside an
// OpenMP parallel region on the calling thread alone). With AMX, oneDNN 2.6.3's brgemm convolution
// reads a few entries past a vector of its own while generating its kernel (skipped_bd_mask in
// jit_brgemm_amx_uker.cpp: a loop's advance past its last block, a value never used). The tests'
// products matched on AMX at every shape they run; but under ASan's allocator the read can
// fault, so the asan test preset caps oneDNN below AMX.
struct ByteConv {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward conv;
  std::vector<memory> weights;  // one per kernel

  ByteConv(const ConvShape& c, const std::vector<Int8Kernel>& kernels, std::size_t images) {
    const std::size_t oc = kernels.front().halves * c.out_channels;
    using dt = memory::data_type;
    using tag = memory::format_tag;
    const memory::dims wdims =
        c.groups == 1 ? memory::dims{md(oc), md(c.in_channels), md(c.kernel_h), md(c.kernel_w)}
                      : memory::dims{md(c.groups), md(oc / c.groups), md(c.group_in()), md(c.kernel_h), md(c.kernel_w)};
    const memory::desc src({md(images), md(c.in_channels), md(c.in_h), md(c.in_w)}, dt::u8, tag::nhwc),
        w_any(wdims, dt::s8, tag::any), dst({md(images), md(oc), md(c.out_h()), md(c.out_w())}, dt::s32, tag::nhwc);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd = dnnl::convolution_forward::primitive_desc({dnnl::prop_kind::forward_inference,
                                                    dnnl::algorithm::convolution_direct,
                                                    src,
                                                    w_any,
                                                    dst,
                                                    {md(c.stride_h), md(c.stride_w)},
                                                    {md(c.pad_top), md(c.pad_left)},
                                                    {md(c.pad_bottom), md(c.pad_right)}},
                                                   attr, eng);
    conv = dnnl::convolution_forward(pd);
    dnnl::stream s(eng);
    for (const Int8Kernel& k : kernels) {
      memory given(memory::desc(wdims, dt::s8, c.groups == 1 ? tag::oihw : tag::goihw), eng,
                   const_cast<std::int8_t*>(k.w.data()));
      weights.emplace_back(pd.weights_desc(), eng);
      dnnl::reorder(given, weights.back()).execute(s, given, weights.back());
    }
    s.wait();
  }

  std::size_t scratchpad_bytes() const { return pd.scratchpad_desc().get_size(); }

  void run(std::size_t kernel, const std::uint8_t* src, std::int32_t* dst, std::uint8_t* scratchpad) const {
    memory s_mem(pd.src_desc(), eng, const_cast<std::uint8_t*>(src)), d_mem(pd.dst_desc(), eng, dst),
        pad(pd.scratchpad_desc(), eng, scratchpad);
    dnnl::stream s(eng);
    conv.execute(s, {{DNNL_ARG_SRC, s_mem},
                     {DNNL_ARG_WEIGHTS, weights[kernel]},
                     {DNNL_ARG_DST, d_mem},
                     {DNNL_ARG_SCRATCHPAD, pad}});
    s.wait();
  }
};

// A thread's buffers for its blocks: the block's bytes, oneDNN's scratchpad, its int32 products,
// the join's rebuilt values (V: field elements, or 64-bit integers for a narrow Z) and the zero
// bias its full-width rebuild adds (as many: a join piece's entries are at most a block's values).
template <class V>
struct BlockBuffers {
  UninitializedVector<std::uint8_t> src, folded, pad;  // folded: fold_columns' images, or none
  UninitializedVector<std::int32_t> dst;
  std::vector<V> z, zeros;
  BlockBuffers(std::size_t src_bytes, std::size_t folded_bytes, std::size_t pad_bytes, std::size_t products,
               std::size_t values)
      : src(src_bytes), folded(folded_bytes), pad(pad_bytes), dst(products), z(values), zeros(values, V{}) {}
};

// How conv_int8 cuts its work: blocks of `samples` samples (their bytes split once, for every
// block of channels: a task) times `oc_block` output channels (a divisor of the output channels; all of
// them where the convolution has groups), each block's int32 products within the byte bound.
// The tables are feature-major, and a block reads and writes `samples` consecutive entries of each
// row it visits: 16 m127 samples are four cache lines of a row, where the first version's blocks of
// four samples times every channel read and wrote one line a row, each in another page (the split
// and join were 94% of CIFAR's second convolution, oneDNN's own work 6%).
struct ConvBlocks {
  std::size_t samples = 1, oc_block = 1;
};

inline constexpr std::size_t kSampleBlock = 16;

// Samples per block: 16, fewer where the batch would leave threads without a block (down to 4,
// the first version's chunks: a small batch on many cores).
std::size_t samples_per_block(std::size_t batch, std::size_t threads) {
  std::size_t s = kSampleBlock;
  while (s > 4 && batch < s * threads) s /= 2;
  return std::min(s, batch);
}

ConvBlocks conv_blocks(const ConvShape& c, std::size_t halves, std::size_t L, std::size_t batch,
                       std::size_t max_block_bytes) {
  const std::size_t per_channel = L * halves * c.out_h() * c.out_w() * sizeof(std::int32_t);  // a sample's
  const std::size_t OC = c.out_channels;
  for (std::size_t samples = samples_per_block(batch, static_cast<std::size_t>(omp_get_max_threads())); samples >= 1;
       samples /= 2) {
    for (std::size_t ocb = OC; ocb >= 1; --ocb) {
      if (OC % ocb != 0) continue;
      if (ocb * samples * per_channel <= max_block_bytes) return {samples, ocb};
      if (c.groups != 1) break;  // a grouped convolution keeps its channels together
    }
    if (samples == 1) break;
  }
  return {1, c.groups == 1 ? 1 : OC};
}

// The bit length of the input's largest representative: its own scan for field elements; given
// for 64-bit integers (the pool that wrote them kept it).
template <class F>
unsigned raw_width(const F* in, const LinearOp& op, std::size_t in_stride, std::size_t batch, unsigned) {
  return value_width(in, op.cols, in_stride, batch).raw;
}
unsigned raw_width(const std::uint64_t*, const LinearOp&, std::size_t, std::size_t, unsigned given) { return given; }

template <class Out, class In>
void conv_int8(const LinearOp& op, const In* in, std::size_t in_stride, std::size_t batch, const Out& out,
               std::size_t max_block_bytes, unsigned raw_bits = 0) {
  constexpr std::size_t kFull = full_width_bytes<Out>();
  const ConvShape& c = op.conv;
  const Int8Kernel kernel = int8_kernel(op);
  // The input's bytes that are not zero in every value (pooled squares: about half of m127's),
  // rebuilt in 128 bits; else all of them (any value negative, or wide).
  const std::size_t used = (raw_width(in, op, in_stride, batch, raw_bits) + 7) / 8;
  const std::size_t L = used <= kShortBytes ? std::max<std::size_t>(used, 1) : kFull;
  const ConvBlocks blocks = conv_blocks(c, kernel.halves, L, batch, max_block_bytes);
  const std::size_t S = blocks.samples, ocb = blocks.oc_block, oc_blocks = c.out_channels / ocb;
  const std::size_t sample_blocks = (batch + S - 1) / S, rest = batch - (sample_blocks - 1) * S;
  ConvShape block_shape = c;
  block_shape.out_channels = ocb;
  // oneDNN's convolution: c's own, or with the kernel's columns folded into the channels (the same
  // products, in the same output layout).
  const bool fold = fold_kernel_columns(c);
  const ConvShape run_shape = fold ? folded_shape(block_shape) : block_shape;
  const Int8Kernel run_kernel = fold ? folded_kernel(kernel, c) : kernel;
  const std::size_t folded_bytes = fold ? S * L * c.in_h * c.out_w() * c.kernel_w * c.in_channels : 0;
  std::vector<Int8Kernel> kernels;
  for (std::size_t g = 0; g < oc_blocks; ++g)
    kernels.push_back(oc_blocks == 1 ? run_kernel : kernel_block(run_kernel, c.out_channels, g * ocb, ocb));
  std::exception_ptr failure;    // the first, from any thread
  std::uint64_t magnitudes = 0;  // of a NarrowOutput's values (join_bytes)
  const auto record = [&failure](std::exception_ptr e) {
#pragma omp critical(nnproof_conv_int8)
    if (!failure) failure = e;
  };
  try {
    const ByteConv full(run_shape, kernels, S * L);
    const std::optional<ByteConv> last =
        rest == S ? std::nullopt : std::make_optional<ByteConv>(run_shape, kernels, rest * L);
    const std::size_t pad_bytes = std::max(full.scratchpad_bytes(), last ? last->scratchpad_bytes() : 0);
    // One parallel region per op, a task per block of samples: split, then convolve and join each
    // block of channels, on one thread, in its cache (a barrier per block cost more than the work
    // on a loaded 2-core machine).
#pragma omp parallel
    {
      // A thread's buffers; one that cannot have them takes no block (every thread must reach the
      // loop's barrier) and the error is rethrown after the region. (On the heap, as their vectors
      // are: in a std::optional, GCC 12 warned that the vectors may be used uninitialized.)
      std::unique_ptr<BlockBuffers<typename Out::Value>> buf;
      try {
        buf = std::make_unique<BlockBuffers<typename Out::Value>>(
            S * L * c.in_size(), folded_bytes, pad_bytes, S * L * kernel.halves * block_shape.out_size(),
            std::max(S * kernel.halves * ocb, kJoinEntries));  // join_bytes' pieces, any n <= S
      } catch (...) {
        record(std::current_exception());
      }
#pragma omp for schedule(dynamic) reduction(| : magnitudes)
      for (std::int64_t t = 0; t < static_cast<std::int64_t>(sample_blocks); ++t) {
        if (!buf) continue;
        const std::size_t k0 = static_cast<std::size_t>(t) * S, n = std::min(S, batch - k0);
        try {
          split_bytes(c, L, in, in_stride, k0, n, buf->src.data());
          if (fold) fold_columns(c, n * L, buf->src.data(), buf->folded.data());
          const std::uint8_t* images = fold ? buf->folded.data() : buf->src.data();
          for (std::size_t g = 0; g < oc_blocks; ++g) {
            (n == S ? full : *last).run(g, images, buf->dst.data(), buf->pad.data());
            add_residual(c, kernel, g * ocb, ocb, n * L, buf->src.data(), buf->dst.data());
            magnitudes |= join_bytes<kFull>(c, OutputBlock{g * ocb, ocb, k0, n}, kernel.halves, L, buf->dst.data(), out,
                                            buf->z.data(), buf->zeros.data());
          }
        } catch (...) {
          record(std::current_exception());
        }
      }
    }
  } catch (...) {
    record(std::current_exception());
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const dnnl::error& e) {
      throw std::runtime_error(std::string("oneDNN int8 convolution failed: ") + e.what());
    }
  }
  write_padding_rows(c, batch, out);
  if constexpr (std::is_same_v<Out, NarrowOutput>) {
    if (!out.magnitudes) return;
    // The padding rows' values are biases: every one is counted (those of rows written above too).
    for (std::size_t a = 0; out.bias && a < op.rows; ++a)
      magnitudes |= static_cast<std::uint64_t>(out.bias[a] ^ (out.bias[a] >> 63));
    *out.magnitudes |= magnitudes;
  }
}

template <class F>
std::vector<F> conv_int8_vector(const LinearOp& op, const F* in, std::size_t in_stride, std::size_t batch,
                                std::size_t max_chunk_bytes) {
  std::vector<F> out(op.rows * batch);
  conv_int8(op, in, in_stride, batch, OpOutput<F>{out.data(), batch}, max_chunk_bytes);
  return out;
}

}  // namespace

bool int8_conv_exact(const LinearOp& op) {
  if (op.kind != LinearOp::Kind::conv || op.weights.width() > 2) return false;
  if (clamped_kernel_fits(op)) return int8_limb_gemm_available();  // its own bound, on the whole weights
  if (!op.weights.int8_data())  // int16: every weight must split into two int8 halves
    for (std::size_t i = 0; i < op.weights.size(); ++i)
      if (!split_weight(op.weights[i])) return false;
  return int8_byte_sums_exact(max_taps_per_row(op)) && int8_limb_gemm_available();
}

bool int8_conv_route_fits(const LinearOp& op) {
  return max_taps_per_row(op) >= kInt8ConvMinTaps && int8_conv_exact(op);
}

std::vector<Fp61> apply_conv_int8(const LinearOp& op, const Fp61* in, std::size_t in_stride, std::size_t batch,
                                  std::size_t max_chunk_bytes) {
  return conv_int8_vector(op, in, in_stride, batch, max_chunk_bytes);
}

std::vector<Fp127> apply_conv_int8(const LinearOp& op, const Fp127* in, std::size_t in_stride, std::size_t batch,
                                   std::size_t max_chunk_bytes) {
  return conv_int8_vector(op, in, in_stride, batch, max_chunk_bytes);
}

void apply_conv_int8_into(const LinearOp& op, const Fp61* in, std::size_t in_stride, std::size_t batch,
                          const OpOutput<Fp61>& out) {
  conv_int8(op, in, in_stride, batch, out, kConvChunkBytes);
}

void apply_conv_int8_into(const LinearOp& op, const Fp127* in, std::size_t in_stride, std::size_t batch,
                          const OpOutput<Fp127>& out) {
  conv_int8(op, in, in_stride, batch, out, kConvChunkBytes);
}

void apply_conv_int8_into(const LinearOp& op, const std::uint64_t* in, std::size_t in_stride, std::size_t batch,
                          unsigned raw_bits, const OpOutput<Fp61>& out) {
  conv_int8(op, in, in_stride, batch, out, kConvChunkBytes, raw_bits);
}

void apply_conv_int8_into(const LinearOp& op, const std::uint64_t* in, std::size_t in_stride, std::size_t batch,
                          unsigned raw_bits, const OpOutput<Fp127>& out) {
  conv_int8(op, in, in_stride, batch, out, kConvChunkBytes, raw_bits);
}

void apply_conv_int8_into(const LinearOp& op, const std::uint64_t* in, std::size_t in_stride, std::size_t batch,
                          unsigned raw_bits, const NarrowOutput& out, std::size_t max_chunk_bytes) {
  conv_int8(op, in, in_stride, batch, out, max_chunk_bytes, raw_bits);
}

}  // namespace nnproof
