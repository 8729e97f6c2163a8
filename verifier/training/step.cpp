// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/step.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "verifier/training/parameters.hpp"

namespace nnproof {
namespace {

// log2 of a power of two (a positive finite double), else nothing.
std::optional<int> exact_log2(double x) {
  if (!(x > 0) || !std::isfinite(x)) return std::nullopt;
  int e = 0;
  if (std::frexp(x, &e) != 0.5) return std::nullopt;
  return e - 1;
}

u128 magnitude(i128 a) { return a < 0 ? static_cast<u128>(-(a + 1)) + 1 : static_cast<u128>(a); }

// round(u / d), ties up, for d >= 1: the remainder compared with what is left of d (no overflow).
u128 round_div(u128 u, u128 d) {
  if (u >> 64 == 0 && d >> 64 == 0) {  // the common case, in one 64-bit division
    const auto u64 = static_cast<std::uint64_t>(u), d64 = static_cast<std::uint64_t>(d);
    const std::uint64_t q = u64 / d64, r = u64 % d64;
    return q + (r >= d64 - r ? 1 : 0);
  }
  const u128 q = u / d, r = u % d;
  return q + (r >= d - r ? 1 : 0);
}

// Checks that a value from a double step stays within int range for the exponents.
int checked(long long k, const char* what) {
  if (k < std::numeric_limits<int>::min() / 2 || k > std::numeric_limits<int>::max() / 2)
    throw std::invalid_argument(std::string("the step's ") + what + " exponent is out of range");
  return static_cast<int>(k);
}

// The gains the ONNX writer gives back (host/onnx/onnx_export.cpp): 1 for a 0/1 Conv, k_h k_w
// for a depthwise ones kernel written as AveragePool. Any other factor would train but fail at
// the end, when the trained model is written.
bool writable_fixed_gain(const LinearOp& op) {
  if (op.fixed_gain == 1) return true;
  return op.is_ones_pool() && op.fixed_gain == static_cast<double>(op.conv.kernel_h * op.conv.kernel_w);
}

}  // namespace

StepExponents step_exponents(const QuantizedModel& model, std::uint32_t lr_exponent) {
  const auto la = exact_log2(model.alpha), lb = exact_log2(model.beta);
  if (!la || !lb)
    throw std::invalid_argument(
        "training needs power-of-two scales alpha and beta (the model has alpha = " + std::to_string(model.alpha) +
        ", beta = " + std::to_string(model.beta) + "); quantize it with `nnproof quantize`");
  // log2 s_Z(i) = log2 beta + log2 s_Y(i-1), log2 s_Y(i) = 2 log2 s_Z(i), log2 s_Y(0) = log2 alpha.
  std::vector<long long> sz;
  long long sy = *la;
  for (const QuantizedLayer& l : model.layers) {
    // A structured layer's s_Z(i) is its gain times s_Y(i-1): beta per weighted op, times the sum
    // pools' k^2 (a power of two for 2x2 and 4x4 pools; a 3x3 pool's 9 is not, and its step's
    // exact rational divisor is not built yet), times 1 per 0/1 Conv.
    long long lg = *lb;
    for (const LinearOp& op : l.ops)
      if (op.fixed && !writable_fixed_gain(op))
        throw std::invalid_argument(
            "a sum pool or 0/1 convolution has scale gain " + std::to_string(op.fixed_gain) +
            " (a constant factor folded into it, e.g. a Mul after an AveragePool), which a trained model cannot be "
            "written back with; move the constant into the next weighted layer");
    if (l.structured() && l.gain.value_or(model.beta) != ops_gain(l, model.beta))
      throw std::invalid_argument("a layer's scale gain " + std::to_string(l.gain.value_or(model.beta)) +
                                  " is not beta per weighted op times its fixed ops' gains (" +
                                  std::to_string(ops_gain(l, model.beta)) + "): its weights cannot be stepped exactly");
    if (l.structured() || l.gain) {
      const auto g = exact_log2(l.gain.value_or(model.beta));
      if (!g)
        throw std::invalid_argument("training needs power-of-two layer gains (a layer has gain " +
                                    std::to_string(l.gain.value_or(model.beta)) +
                                    ", e.g. a 3x3 average pool); use 2x2 or 4x4 pools");
      lg = *g;
    }
    sz.push_back(lg + sy);
    sy = 2 * sz.back();
    if (sy > (1LL << 40)) throw std::invalid_argument("the model's scales grow past any exact step");
  }
  if (sz.empty()) throw std::invalid_argument("the model has no layers");
  StepExponents out;
  const long long top = 2 * sz.back() + lr_exponent;  // log2 (s_Z(L)^2 / eta)
  out.weight = checked(top - 2LL * *lb, "weight");
  for (long long s : sz) out.bias.push_back(checked(top - 2 * s, "bias"));
  return out;
}

std::optional<i128> rdiv_pow2(i128 a, std::uint64_t n, int k) {
  if (n == 0) throw std::invalid_argument("rdiv_pow2: n must be at least 1");
  if (a == 0) return i128{0};
  const u128 u = magnitude(a);  // <= 2^127
  const int n_bits = std::bit_width(n);
  u128 q = 0;
  if (k >= 0) {
    // d = n 2^k >= 2^(n_bits - 1 + k); from 2^128 on it exceeds 2u and the quotient rounds to 0.
    if (n_bits + k > 128) return i128{0};
    q = round_div(u, static_cast<u128>(n) << k);
  } else {
    const int m = -k;
    if (std::bit_width(u) + m > 128) return std::nullopt;
    q = round_div(u << m, n);
  }
  if (q > static_cast<u128>(std::numeric_limits<i128>::max())) return std::nullopt;
  return a < 0 ? -static_cast<i128>(q) : static_cast<i128>(q);
}

template <class F>
std::size_t weights_changed(const TrainingClaims<F>& claims, std::size_t samples, std::uint32_t lr_exponent,
                            const QuantizedModel& model) {
  const StepExponents k = step_exponents(model, lr_exponent);
  if (claims.weight_gradients.size() != model.depth() || claims.bias_gradients.size() != model.depth())
    throw std::invalid_argument("weights_changed: the claims have another depth than the model");
  auto moves = [&](F g, int exponent) {
    const auto q = rdiv_pow2(static_cast<i128>(g.centered()), samples, exponent);
    return !q || *q != 0;  // no quotient: too large to hold, certainly not zero
  };
  std::size_t changed = 0;
  for (std::size_t i = 0; i < model.depth(); ++i) {
    for (F g : claims.weight_gradients[i]) changed += moves(g, k.weight) ? 1 : 0;
    for (F g : claims.bias_gradients[i]) changed += moves(g, k.bias[i]) ? 1 : 0;
  }
  return changed;
}

double ops_gain(const QuantizedLayer& layer, double beta) {
  double gain = 1;
  for (const LinearOp& op : layer.ops) gain *= op.fixed ? op.fixed_gain : beta;
  return gain;
}

std::size_t weights_total(const QuantizedModel& model) {
  std::size_t n = 0;
  for (const QuantizedLayer& l : model.layers) n += layer_parameters(l) + l.rows;
  return n;
}

template std::size_t weights_changed(const TrainingClaims<Fp61>&, std::size_t, std::uint32_t, const QuantizedModel&);
template std::size_t weights_changed(const TrainingClaims<Fp127>&, std::size_t, std::uint32_t, const QuantizedModel&);

}  // namespace nnproof
