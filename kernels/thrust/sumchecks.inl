// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Thrust engine's sum-check provers (kernels/thrust/thrust_engine.inl): the matrix product's
// (degree 2) and the activation's (degree 3), their tables DeviceVectors for the sum-check's whole
// life. Each fold is fused with the next round in one pass whose functor (functors.hpp) writes the
// folded entries. Driven round by round (round, fold_and_round), a round sends back its two or three
// values; with a Fiat-Shamir transcript (run_fiat_shamir) every round stays on the device and the
// host waits a fixed few times per sum-check, not once per round.
//
// Include with NNP_THRUST_NS and the backend's exec() defined, as thrust_engine.inl.
#include <thrust/copy.h>
#include <thrust/for_each.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/engine/engine.hpp"
#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/eq_tables.inl"
#include "kernels/thrust/functors.hpp"
#include "kernels/thrust/thrust_errors.hpp"
#include "kernels/thrust/transfers.hpp"

namespace nnproof::NNP_THRUST_NS {

// Sizes `spare` to n entries for a pass to overwrite. Tables shrink by half each round, so from the
// second round on the spare is the table of the round before and shrinking it allocates nothing:
// a sum-check allocates its tables' memory once, not once per round.
template <class K>
void prepare_spare(DeviceVector<K>& spare, Index n) {
  resize_unwritten(spare, n);
}

// Binds the top variable of t to *r (device memory), through `spare` (the two then swap). Stream
// ordered: nothing here waits for the device.
template <class K>
void fold_table(DeviceVector<K>& t, DeviceVector<K>& spare, const K* r) {
  const Index half = t.size() / 2;
  prepare_spare(spare, half);
  NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(half), FoldTop<K>{raw(t), raw(spare), half, r}));
  t.swap(spare);
}

template <class K>
std::array<K, 3> to_array(const RoundSums<K>& s) {
  return {s.h[0], s.h[1], s.h[2]};
}

// The host's challenge r into `at`, one entry made on first use: only the host-driven rounds
// (round / fold / fold_and_round) read it, so a Fiat-Shamir sum-check allocates no table for it.
template <class K>
void put_challenge(DeviceVector<K>& at, const K& r) {
  if (at.empty()) at = sized_table<K>(1);
  write_entry(at, 0, r);
}

// run_fiat_shamir's contract: the sum-check's own degree, one round per variable of its table.
inline void check_rounds(unsigned n, unsigned degree, unsigned own_degree, Index table_size) {
  if (n == 0 || n >= 64 || degree != own_degree || table_size != Index{1} << n)
    throw std::logic_error("run_fiat_shamir: " + std::to_string(n) + " rounds of degree " + std::to_string(degree) +
                           " for a degree-" + std::to_string(own_degree) + " sum-check over " +
                           std::to_string(table_size) + " entries");
}

// A round's values on the host: one reduction, one wait for the device.
template <class K, class Terms>
std::array<K, 3> host_round(Index n, Terms terms) {
  return to_array(
      NNP_THRUST(thrust::transform_reduce(exec(), count(0), count(n), terms, zero_sums<K>(), AddSums<K>{})));
}

// A sum-check's rounds on the device (SumcheckProver::run_fiat_shamir): each round's terms summed
// into device memory (StridedSums, twice), then one thread's transcript step (TranscriptStep), which
// leaves the challenge where the next round's fold reads it. Every launch is stream-ordered with
// exec_nosync(): the host waits a fixed few times per sum-check, however many rounds it has (to
// upload the transcript's state, make the scratch tables and the spares, and download the
// messages, challenges and final value at the end; host_syncs.hpp counts them).
template <class K>
class DeviceRounds {
 public:
  // first_terms: the first round's number of terms, the most any round has. points: the challenge
  // points the sum-check's tables are made from on the device (points() below), when they are not
  // made yet: they go up in the state's transfer, one wait per sum-check instead of two.
  DeviceRounds(const TranscriptState& state, unsigned n, unsigned degree, Index first_terms,
               std::span<const K> points = {})
      : n_(n),
        degree_(degree),
        lanes_(first_terms < kRoundLanes ? first_terms : kRoundLanes),
        memory_(sized_table<K>(state_at() + kStateEntries + points.size())) {
    std::vector<K> host(kStateEntries + points.size());
    std::memcpy(static_cast<void*>(host.data()), &state, sizeof state);
    std::copy(points.begin(), points.end(), host.begin() + kStateEntries);
    note_host_sync();
    note_upload(host.size() * sizeof(K));
    NNP_THRUST(thrust::copy(host.begin(), host.end(), memory_.begin() + static_cast<std::ptrdiff_t>(state_at())));
  }

