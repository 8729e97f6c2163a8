// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Thrust engine itself (kernels/thrust/thrust_engine.inl): the Engine operations, each a few
// Thrust calls on the functors of functors.hpp, the sum-check provers of sumchecks.inl and the
// forward pass of gemm.inl; and the trace's tables, which stay on this engine's device between
// operations (Table2D::device, docs/ARCHITECTURE.md).
//
// Include with the backend's definitions (NNP_THRUST_NS, kEngineName, exec(), gemm_s8,
// device_allocate / device_free), as thrust_engine.inl.
#include <thrust/copy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/transform.h>

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu_backward.hpp"
#include "kernels/cpu/structured_limbs.hpp"
#include "kernels/engine/engine.hpp"
#include "kernels/engine/weights_cache.hpp"
#include "kernels/thrust/backward_functors.hpp"
#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/eq_tables.inl"
#include "kernels/thrust/functors.hpp"
#include "kernels/thrust/gemm.inl"
#include "kernels/thrust/small_input.hpp"
#include "kernels/thrust/sumchecks.inl"
#include "kernels/thrust/thrust_errors.hpp"
#include "kernels/thrust/transfers.hpp"

namespace nnproof::NNP_THRUST_NS {

// A table this engine produced: it stays on the device for the whole proof (Table2D::device). Its
// kind is tag_'s address, one per backend namespace and field, so a table of this type is
// recognized by an address comparison and a static_cast (of(), not dynamic_cast). The other
// build's tables carry the other build's tag and are refused; tables of two engines of this build
// share one tag, as they share the device and its allocator (they read each other's).
template <class F>
class DeviceTable final : public DeviceCopy {
 public:
  explicit DeviceTable(DeviceVector<F> values) : DeviceCopy(&tag_), v(std::move(values)) {}
  // t's device copy when this type made it, else null.
  static const DeviceTable* of(const Table2D<F>& t) {
    return t.device && t.device->kind == &tag_ ? static_cast<const DeviceTable*>(t.device.get()) : nullptr;
  }
  DeviceVector<F> v;

 private:
  // Only its address matters. Not const, as LLVM's pass IDs: no linker merges a writable object
  // with another, so no other type's tag can share its address.
  static inline char tag_ = 0;
};

template <class Cfg>
class ThrustEngine final : public Engine<Cfg> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  std::string name() const override { return kEngineName; }
  std::size_t host_syncs() const override { return host_sync_count().load(std::memory_order_relaxed); }
  std::size_t table_allocations() const override { return table_allocation_count().load(std::memory_order_relaxed); }
  HostTransfers host_transfers() const override {
    const auto& c = transfer_counters();
    constexpr auto o = std::memory_order_relaxed;
    return {c.to_device.load(o), c.to_device_bytes.load(o), c.to_host.load(o), c.to_host_bytes.load(o)};
  }

  void to_host(Table2D<F>& t) override {
    if (t.on_host()) return;
    const auto& v = on_device(t);
    t.data.resize(v.size());
    download(v, t.data.begin());
  }

  // The input goes to the device once, as the user's rows (the backend's upload_input: the cuda
  // build's from pinned memory, without waiting for it), each value in the fewest bytes that hold
  // every value's centered form (small_input.hpp: 1 for an 8-bit input, not 8 or 16), and is lifted
  // to F and transposed there (the host's transpose was a sequential pass over the whole batch):
  // the first layer's forward and its col_combine read the table.
  // A layout's rows (`in_rows`: the proof's image layout, rows_n0 rows a sample): the device's
  // transpose scatters the input into them, through the row -> feature map (features_of_rows,
  // table.hpp), zero at the padding; the map stays on the device while the layout does
  // (device_layout_map).
  using Engine<Cfg>::input_table;
  Table2D<F> input_table(const std::vector<F>& input, std::size_t n0, std::size_t batch,
                         std::span<const std::size_t> in_rows, std::size_t rows_n0) override {
    const Index n = n0 * batch;
    if (input.size() != n || (!in_rows.empty() && in_rows.size() != n0))
      throw std::logic_error("input_table: " + std::to_string(input.size()) + " values for " + std::to_string(batch) +
                             " rows of " + std::to_string(n0));
    for (const std::size_t r : in_rows)
      if (r >= rows_n0) throw std::logic_error("input_table: a layout row past the table");
    const Index rows = padded(in_rows.empty() ? n0 : rows_n0), cols = padded(batch);
    const std::vector<Index> of = in_rows.empty() ? std::vector<Index>{} : features_of_rows(in_rows, rows);
    auto x = sized_table<F>(rows * cols);
    std::vector<std::int8_t> small(n);
    const unsigned width = narrow_input(input.data(), n, small.data());  // one pass for an 8-bit input
    const Index* feature_of_row = device_layout_map(of);
    if (width == 1)
      transpose_input(small, n0, batch, feature_of_row, x);
    else if (width == 2 && width < sizeof(F))
      transpose_input(narrowed<std::int16_t>(input), n0, batch, feature_of_row, x);
    else if (width == 4 && width < sizeof(F))
      transpose_input(narrowed<std::int32_t>(input), n0, batch, feature_of_row, x);
    else if (width == 8 && width < sizeof(F))
      transpose_input(narrowed<std::int64_t>(input), n0, batch, feature_of_row, x);
    else
      transpose_input(input, n0, batch, feature_of_row, x);
    return device_table(rows, cols, std::move(x));
  }

