// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bulk operations the prover driver runs (DESIGN.md, "One protocol, several engines"). Each
// engine keeps its tables where it likes; only round values cross to the driver.
#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/fiat_shamir.hpp"
#include "core/polynomial.hpp"
#include "kernels/engine/backward_ops.hpp"
#include "kernels/engine/proof_memory.hpp"
#include "kernels/engine/table.hpp"

namespace nnproof {

// One sum-check in progress. round() gives h(0), h(2) [, h(3)] for the current top variable;
// fold(r) binds it to r. After the last fold, final_value() is the bound table's single entry
// (y* for the matrix product, z* for the activation).
template <class K>
class SumcheckProver {
 public:
  virtual ~SumcheckProver() = default;
  virtual std::array<K, 3> round() = 0;
  virtual void fold(K r) = 0;
  // fold(r) then round(), which an engine may fuse into one pass over its tables.
  virtual std::array<K, 3> fold_and_round(K r) {
    fold(r);
    return round();
  }
  virtual K final_value() const = 0;

  // What run_fiat_shamir returns: the n rounds' messages (n x degree values, in protocol order) and
  // the challenge drawn after each.
  struct Rounds {
    std::vector<K> messages;
    std::vector<K> challenges;
  };
  // All n rounds of degree `degree` where the tables are, without a round trip to the host per
  // round: the engine draws each challenge itself from the Fiat-Shamir transcript, whose state it
  // is given, with core/fiat_shamir.hpp (byte for byte the verifier's transcript), and binds the
  // last variable (final_value() follows). The driver then replays the messages through its own
  // transcript and checks the challenges. Engines whose rounds never leave the host return nothing
  // (the default), and the driver runs the rounds itself. n must be the table's number of variables
  // and degree the sum-check's own (else std::logic_error); after it only final_value() may follow.
  virtual std::optional<Rounds> run_fiat_shamir(const TranscriptState& /*state*/, unsigned /*n*/, unsigned /*degree*/) {
    return std::nullopt;
  }
};

// One claim of the training proof's Hadamard reduction (Engine::hadamard_sumcheck): its point,
// the row half s and the column half r (row variables high), its weight w in the combination, and
// its sum sum_y eq((s, r), y) Z(y) E(y).
template <class K>
struct EqClaim {
  std::vector<K> s, r;
  K weight, sum;
};

// The Hadamard reduction's sum-check: after the last fold, operand_values() is (Z~(x), E~(x)) at
// the point x of the challenges.
template <class K>
class HadamardSumcheckProver : public SumcheckProver<K> {
 public:
  virtual std::array<K, 2> operand_values() const = 0;
};

// What an engine's col_combine_of_squares leaves for its square sum-check over the same Z and r.
// Opaque to the driver; engines that keep nothing leave it empty and ignore it.
template <class K>
struct SquareCarry {
  std::vector<K> sums;
};

// Whether a forward's input table holds the layer's input Y itself, or the previous layer's Z,
// whose entrywise square is the input (a prover that keeps no Y: Engine::forward_of_square).
enum class InputIs { values, squared };

// The data an engine has moved between the host and its device (Engine::host_transfers): uploads
// (to_device) and downloads (to_host), each a count and its bytes.
struct HostTransfers {
  std::size_t to_device = 0, to_device_bytes = 0, to_host = 0, to_host_bytes = 0;
  std::size_t count() const { return to_device + to_host; }
  HostTransfers operator-(const HostTransfers& o) const {
    return {to_device - o.to_device, to_device_bytes - o.to_device_bytes, to_host - o.to_host,
            to_host_bytes - o.to_host_bytes};
  }
};

// One engine serves one prover at a time: engines may keep state between calls (the cpu engine
// keeps its int8 forward's scratch buffers), so concurrent proofs need an engine each.
template <class Cfg>
class Engine {
 public:
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  // How many times so far the host has waited for this engine's device: transfers to the host,
  // reductions that return a value, launches that synchronize, blocking uploads. A proof's count is
  // the difference across it (bench --json: host_syncs). Host engines have no device: 0. The Thrust
  // engines keep one count per build, shared by that build's engines in the process.
  virtual std::size_t host_syncs() const { return 0; }
  // How many device tables this engine's build has allocated so far (the Thrust engines: each
  // DeviceVector's memory, kernels/thrust/host_syncs.hpp), counted like host_syncs. Host engines: 0.
  virtual std::size_t table_allocations() const { return 0; }
  // The transfers between host and device so far (the Thrust engines: kernels/thrust/transfers.hpp),
  // counted like host_syncs (bench --json: host_transfers and its parts). Host engines: none.
  virtual HostTransfers host_transfers() const { return {}; }