  // Where the latest challenge is, for the folds.
  const K* challenge() const { return out() + n_ * degree_ + n_; }
  // The points given to the constructor, on the device.
  const K* points() const { return out() + state_at() + kStateEntries; }

  // Round t: its n_terms terms summed on the device, then the transcript step.
  template <class Terms>
  void round(unsigned t, Index n_terms, Terms terms) {
    const Index lanes = n_terms < lanes_ ? n_terms : lanes_;
    const Index groups = lanes < kRoundGroups ? lanes : kRoundGroups;
    RoundSums<K>* lane_sums = sums();
    RoundSums<K>* group_sums = sums() + lanes_;
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(lanes),
                                StridedSums<K, Terms>{terms, n_terms, lanes, lane_sums}));
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(groups),
                                StridedSums<K, ReadSums<K>>{ReadSums<K>{lane_sums}, lanes, groups, group_sums}));
    K* out = this->out();
    NNP_THRUST(thrust::for_each(
        exec_nosync(), count(0), count(1),
        TranscriptStep<K>{group_sums, groups, degree_, t, out, out + n_ * degree_, out + n_ * degree_ + n_, state()}));
  }

  // The messages and challenges, and the bound table's entry `final` (the sum-check's final value).
  typename SumcheckProver<K>::Rounds finish(const K* final, K& final_value) {
    K* out = this->out();
    const Index n_out = n_ * degree_ + n_ + 2;
    NNP_THRUST(thrust::for_each(exec_nosync(), count(0), count(1), CopyEntry<K>{final, out + n_out - 1}));
    std::vector<K> host(n_out);
    note_host_sync();
    note_download(n_out * sizeof(K));
    NNP_THRUST(thrust::copy(memory_.begin(), memory_.begin() + static_cast<std::ptrdiff_t>(n_out), host.begin()));
    typename SumcheckProver<K>::Rounds r;
    r.messages.assign(host.begin(), host.begin() + n_ * degree_);
    r.challenges.assign(host.begin() + n_ * degree_, host.begin() + n_ * degree_ + n_);
    final_value = host.back();
    return r;
  }

 private:
  // memory_'s layout, in entries of K: the rounds' output (n x degree messages, n challenges, the
  // current challenge, the final value), then the lanes' and the groups' sums (RoundSums<K> is
  // three K), then the transcript state's 32 bytes, then the points.
  static constexpr Index kStateEntries = (sizeof(TranscriptState) + sizeof(K) - 1) / sizeof(K);
  static_assert(sizeof(RoundSums<K>) == 3 * sizeof(K) && alignof(RoundSums<K>) == alignof(K));
  static_assert(alignof(TranscriptState) <= alignof(K));
  Index sums_at() const { return n_ * degree_ + n_ + 2; }
  Index state_at() const { return sums_at() + 3 * (lanes_ + kRoundGroups); }
  K* out() const { return const_cast<K*>(raw(memory_)); }
  RoundSums<K>* sums() { return reinterpret_cast<RoundSums<K>*>(raw(memory_) + sums_at()); }
  TranscriptState* state() { return reinterpret_cast<TranscriptState*>(raw(memory_) + state_at()); }

  unsigned n_, degree_;
  Index lanes_;
  // One table for the rounds' output, the lanes' and groups' sums and the transcript state: one
  // allocation per sum-check instead of four. Declared last: its size reads n_, degree_, lanes_.
  DeviceVector<K> memory_;
};

// ---- the sum-check of sum_j A[j] V[j] (degree 2) ----

// How a product sum-check's tables A and V are made on the device from its challenge points
// (ThrustEngine::layer_product_sumcheck's: eq(q, .) and eq(r, .), then A and V from them). Run when
// the rounds start, not when the sum-check is made: the points then go up in the transfer of the
// transcript's state (DeviceRounds), and nothing is uploaded before. `points` is device memory.
template <class K>
class ProductTablesMaker {
 public:
  virtual ~ProductTablesMaker() = default;
  virtual void make(const K* points, DeviceVector<K>& a, DeviceVector<K>& v) = 0;
};

