// SPDX-License-Identifier: Apache-2.0
#pragma once
// The trainer (TRAINING.md section 3): exact gradient descent on the quantized integer model, on
// any engine, every step W_i <- W_i - rdiv(G_i, n 2^k_W), B_i <- B_i - rdiv(g_i, n 2^k_B(i))
// (verifier/training/step.hpp) with G_i, g_i the batch's exact gradients (backward.hpp). Every
// engine computes the same integers, so a run is reproducible bit for bit across engines.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "host/prover.hpp"
#include "verifier/model.hpp"

namespace nnproof {

// A step the trainer refuses: a field that could wrap, a weight leaving its range. One line.
struct TrainingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TrainingData {
  std::vector<std::int64_t> input;   // N x n_0, row per sample, quantized by alpha
  std::vector<std::int64_t> labels;  // N classes in [0, n_L)
  std::size_t samples() const { return labels.size(); }
};

struct TrainOptions {
  std::size_t epochs = 10;
  std::size_t batch = 0;          // samples per step; 0 (or >= N): full batch
  std::uint32_t lr_exponent = 6;  // eta = 2^-lr_exponent
  std::uint64_t seed = 0;         // the batches' permutations (epoch_order)
};

struct EpochReport {
  std::size_t epoch = 0;  // from 1
  std::size_t steps = 0;
  // The sum of the epoch's batch losses, each taken before its step (exact), and the same as the
  // float model's mean squared error: loss / (s_Z(L)^2 N).
  i128 loss = 0;
  double loss_float = 0;
  double accuracy = 0;              // samples whose largest output was their label, over N
  std::size_t weights_changed = 0;  // weights and biases the epoch's last step changed
  bool converged = false;           // no step of the epoch changed anything: training stops
  double seconds = 0;
};

using EpochFn = std::function<void(const EpochReport&)>;

// The order in which epoch `epoch` (from 0) visits the N samples when training in batches: one
// SplitMix64 stream seeded with `seed`, (N - 1) draws per epoch (so epoch e starts at state
// seed + e (N - 1) 0x9E3779B97F4A7C15 mod 2^64), shuffling 0..N-1 by Fisher-Yates: for i = N - 1
// down to 1, swap entries i and (next() mod (i + 1)). (The modulo's bias is below N / 2^64.)
std::vector<std::size_t> epoch_order(std::uint64_t seed, std::size_t epoch, std::size_t samples);

// Trains `model` in place (its alpha, beta and shape are kept; weights widen as they must).
// Before each step the training magnitude bound for the step's batch size and the data's largest
// input must hold in Cfg's field (TrainingError naming the layer and the fix otherwise). Stops
// after `epochs` epochs, or after an epoch in which no step changed anything. Returns the epochs
// run.
template <class Cfg>
std::size_t train(Engine<Cfg>& engine, QuantizedModel& model, const TrainingData& data, const TrainOptions& options,
                  const EpochFn& on_epoch = {}, const ProgressFn& progress = {});

}  // namespace nnproof