  // Keeps every Y (square). The activation sum-check (SquareSumcheck) lifts Z into a table in K,
  // beside Z uploaded in F when it is a host table (a structured layer's: device_view's staged copy,
  // freed once lifted), then folds into a spare half: K + F per entry covers both, as F >= K / 2.
  // A structured layer's forward runs on the host (forward: host_copy of Y; every op's output a
  // vector; the limb route's planes of an op's input, at most kLimbs31 int32 an entry,
  // structured_limbs.hpp). The dense forward's limbs and products (gemm.inl: ForwardScratch, kept
  // across layers), with the backend's copies of them (kGemmCopyBytes: thrust-omp's gemm_s8 in
  // doubles); the matrix product's partial sums (col_combine_into: partial_, kColLanes lanes, kept).
  ProofMemory proof_memory() const override {
    static_assert(kGemmAlign == 16, "ProofMemory pads the GEMM's dimensions to multiples of 16");
    ProofMemory m;
    m.keeps_activations = true;
    m.activation_k_halves = 2, m.activation_f_tables = 1;
    m.chain_writes_last_op = true;
    m.chain_input_bytes = sizeof(F) + kLimbs31<F> * sizeof(std::int32_t);
    m.gemm_limbs = limb_count<F>();
    m.gemm_input_bytes = sizeof(std::int8_t) + kGemmCopyBytes;
    m.gemm_output_bytes = sizeof(std::int32_t) + kGemmCopyBytes;
    m.combine_lanes = kColLanes;
    return m;
  }