  // Fills t.data from the engine's device copy when the table lives only there (no-op otherwise).
  // The driver calls it for the outputs; the trace's other tables never need to leave the device.
  virtual void to_host(Table2D<F>& /*t*/) {}
  // The protocol's padded n_0 x b input table from the user's b rows of n_0 values: feature j in
  // row j, or, where `rows` is given (the proof's image layout, ProofLayout::input_map), in row
  // rows[j] of a table of `rows_n0` rows, padded (the layout's n_0), the other rows zero. Sequential
  // here: the interactive prover process may run an engine that starts no threads (OpenMP is not
  // fork-safe), and the reference engine is that engine.
  virtual Table2D<F> input_table(const std::vector<F>& input, std::size_t n0, std::size_t batch,
                                 std::span<const std::size_t> rows, std::size_t rows_n0) {
    return input_table_by_bands(input, n0, batch, rows, rows_n0, [](std::size_t bands, const auto& body) {
      for (std::size_t band = 0; band < bands; ++band) body(band);
    });
  }
  // Feature j in row j: input_table without a layout's rows.
  Table2D<F> input_table(const std::vector<F>& input, std::size_t n0, std::size_t batch) {
    return input_table(input, n0, batch, {}, 0);
  }

  // Z = W Y + B m^T: Z is padded(rows) x Y.cols, zero in padding rows and in columns >= batch.
  virtual Table2D<F> forward(const FieldLayer<F>& layer, const Table2D<F>& Y, std::size_t batch) = 0;
  // forward() (InputIs::values: Y is the layer's input) or forward_of_square() (InputIs::squared: Y
  // is the previous layer's Z) for a hidden layer's Z in an inference proof that keeps no Y
  // (run_forward with Activations::for_proof, proof_reads_activations() false), whose square
  // `next` reads: only this engine's forward_of_square(next, .) or forward_hidden(next, ., ...,
  // InputIs::squared), col_combine_of_squares, square_sumcheck and to_host read it, so an engine may keep it in a form
  // of its own (the cpu engine: int32 or int64 entries where they fit and next pools their squares,
  // kernels/cpu/narrow_table.hpp).
  virtual Table2D<F> forward_hidden(const FieldLayer<F>& layer, const FieldLayer<F>& /*next*/, const Table2D<F>& Y,
                                    std::size_t batch, InputIs input) {
    return input == InputIs::values ? forward(layer, Y, batch) : forward_of_square(layer, Y, batch);
  }
  // Entrywise square.
  virtual Table2D<F> square(const Table2D<F>& Z) = 0;
  // forward(layer, square(S), batch): the next layer's Z from the previous one's, for a prover that
  // keeps no Y table (proof_reads_activations() false). An engine may square as it reads S.
  virtual Table2D<F> forward_of_square(const FieldLayer<F>& layer, const Table2D<F>& S, std::size_t batch) {
    return forward(layer, square(S), batch);
  }
  // Whether this engine's inference sum-checks read the activation tables Y_i = Z_i o Z_i (i >= 1)
  // themselves. Where they read only Z_i (an engine whose col_combine_of_squares and square_sumcheck
  // read Z), the prover does not keep Y_i: each is squared where the next layer's forward reads it.
  virtual bool proof_reads_activations() const { return true; }
  // What this engine's inference proof holds beside the forward trace, for the memory estimate
  // (kernels/engine/proof_memory.hpp; host/memory.hpp). The default is the conservative count.
  virtual ProofMemory proof_memory() const {
    ProofMemory m;
    m.keeps_activations = proof_reads_activations();
    return m;
  }
  // A[j] = sum_a eq_q[a] W[a][j] for j < padded(cols).
  virtual std::vector<K> row_combine(const FieldLayer<F>& layer, std::span<const K> eq_q) = 0;
  // V[j] = sum_k Y[j][k] eq_r[k].
  virtual std::vector<K> col_combine(const Table2D<F>& Y, std::span<const K> eq_r) = 0;
  // col_combine(Y, eq_r) for an activation table Y = Z o Z. The activation sum-check over Z that
  // follows uses the same r, so an engine may read Z instead and leave in `carry` sums that sum-check
  // starts from (the cpu engine: its first two rounds).
  virtual std::vector<K> col_combine_of_squares(const Table2D<F>& /*Z*/, const Table2D<F>& Y, std::span<const K> eq_r,
                                                SquareCarry<K>& /*carry*/) {
    return col_combine(Y, eq_r);
  }
  // The sum-check of sum_j A[j] V[j] (degree 2).
  virtual std::unique_ptr<SumcheckProver<K>> product_sumcheck(std::vector<K> A, std::vector<K> V) = 0;
  // A layer's matrix-product sum-check (host/prover.cpp): sum_j A[j] V[j] with
  // A = row_combine(layer, eq(q, .)) and V = col_combine(Y, eq(r, .)), or, when Z is given (Y = Z o Z),
  // col_combine_of_squares(*Z, Y, eq(r, .), carry). One call from the challenge points, so that an
  // engine may build the eq tables and keep A and V where it computes them (the Thrust engine: on
  // its device, with no round trip through the host); the default is col_combine (or
  // col_combine_of_squares), then product_sumcheck of row_combine_at's A and V.
  virtual std::unique_ptr<SumcheckProver<K>> layer_product_sumcheck(const FieldLayer<F>& layer, const Table2D<F>& Y,
                                                                    const Table2D<F>* Z, std::span<const K> q,
                                                                    std::span<const K> r, SquareCarry<K>& carry) {
    const std::vector<K> eq_r = eq_table<K>(r);
    std::vector<K> V = Z ? col_combine_of_squares(*Z, Y, eq_r, carry) : col_combine(Y, eq_r);
    return product_sumcheck(row_combine_at(layer, q), std::move(V));
  }
  // row_combine(layer, eq(q, .)) from the point q, bit for bit (the proof's bytes must not depend
  // on the engine): an engine may skip the table where the layer's structure factors it (the cpu
  // engine: a last convolution's channel, row and column factors).
  virtual std::vector<K> row_combine_at(const FieldLayer<F>& layer, std::span<const K> q) {
    return row_combine(layer, eq_table<K>(q));
  }
  // The sum-check of sum_{j,k} eq(s, j) eq(r, k) Z[j][k]^2 (degree 3), rows bound first. `claim`
  // is that sum (y*): an engine may derive one round value from it (h(1) = claim - h(0)). `carry` is
  // what col_combine_of_squares(Z, ., eq(r, .)) left, or empty.
  virtual std::unique_ptr<SumcheckProver<K>> square_sumcheck(const Table2D<F>& Z, std::span<const K> s,
                                                             std::span<const K> r, K claim, SquareCarry<K> carry) = 0;