template <class K>
class ProductSumcheck final : public SumcheckProver<K> {
 public:
  ProductSumcheck(const std::vector<K>& A, const std::vector<K>& V) : size_(A.size()) {
    std::tie(a_, v_) = upload_two<K>(A, V);
  }
  // A and V made on the device from `points` (host memory) by `maker` when the rounds start
  // (ensure_tables): nothing crosses but the points. size: A's and V's entries.
  ProductSumcheck(std::vector<K> points, Index size, std::unique_ptr<ProductTablesMaker<K>> maker)
      : size_(size), points_(std::move(points)), maker_(std::move(maker)) {}

  std::array<K, 3> round() override {
    ensure_tables();
    const Index half = a_.size() / 2;
    return host_round<K>(half, ProductRound<K>{raw(a_), raw(v_), half});
  }
  void fold(K r) override {
    ensure_tables();
    put_challenge(r_, r);
    fold_tables(raw(r_));
  }
  std::array<K, 3> fold_and_round(K r) override {
    ensure_tables();
    put_challenge(r_, r);
    const Index q = a_.size() / 4;
    prepare_spares(q);
    const auto h = host_round<K>(q, ProductFoldRound<K>{raw(a_), raw(v_), raw(spare_a_), raw(spare_v_), q, raw(r_)});
    swap_spares();
    return h;
  }
  K final_value() const override {
    if (final_) return *final_;
    // A sum-check of no rounds (a one-entry table) is read without any round having made V.
    const_cast<ProductSumcheck*>(this)->ensure_tables();
    return read_entry(v_, 0);
  }

  std::optional<typename SumcheckProver<K>::Rounds> run_fiat_shamir(const TranscriptState& state, unsigned n,
                                                                    unsigned degree) override {
    check_rounds(n, degree, 2, size_);
    const Index half = size_ / 2;
    DeviceRounds<K> rounds(state, n, degree, half, maker_ ? std::span<const K>(points_) : std::span<const K>());
    if (maker_) make_tables(rounds.points());
    rounds.round(0, half, ProductRound<K>{raw(a_), raw(v_), half});
    for (unsigned t = 1; t < n; ++t) {
      const Index q = a_.size() / 4;
      prepare_spares(q);
      rounds.round(t, q, ProductFoldRound<K>{raw(a_), raw(v_), raw(spare_a_), raw(spare_v_), q, rounds.challenge()});
      swap_spares();
    }
    fold_tables(rounds.challenge());
    K final{};
    auto out = rounds.finish(raw(v_), final);
    final_ = final;
    return out;
  }

 private:
  // The host-driven rounds' tables: the points go up alone (one transfer), then A and V are made.
  void ensure_tables() {
    if (!maker_) return;
    const auto points = upload<K>(points_);
    make_tables(raw(points));
  }
  void make_tables(const K* points) {
    maker_->make(points, a_, v_);
    maker_.reset();
    if (a_.size() != size_ || v_.size() != size_)
      throw std::logic_error("ProductSumcheck: tables of " + std::to_string(a_.size()) + " and " +
                             std::to_string(v_.size()) + " entries for a sum-check over " + std::to_string(size_));
  }
  void fold_tables(const K* r) {
    fold_table(a_, spare_a_, r);
    fold_table(v_, spare_v_, r);
  }
  void prepare_spares(Index q) {
    prepare_spare(spare_a_, 2 * q);
    prepare_spare(spare_v_, 2 * q);
  }
  void swap_spares() {
    a_.swap(spare_a_);
    v_.swap(spare_v_);
  }

  Index size_;
  DeviceVector<K> a_, v_, spare_a_, spare_v_;
  std::vector<K> points_;                         // the points maker_ reads, while it has not run
  std::unique_ptr<ProductTablesMaker<K>> maker_;  // null once A and V are made
  DeviceVector<K> r_;                             // the host's challenge for the next fold (round / fold_and_round)
  std::optional<K> final_;                        // run_fiat_shamir's, downloaded with its messages
};

// ---- the sum-check of sum_{j,k} eq(s, j) eq(r, k) Z[j][k]^2 (degree 3), rows bound first ----
//
// The eq factor is kept split, a row table es (eq(s, .), folded with the rows) and a column table
// er (eq(r, .)), so no table of Z's size but Z itself is ever built. While rows remain, pair
// (i, i + half) of Z is rows j and j + rows/2 of column k; after the last row is bound, es is one
// value and the pairs run along the columns.

