// SPDX-License-Identifier: Apache-2.0
#pragma once
// Tables the prover works on: row-major matrices whose dimensions are padded to powers of two
// (PROTOCOL.md section 3), the row bits high.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/polynomial.hpp"
#include "kernels/engine/uninitialized.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// Base of an engine's own copy of a table (the cuda engine's device memory), which the engine
// derives with its payload. Not polymorphic: `kind` is the address of a tag that the derived type
// owns (the Thrust engines: one per build and field, DeviceTable in kernels/thrust/engine.inl), so an
// engine recognizes its own copies by comparing addresses and static_casts them, no RTTI needed;
// any other kind it refuses (or, for to_host, cannot download). A type's tag rather than the
// making engine's address: engines of one build share the device and read each other's copies,
// and a table may outlive its engine, whose address a later engine of another build can take. The
// copy is destroyed through the shared_ptr that made it, which knows its type; hence the protected
// destructor, so no one deletes it through this base.
struct DeviceCopy {
  const void* const kind;

 protected:
  explicit DeviceCopy(const void* kind_tag) : kind(kind_tag) {}
  ~DeviceCopy() = default;
};

template <class T>
struct Table2D {
  std::size_t rows = 0, cols = 0;  // padded: powers of two
  UninitializedVector<T> data;     // rows * cols, zero outside the real entries; empty while only on a device
  // An engine's own copy (the cuda engine's device memory): tables an engine produces stay with it
  // for the whole proof, and `data` is filled only by Engine::to_host.
  std::shared_ptr<const DeviceCopy> device;
  bool on_host() const { return data.size() == rows * cols; }