  Table2D<F> forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) override {
    if (layer.q->structured()) return structured_forward_limbs(layer, host_copy(Y), batch);  // host: ARCHITECTURE.md
    DeviceVector<F> staged;
    const DeviceVector<F>& y = device_view(Y, staged);
    return device_table(padded(layer.rows()), Y.cols, dense_forward(layer, y, Y.cols, batch, weights_, forward_));
  }

  Table2D<F> square(const Table2D<F>& Z) override {
    DeviceVector<F> staged;
    const DeviceVector<F>& z = device_view(Z, staged);
    auto y = sized_table<F>(z.size());
    NNP_THRUST(thrust::transform(exec_nosync(), z.begin(), z.end(), y.begin(), SquareEntry<F>{}));
    return device_table(Z.rows, Z.cols, std::move(y));
  }

  std::vector<K> row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) override {
    if (layer.q->structured()) return structured_row_combine<K>(layer, eq_q);
    upload_into(eq_, eq_q.begin(), eq_q.begin() + static_cast<std::ptrdiff_t>(layer.rows()));
    row_combine_into(layer, raw(eq_), combined_);
    std::vector<K> out(combined_.size());
    download(combined_, out.begin());
    return out;
  }

  std::vector<K> col_combine(const Table2D<F>& Y, std::span<const K> eq_r) override {
    upload_into(eq_, eq_r.begin(), eq_r.end());
    col_combine_into(Y, raw(eq_), combined_);
    std::vector<K> out(combined_.size());
    download(combined_, out.begin());
    return out;
  }

  std::unique_ptr<SumcheckProver<K>> product_sumcheck(std::vector<K> A, std::vector<K> V) override {
    return std::make_unique<ProductSumcheck<K>>(A, V);
  }

  // A and V made where the sum-check reads them: when its rounds start, the points q and r go up
  // with the transcript's state (one transfer, DeviceRounds), the eq tables are built from them
  // there, and A and V are computed into the sum-check's own tables (LayerTables) and never come
  // down. (A structured layer's A is the host's, as its forward pass: ARCHITECTURE.md; it goes up
  // here, alone.) The Thrust engine keeps no carry (its col_combine_of_squares is col_combine), so
  // Z is not read. The layer, and this engine, must outlive the sum-check's first round.
  std::unique_ptr<SumcheckProver<K>> layer_product_sumcheck(const FieldLayer<F>& layer, const Table2D<F>& Y,
                                                            const Table2D<F>* /*Z*/, std::span<const K> q,
                                                            std::span<const K> r, SquareCarry<K>& /*carry*/) override {
    const Index size = padded(layer.cols());
    if (Y.rows != size) throw std::logic_error("layer_product_sumcheck: Y has another number of rows than W columns");
    DeviceVector<K> structured_a;
    if (layer.q->structured())
      structured_a = upload<K>(structured_row_combine<K>(layer, std::span<const K>(eq_table<K>(q))));
    auto maker = std::make_unique<LayerTables>(*this, layer, Y, static_cast<unsigned>(q.size()),
                                               static_cast<unsigned>(r.size()), std::move(structured_a));
    return std::make_unique<ProductSumcheck<K>>(joined(q, r), size, std::move(maker));
  }

  // eq(s, .) and eq(r, .) are built from s and r on the device, uploaded with the transcript's state.
  std::unique_ptr<SumcheckProver<K>> square_sumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r,
                                                     K /*claim*/, SquareCarry<K> /*carry*/) override {
    DeviceVector<F> staged;
    return std::make_unique<SquareSumcheck<Cfg>>(device_view(Z, staged), Z.rows, Z.cols, joined(s, r),
                                                 static_cast<unsigned>(s.size()), static_cast<unsigned>(r.size()));
  }

  // Training's backward pass on the device (backward_functors.hpp); row_weighted_sum keeps the
  // default. W^T D is the forward GEMM of W^T (transposed on the host, O(nnz)) over every column of
  // D: the padding's columns are zero and stay zero.
  Table2D<F> transpose_product(const FieldLayer<F>& layer, const Table2D<F>& D) override {
    // A structured layer's transpose is the shared host loop (as its forward pass runs on the host).
    if (layer.q->structured()) return Engine<Cfg>::transpose_product(layer, D);
    const QuantizedLayer t = transposed_layer(*layer.q);
    const FieldLayer<F> tl{&t, std::vector<F>(t.rows, F::zero())};
    DeviceVector<F> staged;
    return device_table(padded(t.rows), D.cols,
                        dense_forward(tl, device_view(D, staged), D.cols, D.cols, weights_, forward_));
  }

  Table2D<F> double_hadamard(const Table2D<F>& Z, const Table2D<F>& E) override {
    if (Z.rows != E.rows || Z.cols != E.cols) throw std::logic_error("double_hadamard: shapes differ");
    DeviceVector<F> staged_z, staged_e;
    const DeviceVector<F>& z = device_view(Z, staged_z);
    const DeviceVector<F>& e = device_view(E, staged_e);
    auto d = sized_table<F>(z.size());
    NNP_THRUST(thrust::transform(exec_nosync(), z.begin(), z.end(), e.begin(), d.begin(), DoubleProduct<F>{}));
    return device_table(Z.rows, Z.cols, std::move(d));
  }

  std::vector<F> batch_outer_product(const Table2D<F>& D, const Table2D<F>& Y, std::size_t rows,
                                     std::size_t cols) override {
    if (D.cols != Y.cols) throw std::logic_error("batch_outer_product: batch sizes differ");
    if (rows > D.rows || cols > Y.rows) throw std::logic_error("batch_outer_product: more rows than the tables hold");
    DeviceVector<F> staged_d, staged_y;
    const DeviceVector<F>& d = device_view(D, staged_d);
    const DeviceVector<F>& y = device_view(Y, staged_y);
    auto g = sized_table<F>(rows * cols);
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(rows * cols),
                                OuterEntry<F>{raw(d), raw(y), raw(g), cols, D.cols}));
    std::vector<F> out(rows * cols);
    download(g, out.begin());
    return out;
  }

  std::vector<F> batch_row_sums(const Table2D<F>& D, std::size_t rows) override {
    if (rows > D.rows) throw std::logic_error("batch_row_sums: more rows than the table holds");
    DeviceVector<F> staged;
    const DeviceVector<F>& d = device_view(D, staged);
    auto g = sized_table<F>(rows);
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(rows), RowSums<F>{raw(d), raw(g), D.cols}));
    std::vector<F> out(rows);
    download(g, out.begin());
    return out;
  }

 private:
  static const DeviceVector<F>* ours(const Table2D<F>& t) {
    const auto* d = DeviceTable<F>::of(t);
    return d ? &d->v : nullptr;
  }
  static const DeviceVector<F>& on_device(const Table2D<F>& t) {
    const auto* v = ours(t);
    if (!v) throw std::logic_error("a table with neither host data nor a device copy of this engine");
    return *v;
  }
  // The table's device copy when this engine made it, else its host data uploaded into `staged`.
  static const DeviceVector<F>& device_view(const Table2D<F>& t, DeviceVector<F>& staged) {
    if (const auto* v = ours(t)) return *v;
    if (!t.on_host()) throw std::logic_error("a table that lives on another engine's device");
    staged = upload<F>(t.data);
    return staged;
  }
  static Table2D<F> host_copy(const Table2D<F>& t) {
    if (t.on_host()) return t;
    Table2D<F> out(t.rows, t.cols);
    download(on_device(t), out.data.begin());
    return out;
  }
  // The input's rows `in` (field elements or small integers) up, then lifted and transposed into x,
  // row r of x holding feature of[r] (kNoFeature: none), or feature r where `of` is empty.
  template <class In>
  static void transpose_input(const std::vector<In>& in, Index n0, Index batch, const Index* feature_of_row,
                              DeviceVector<F>& x) {
    const Index cols = padded(batch);
    const auto rows_in = upload_input<In>(in.data(), in.size());  // the backend's: pinned memory in cuda
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(x.size()),
                                TransposeInput<F, In>{raw(rows_in), raw(x), n0, batch, cols, feature_of_row}));
  }
  // The row -> feature map `of` on the device (nullptr for none): uploaded where it differs from
  // the last one, else the copy kept. A model's proofs share their layout, so only the first of
  // them waits for the map's copy from pageable memory (one transfer and wait a CNN proof before).
  // Called before the input's upload, which the copy would otherwise wait behind.
  const Index* device_layout_map(const std::vector<Index>& of) {
    if (of.empty()) return nullptr;
    if (of != layout_map_) {
      layout_map_device_ = upload<Index>(of);
      layout_map_ = of;
    }
    return raw(layout_map_device_);
  }
  template <class I>
  static std::vector<I> narrowed(const std::vector<F>& input) {
    std::vector<I> out(input.size());
    narrow_input(input.data(), input.size(), out.data());
    return out;
  }
  static std::vector<K> joined(std::span<const K> x, std::span<const K> y) {
    std::vector<K> both(x.begin(), x.end());
    both.insert(both.end(), y.begin(), y.end());
    return both;
  }
  // eq(q, .) then eq(r, .) into eq_, built on the device from q and r (`points`, device memory,
  // n_q then n_r entries; eq_tables.inl): |q| + |r| entries cross, not 2^|q| + 2^|r|.
  void device_eq_tables(const K* points, unsigned n_q, unsigned n_r) {
    resize_unwritten(eq_, (Index{1} << n_q) + (Index{1} << n_r));
    device_eq_table(raw(eq_), points, n_q);
    device_eq_table(raw(eq_) + (Index{1} << n_q), points + n_q, n_r);
  }

  // A layer's A and V, made when its product sum-check's rounds start (ProductSumcheck): Y's device
  // copy is held (or Y's host data uploaded now), the layer referred to.
  class LayerTables final : public ProductTablesMaker<K> {
   public:
    LayerTables(ThrustEngine& engine, const FieldLayer<F>& layer, const Table2D<F>& Y, unsigned n_q, unsigned n_r,
                DeviceVector<K> structured_a)
        : engine_(engine),
          layer_(layer),
          y_cols_(Y.cols),
          keep_(Y.device),
          y_(&device_view(Y, staged_)),
          n_q_(n_q),
          n_r_(n_r),
          structured_a_(std::move(structured_a)) {}
    void make(const K* points, DeviceVector<K>& a, DeviceVector<K>& v) override {
      engine_.device_eq_tables(points, n_q_, n_r_);
      engine_.col_combine_into(*y_, y_cols_, raw(engine_.eq_) + (Index{1} << n_q_), v);
      if (layer_.q->structured()) {
        a = std::move(structured_a_);
      } else {
        a = sized_table<K>(padded(layer_.cols()));
        engine_.row_combine_into(layer_, raw(engine_.eq_), a);
      }
    }

   private:
    ThrustEngine& engine_;
    const FieldLayer<F>& layer_;
    Index y_cols_;
    std::shared_ptr<const DeviceCopy> keep_;  // Y's device copy, alive while y_ points into it
    DeviceVector<F> staged_;                  // Y's host data uploaded, when Y has no device copy here
    const DeviceVector<F>* y_;
    unsigned n_q_, n_r_;
    DeviceVector<K> structured_a_;
  };

  // A[j] = sum_a eq[a] W[a][j] into `a` (padded(cols) entries), eq on the device: rows partial sums
  // of kRowBlock rows, then their sums. Stream-ordered: nothing waits (but the weights' first upload).
  void row_combine_into(const FieldLayer<F>& layer, const K* eq, DeviceVector<K>& a) {
    const Index rows = layer.rows(), cols = layer.cols();
    resize_unwritten(a, padded(cols));
    NNP_THRUST(thrust::fill(exec_nosync(), a.begin(), a.end(), K::zero()));
    const auto combine = [&](const auto* w, Index stride) {
      using W = std::remove_cv_t<std::remove_pointer_t<decltype(w)>>;
      const Index blocks = (rows + kRowBlock - 1) / kRowBlock;
      resize_unwritten(partial_, blocks * cols);
      NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(blocks * cols),
                                  RowBlockCombine<K, F, W>{w, eq, raw(partial_), rows, cols, stride}));
      NNP_THRUST(
          thrust::for_each(exec_nosync(), count(0), count(cols), SumRowBlocks<K>{raw(partial_), raw(a), blocks, cols}));
    };
    if (layer.q->weights.int8_data()) {
      const DeviceInt8Weights& w = weights_.get(layer.q->weights, rows, cols);  // the forward pass's copy
      combine(w.data(), w.stride());
    } else {
      layer.q->weights.visit([&](const auto* host_w) {  // uploaded at their storage width
        using W = std::remove_cv_t<std::remove_pointer_t<decltype(host_w)>>;
        const auto w = upload<W>(host_w, host_w + rows * cols);
        combine(raw(w), cols);
      });
    }
  }

  // V[j] = sum_k Y[j][k] eq[k] into `v` (Y.rows entries), eq on the device: lanes of columns per
  // row, then their sums (two stream-ordered passes).
  void col_combine_into(const Table2D<F>& Y, const K* eq, DeviceVector<K>& v) {
    DeviceVector<F> staged;
    col_combine_into(device_view(Y, staged), Y.cols, eq, v);
  }
  // The same for Y's device entries y (rows of `cols` entries).
  void col_combine_into(const DeviceVector<F>& y, Index cols, const K* eq, DeviceVector<K>& v) {
    const Index rows = y.size() / cols;
    const Index lanes = cols < kColLanes ? cols : kColLanes;
    resize_unwritten(partial_, rows * lanes);
    resize_unwritten(v, rows);
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(rows * lanes),
                                ColLaneCombine<K, F>{raw(y), eq, raw(partial_), cols, lanes}));
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(rows), RowSums<K>{raw(partial_), raw(v), lanes}));
  }

  static Table2D<F> device_table(Index rows, Index cols, DeviceVector<F> values) {
    Table2D<F> t;
    t.rows = rows;
    t.cols = cols;
    t.device = std::make_shared<DeviceTable<F>>(std::move(values));
    return t;
  }

  // The device copies of the layers' int8 weights (gemm.inl), read by forward and row_combine.
  WeightsCache<DeviceInt8Weights> weights_;
  // Tables that do not outlive the operation using them, kept across operations and proofs so that
  // a warm engine allocates them once (Engine::table_allocations): the forward pass's (gemm.inl),
  // and row_combine's and col_combine's eq tables, partial sums and result (layer_product_sumcheck
  // computes A and V into the sum-check's own tables instead). Operations run one at a
  // time on one stream, so each reuse is ordered after the previous one's kernels.
  ForwardScratch<F> forward_;
  DeviceVector<K> eq_, partial_, combined_;
  // The input layout's row -> feature map, on the host and its device copy (device_layout_map).
  std::vector<Index> layout_map_;
  DeviceVector<Index> layout_map_device_;
};

}  // namespace nnproof::NNP_THRUST_NS