  // The sum-check of sum_y sum_c w_c eq(x_c, y) Z(y) E(y) (degree 3) over Z and E of power-of-two
  // sizes, rows bound first: the training proof's Hadamard reduction. nullptr (the default) where
  // the engine has none for these tables: the prover then runs the host's (HostTableSumcheck), the
  // same messages by the sum-check's uniqueness.
  virtual std::unique_ptr<HadamardSumcheckProver<K>> hadamard_sumcheck(const Table2D<F>& /*Z*/, const Table2D<F>& /*E*/,
                                                                       const std::vector<EqClaim<K>>& /*claims*/) {
    return nullptr;
  }

  // Training's backward pass (TRAINING.md section 2). The defaults are the portable exact loops of
  // kernels/engine/backward_ops.hpp on host copies of the tables (on_host(), which downloads a
  // table that lives only on the engine's device); an engine may override them with faster exact
  // code on its own tables, which the cross-engine tests hold to the same bits.
  // E = W^T D: padded(cols) x D.cols.
  virtual Table2D<F> transpose_product(const FieldLayer<F>& layer, const Table2D<F>& D) {
    return backward_ops::transpose_product(layer, on_host(D));
  }
  // 2 Z o E, entrywise.
  virtual Table2D<F> double_hadamard(const Table2D<F>& Z, const Table2D<F>& E) {
    return backward_ops::double_hadamard(on_host(Z), on_host(E));
  }
  // G = D Y^T summed over the batch: rows x cols real entries, row-major.
  virtual std::vector<F> batch_outer_product(const Table2D<F>& D, const Table2D<F>& Y, std::size_t rows,
                                             std::size_t cols) {
    return backward_ops::batch_outer_product(on_host(D), on_host(Y), rows, cols);
  }
  // A structured layer's G: the gradient with respect to each trained op's own weights
  // (verifier/training/parameters.hpp), summed over the batch.
  virtual std::vector<F> structured_gradients(const FieldLayer<F>& layer, const Table2D<F>& D, const Table2D<F>& Y) {
    return backward_ops::structured_gradients(layer, on_host(D), on_host(Y));
  }
  // g = D 1: the first `rows` row sums.
  virtual std::vector<F> batch_row_sums(const Table2D<F>& D, std::size_t rows) {
    return backward_ops::batch_row_sums(on_host(D), rows);
  }
  // P[k] = sum_a eq[a] T[a][k] for every column k (the training proof's batch-sum products).
  virtual std::vector<K> row_weighted_sum(const Table2D<F>& T, std::span<const K> eq) {
    return backward_ops::row_weighted_sum<K>(on_host(T), eq);
  }

 protected:
  // The table itself when its entries are on the host, else a downloaded copy (a reference to the
  // last one, valid until the next call).
  const Table2D<F>& on_host(const Table2D<F>& t) {
    if (t.on_host()) return t;
    host_copies_.push_back(t);  // a deque: earlier references stay valid while it grows
    to_host(host_copies_.back());
    if (host_copies_.size() > 2) host_copies_.pop_front();
    return host_copies_.back();
  }

 private:
  std::deque<Table2D<F>> host_copies_;  // on_host's downloads: at most the two operands of one call
};

}  // namespace nnproof