  Table2D() = default;
  Table2D(std::size_t r, std::size_t c) : rows(r), cols(c), data(r * c, T::zero()) {}
  // Entries unwritten, for a pass that writes every one (or the real ones, then zero_padding):
  // zero-filling the TIMIT shape's 8 MiB tables first cost ~1 ms of one core each, ~5 ms of the
  // 0.065 s forward pass.
  static Table2D unwritten(std::size_t r, std::size_t c) {
    Table2D t;
    t.rows = r;
    t.cols = c;
    t.data.resize(r * c);
    return t;
  }
  T& at(std::size_t r, std::size_t c) { return data[r * cols + c]; }
  const T& at(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
};

inline std::size_t padded(std::size_t d) { return std::size_t{1} << ceil_log2(d); }

// Zeroes the entries outside the real_rows x real_cols corner.
template <class T>
void zero_padding(Table2D<T>& t, std::size_t real_rows, std::size_t real_cols) {
  for (std::size_t r = 0; r < real_rows; ++r) std::fill(&t.at(r, 0) + real_cols, &t.at(r, 0) + t.cols, T::zero());
  std::fill(t.data.begin() + static_cast<std::ptrdiff_t>(real_rows * t.cols), t.data.end(), T::zero());
}

// The protocol's n_0 x b input table is the transpose of the user's b rows of n_0 values, written
// in bands of kInputBand rows, each band in tiles of kInputBand x kInputBand entries: a tile reads
// kInputBand pieces of input rows and writes kInputBand pieces of table rows, each piece two cache
// lines (m127), so that in most tiles the lines stay in L1 even where the rows alias (m127 at
// batch 256 has rows exactly 4 KiB apart, all in one L1 set). Bands of 64 rows, a column at a time
// (64 lines 4 KiB apart per column), took 4 ms for CIFAR-size inputs at batch 256 (m127); tiles
// of 8, 1.9 ms, most of it faulting in the new table's pages.
// (Element by element, each write a new line, the TIMIT shape's 512 x 1845 input took ~7 ms.)
inline constexpr std::size_t kInputBand = 8;
// The bands of a table of `rows` rows (padded(n_0): each band also writes its padding).
inline std::size_t input_bands(std::size_t rows) { return (rows + kInputBand - 1) / kInputBand; }

// A row of the input table that holds no feature (transpose_input_band's `of`): a zero row.
inline constexpr std::size_t kNoFeature = SIZE_MAX;

// For each row of a table of `rows` rows, the feature that `input_map` (feature j -> its row: the
// proof's image layout, ProofLayout::input_map) puts there, or kNoFeature.
inline std::vector<std::size_t> features_of_rows(std::span<const std::size_t> input_map, std::size_t rows) {
  std::vector<std::size_t> of(rows, kNoFeature);
  for (std::size_t j = 0; j < input_map.size(); ++j) of.at(input_map[j]) = j;
  return of;
}

// Rows [band kInputBand, (band + 1) kInputBand) of X from the batch x n0 input (sample-major):
// X[r][k] = input[k n0 + f] for k < batch where row r holds feature f (`of`, features_of_rows; empty:
// f = r for r < n0), zero in every other column and in rows that hold none. The scatter into the
// proof's image layout happens here, in the transpose's tiles: a separate scatter first wrote and
// read a second copy of the input (CNN-2-Quad's 1000 images: 2.5 ms of a 63 ms proof).
template <class F>
void transpose_input_band(const std::vector<F>& input, std::size_t n0, std::size_t batch, std::size_t band,
                          Table2D<F>& X, std::span<const std::size_t> of = {}) {
  constexpr std::size_t T = kInputBand;
  const std::size_t j0 = band * T, j1 = std::min(X.rows, j0 + T);
  const auto feature = [&](std::size_t r) { return !of.empty() ? of[r] : r < n0 ? r : kNoFeature; };
  for (std::size_t k0 = 0; k0 < batch; k0 += T) {
    const std::size_t k1 = std::min(batch, k0 + T);
    for (std::size_t j = j0; j < j1; ++j) {
      const std::size_t f = feature(j);
      if (f == kNoFeature) continue;
      for (std::size_t k = k0; k < k1; ++k) X.at(j, k) = input[k * n0 + f];
    }
  }
  for (std::size_t j = j0; j < j1; ++j) {
    F* row = &X.at(j, 0);
    std::fill(row + (feature(j) != kNoFeature ? batch : 0), row + X.cols, F::zero());
  }
}

// The engines' input_table: the padded table (rows: padded n0, or the layout's padded rows_n0 where
// `rows` maps feature j to its row, ProofLayout::input_map), filled band by band through
// `for_each_band(bands, body)`: the caller's loop, sequential or parallel.
template <class F, class ForEachBand>
Table2D<F> input_table_by_bands(const std::vector<F>& input, std::size_t n0, std::size_t batch,
                                std::span<const std::size_t> rows, std::size_t rows_n0, ForEachBand&& for_each_band) {
  auto X = Table2D<F>::unwritten(padded(rows.empty() ? n0 : rows_n0), padded(batch));
  const std::vector<std::size_t> of = rows.empty() ? std::vector<std::size_t>{} : features_of_rows(rows, X.rows);
  for_each_band(input_bands(X.rows), [&](std::size_t band) {
    transpose_input_band(input, n0, batch, band, X, std::span<const std::size_t>(of));
  });
  return X;
}

// A layer as the prover sees it: the integer weights plus the bias already in the field.
template <class F>
struct FieldLayer {
  const QuantizedLayer* q = nullptr;  // rows x cols integer weights
  std::vector<F> bias;                // q->rows entries
  std::size_t rows() const { return q->rows; }
  std::size_t cols() const { return q->cols; }
};

template <class F>
std::vector<FieldLayer<F>> field_layers(const QuantizedModel& model) {
  std::vector<FieldLayer<F>> out;
  for (const auto& l : model.layers) {
    FieldLayer<F> fl{&l, {}};
    for (auto b : l.bias) fl.bias.push_back(F::from_i128(b));
    out.push_back(std::move(fl));
  }
  return out;
}

}  // namespace nnproof