template <class Cfg>
class SquareSumcheck final : public SumcheckProver<typename Cfg::K> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;

 public:
  // z: the rows x cols table Z in the base field, already on the device. points: s (n_s entries)
  // then r (n_r) in host memory, from which eq(s, .) and eq(r, .) are built on the device
  // (eq_tables.inl) when the rounds start: run_fiat_shamir uploads them with the transcript's state.
  SquareSumcheck(const DeviceVector<F>& z, Index rows, Index cols, std::vector<K> points, unsigned n_s, unsigned n_r)
      : rows_(rows),
        cols_(cols),
        n_s_(n_s),
        n_r_(n_r),
        points_(std::move(points)),
        es_(sized_table<K>(Index{1} << n_s)),
        er_(sized_table<K>(Index{1} << n_r)),
        z_(sized_table<K>(z.size())) {
    if (points_.size() != std::size_t{n_s} + n_r) throw std::logic_error("SquareSumcheck: points of another size");
    NNP_THRUST(thrust::transform(exec_nosync(), z.begin(), z.end(), z_.begin(), LiftToK<F, K>{}));
  }

  std::array<K, 3> round() override {
    ensure_eq();
    const Index half = z_.size() / 2;
    return host_round<K>(half, SquareRound<K>{shape(), raw(z_), half});
  }
  void fold(K r) override {
    ensure_eq();
    put_challenge(r_, r);
    fold_eq(raw(r_));
    fold_table(z_, spare_z_, raw(r_));
  }
  std::array<K, 3> fold_and_round(K r) override {
    ensure_eq();
    put_challenge(r_, r);
    fold_eq(raw(r_));
    const Index q = z_.size() / 4;
    prepare_spare(spare_z_, 2 * q);
    const auto h = host_round<K>(q, SquareFoldRound<K>{shape(), raw(z_), raw(spare_z_), q, raw(r_)});
    z_.swap(spare_z_);
    return h;
  }
  K final_value() const override { return final_ ? *final_ : read_entry(z_, 0); }

  std::optional<typename SumcheckProver<K>::Rounds> run_fiat_shamir(const TranscriptState& state, unsigned n,
                                                                    unsigned degree) override {
    check_rounds(n, degree, 3, z_.size());
    const Index half = z_.size() / 2;
    DeviceRounds<K> rounds(state, n, degree, half, eq_built_ ? std::span<const K>() : std::span<const K>(points_));
    if (!eq_built_) build_eq(rounds.points());
    rounds.round(0, half, SquareRound<K>{shape(), raw(z_), half});
    for (unsigned t = 1; t < n; ++t) {
      fold_eq(rounds.challenge());
      const Index q = z_.size() / 4;
      prepare_spare(spare_z_, 2 * q);
      rounds.round(t, q, SquareFoldRound<K>{shape(), raw(z_), raw(spare_z_), q, rounds.challenge()});
      z_.swap(spare_z_);
    }
    fold_eq(rounds.challenge());
    fold_table(z_, spare_z_, rounds.challenge());
    K final{};
    auto out = rounds.finish(raw(z_), final);
    final_ = final;
    return out;
  }

 private:
  SquareShape<K> shape() const { return {raw(es_), raw(er_), rows_, cols_}; }
  // The host-driven rounds' eq tables: the points go up alone (one transfer).
  void ensure_eq() {
    if (eq_built_) return;
    const auto points = upload<K>(points_);
    build_eq(raw(points));
  }
  void build_eq(const K* points) {
    device_eq_table(raw(es_), points, n_s_);
    device_eq_table(raw(er_), points + n_s_, n_r_);
    eq_built_ = true;
  }
  // Binds the top variable of the eq factor: a row while rows remain, then a column.
  void fold_eq(const K* r) {
    if (rows_ > 1) {
      fold_table(es_, spare_e_, r);
      rows_ /= 2;
    } else {
      fold_table(er_, spare_e_, r);
      cols_ /= 2;
    }
  }

  Index rows_, cols_;
  unsigned n_s_, n_r_;
  std::vector<K> points_;  // s then r, on the host
  bool eq_built_ = false;  // es_ and er_ built from points_
  DeviceVector<K> es_, er_, z_, spare_z_, spare_e_;
  DeviceVector<K> r_;       // the host's challenge for the next fold (round / fold_and_round)
  std::optional<K> final_;  // run_fiat_shamir's, downloaded with its messages
};

}  // namespace nnproof::NNP_THRUST_NS
