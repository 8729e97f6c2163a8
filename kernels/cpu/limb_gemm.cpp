// SPDX-License-Identifier: Apache-2.0
#include "kernels/cpu/limb_gemm.hpp"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <string>

#include "verifier/parallel.hpp"

namespace nnproof {

LimbPlan plan_limbs(std::uint64_t max_row_abs_sum, unsigned field_bits) {
  constexpr std::uint64_t kExact = std::uint64_t{1} << 53;
  unsigned c = 0;
  while (c < field_bits && c < 52 &&
         ((std::uint64_t{1} << (c + 1)) - 1) * static_cast<unsigned __int128>(max_row_abs_sum) <= kExact)
    ++c;
  if (c < 8) return {};  // too narrow to pay: the direct kernel is faster and simpler
  return {c, (field_bits + c - 1) / c};
}

void dgemm_rowmajor(std::size_t rows, std::size_t inner, std::size_t ncols, const double* W, const double* B,
                    double* C) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(ncols),
              static_cast<int>(inner), 1.0, W, static_cast<int>(inner), B, static_cast<int>(ncols), 0.0, C,
              static_cast<int>(ncols));
}

void int8_transposed_byte_gemm(std::size_t cols, std::size_t inner, std::size_t nbytes, const std::int8_t* w,
                               const std::int8_t* bytes_minus_128, std::int32_t* C) {
  const std::int32_t no_c_offset = 0;
  const dnnl_status_t st =
      dnnl_gemm_s8s8s32('T', 'N', 'F', static_cast<dnnl_dim_t>(cols), static_cast<dnnl_dim_t>(nbytes),
                        static_cast<dnnl_dim_t>(inner), 1.0f, w, static_cast<dnnl_dim_t>(cols), 0, bytes_minus_128,
                        static_cast<dnnl_dim_t>(nbytes), -128, 0.0f, C, static_cast<dnnl_dim_t>(nbytes), &no_c_offset);
  if (st != dnnl_success)
    throw std::runtime_error("oneDNN int8 GEMM failed (status " + std::to_string(static_cast<int>(st)) + ")");
}

namespace {
dnnl::memory::dim dnnl_dim(std::size_t d) { return static_cast<dnnl::memory::dim>(d); }
}  // namespace

// One primitive per block width (ncols); the packed W^T is shared between widths whose kernels
// read the same layout.
struct Int8WeightsMatmul::Width {
  std::size_t ncols;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul matmul;
  dnnl::memory packed;  // W^T in pd's weights layout
};

struct Int8WeightsMatmul::Impl {
  std::size_t rows, inner;
  std::vector<std::int8_t> w;  // the weights as given, for holds()
  std::vector<std::int64_t> row_sums;
  dnnl::engine cpu{dnnl::engine::kind::cpu, 0};
  std::vector<Width> widths;  // most recently made last
};

Int8WeightsMatmul::Int8WeightsMatmul(const std::int8_t* w, std::size_t rows, std::size_t inner)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.rows = rows, m.inner = inner;
  m.w.assign(w, w + rows * inner);
  m.row_sums.resize(rows);
  parallel_for(rows, [&](std::size_t a) {
    std::int64_t r = 0;
    for (std::size_t j = 0; j < inner; ++j) r += w[a * inner + j];
    m.row_sums[a] = r;
  });
}

Int8WeightsMatmul::~Int8WeightsMatmul() = default;

bool Int8WeightsMatmul::holds(const std::int8_t* w, std::size_t rows, std::size_t inner) const {
  const Impl& m = *impl_;
  if (m.rows != rows || m.inner != inner) return false;
  return equal_in_parallel(m.w.data(), w, m.w.size());
}

const std::vector<std::int64_t>& Int8WeightsMatmul::row_sums() const { return impl_->row_sums; }

std::size_t Int8WeightsMatmul::widths() const { return impl_->widths.size(); }

const Int8WeightsMatmul::Width& Int8WeightsMatmul::width(std::size_t ncols) {
  using dnnl::memory;
  Impl& m = *impl_;
  for (const Width& x : m.widths)
    if (x.ncols == ncols) return x;
  try {
    const memory::desc src({dnnl_dim(ncols), dnnl_dim(m.inner)}, memory::data_type::s8, memory::format_tag::ab);
    const memory::desc weights_any({dnnl_dim(m.inner), dnnl_dim(m.rows)}, memory::data_type::s8,
                                   memory::format_tag::any);
    const memory::desc dst({dnnl_dim(ncols), dnnl_dim(m.rows)}, memory::data_type::s32, memory::format_tag::ab);
    Width x{ncols, dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights_any, dst), m.cpu), {}, {}};
    x.matmul = dnnl::matmul(x.pd);
    for (const Width& other : m.widths)
      if (other.pd.weights_desc() == x.pd.weights_desc()) x.packed = other.packed;  // shared, not copied
    if (!x.packed) {
      // W (rows x inner, row-major) is W^T (inner x rows) in the `ba` layout: one reorder repacks it.
      const memory::desc w_t({dnnl_dim(m.inner), dnnl_dim(m.rows)}, memory::data_type::s8, memory::format_tag::ba);
      memory given(w_t, m.cpu, m.w.data());
      x.packed = memory(x.pd.weights_desc(), m.cpu);
      dnnl::stream stream(m.cpu);
      dnnl::reorder(given, x.packed).execute(stream, given, x.packed);
      stream.wait();
    }
    // A batch needs at most two widths (full blocks and a narrower last one); a process proving
    // batches of many sizes keeps the most recent few.
    constexpr std::size_t kMaxWidths = 4;
    if (m.widths.size() == kMaxWidths) m.widths.erase(m.widths.begin());
    m.widths.push_back(std::move(x));
    return m.widths.back();
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("oneDNN int8 matmul setup failed: ") + e.what());
  }
}

void Int8WeightsMatmul::run(std::size_t ncols, const std::int8_t* limbs_t_minus_128, std::int32_t* c_t) {
  const Width& x = width(ncols);
  try {
    dnnl::memory src(x.pd.src_desc(), impl_->cpu, const_cast<std::int8_t*>(limbs_t_minus_128)),
        dst(x.pd.dst_desc(), impl_->cpu, c_t);
    dnnl::stream stream(impl_->cpu);
    x.matmul.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, x.packed}, {DNNL_ARG_DST, dst}});
    stream.wait();
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("oneDNN int8 matmul failed: ") + e.what());
  }
}

}  // namespace nnproof
