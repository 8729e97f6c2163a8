// SPDX-License-Identifier: Apache-2.0
#include "host/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/simd/x86.hpp"
#include "verifier/magnitude.hpp"

namespace nnproof {
namespace {

std::string fmt_double(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

// round(s x) of the exact real product s x, ties away from zero (PROTOCOL.md section 7), for finite
// s, x with |s x| < 2^127. The double product hi = fl(s x) may be off by its rounding error lo =
// s x - hi, which fma gives exactly; lo decides where hi is an integer (|hi| >= 2^52: the result is
// hi + round(lo), the tie broken by the sign of hi + lo, hi's) or exactly half-way between two
// (|hi| < 2^52: then hi + lo is on lo's side of the tie). Elsewhere round(hi) is round(s x): a
// half-integer is at least ulp(hi) > |lo| away from hi. With power-of-two scales lo is always 0.
i128 round_product(double s, double x) {
  const double hi = s * x;
  const double lo = std::fma(s, x, -hi);
  if (std::fabs(hi) >= 0x1p52) {
    double r = std::round(lo);
    if (std::fabs(lo - std::trunc(lo)) == 0.5 && std::signbit(lo) != std::signbit(hi)) r = std::trunc(lo);
    return static_cast<i128>(hi) + static_cast<i128>(r);
  }
  const double t = std::trunc(hi);
  if (std::fabs(hi - t) == 0.5 && lo != 0) {
    if (hi > 0) return static_cast<i128>(lo > 0 ? t + 1 : t);
    return static_cast<i128>(lo < 0 ? t - 1 : t);
  }
  return static_cast<i128>(std::round(hi));
}

bool power_of_two(double s) {
  int e = 0;
  return std::frexp(s, &e) == 0.5;
}

// round(scale * x), refusing non-integers at an implicit scale of 1 and values past `limit_bits`.
// where() names the value in an error; it is called only then: building that name for every
// weight cost more than the rounding (~0.1 us each, over a second for a model of 12M weights).
template <class Where>
i128 scale_round(double x, double scale, bool scale_given, double limit_bits, Where&& where, const char* flag) {
  if (!std::isfinite(x)) throw QuantizeError(where() + " is not finite (" + fmt_double(x) + ")");
  double v = std::round(scale * x);  // ties away from zero
  if (!scale_given && v != x)
    throw QuantizeError(where() + " is " + fmt_double(x) + ", not an integer; pass " + flag +
                        " (or set the model's metadata) to quantize float values");
  if (std::fabs(v) >= std::ldexp(1.0, static_cast<int>(limit_bits)))
    throw QuantizeError(where() + " is too large after scaling (" + fmt_double(v) + ", magnitude >= 2^" +
                        std::to_string(static_cast<int>(limit_bits)) + "); use a smaller " + flag);
  // A power of two scales exactly: then v is round(scale x). Below 2^63 one conversion
  // instruction; a double to 128-bit conversion is a libgcc call, which was the largest part of
  // loading a model of 12M weights.
  if (!power_of_two(scale)) return round_product(scale, x);
  return std::fabs(v) < 0x1p63 ? static_cast<i128>(static_cast<std::int64_t>(v)) : static_cast<i128>(v);
}

// Quantized weights and inputs stay below 2^62 in magnitude: they are stored as int64, and the
// magnitude check refuses anything near that for either field anyway.
constexpr int kWeightBits = 62;

// round(y) for |y| < 2^62, ties away from zero as std::round, with integer conversions only:
// std::round is a libm call per value, most of quantizing a large model. The fraction y - c is
// exact: below 2^52 both are exact doubles, and from 2^52 on y is an integer (c = y).
inline std::int64_t round_half_away(double y) {
  const auto c = static_cast<std::int64_t>(y);  // toward zero
  const double frac = y - static_cast<double>(c);
  return c + (frac >= 0.5) - (frac <= -0.5);
}

struct RoundedRange {
  bool ok = true;               // scale_round accepts every value
  std::int64_t lo = 0, hi = 0;  // the range of the rounded values (and 0)
};

// The first of two passes over a layer's weights: whether scale_round accepts each scale * x[i]
// (finite, below 2^kWeightBits, an integer already when the scale is implicit), and the range of
// the rounded values, which picks the storage the second pass writes.
// Written for the vectorizer (host/CMakeLists.txt: -fno-trapping-math): no branches, and the
// reductions in integers.
NNP_CLONES_V4_V3 RoundedRange check_scaled(const double* x, std::size_t n, double scale, bool scale_given) {
  // |y| < limit is scale_round's test |round(y)| < limit: rounding moves no value across a limit
  // of 2^53 or more (from 2^52 on, every double is an integer).
  static_assert(kWeightBits >= 53 && kWeightBits <= 62);
  const double limit = std::ldexp(1.0, kWeightBits);
  const unsigned implicit = scale_given ? 0 : 1;  // non-integers are refused
  std::int64_t lo = 0, hi = 0;
  unsigned refused = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double y = scale * x[i];
    const bool in_range = std::fabs(y) < limit;  // false for NaN and infinities
    const std::int64_t v = round_half_away(in_range ? y : 0.0);
    // Bitwise, not ||: a short circuit is control flow, which the vectorizer refuses.
    refused |= static_cast<unsigned>(!in_range) | (implicit & static_cast<unsigned>(static_cast<double>(v) != x[i]));
    lo = lo < v ? lo : v;
    hi = hi > v ? hi : v;
  }
  return {refused == 0, lo, hi};
}

// The second pass, once check_scaled accepted every value: the rounded values into the storage.
template <class T>
NNP_CLONES_V4_V3 void round_scaled(const double* x, std::size_t n, double scale, T* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(round_half_away(scale * x[i]));
}

// A dense layer's weights, scaled by beta, written straight into their narrowest storage.
WeightMatrix quantize_weights(const std::vector<double>& w, double beta, bool beta_given, const std::string& where) {
  const RoundedRange r = check_scaled(w.data(), w.size(), beta, beta_given);
  // The vectorized rounding rounds the double product: exact for a power-of-two beta only.
  if (r.ok && power_of_two(beta))
    return WeightMatrix::with_range(r.lo, r.hi, w.size(),
                                    [&](auto* out) { round_scaled(w.data(), w.size(), beta, out); });
  // Some weight is refused: scale_round throws for the first one, with its name in the message.
  std::vector<std::int64_t> q(w.size());
  for (std::size_t i = 0; i < w.size(); ++i)
    q[i] = static_cast<std::int64_t>(scale_round(
        w[i], beta, beta_given, kWeightBits, [&] { return where + " weight " + std::to_string(i); }, "--beta"));
  return WeightMatrix(std::move(q));
}

double pick(const std::optional<double>& cli, const std::optional<double>& meta, const char* flag) {
  double s = cli ? *cli : meta ? *meta : 1.0;
  if (!std::isfinite(s) || s <= 0)
    throw QuantizeError(std::string("invalid scale ") + flag + " " + fmt_double(s) +
                        "; scales must be positive and finite");
  return s;
}

// a b for two scales, refused where a double cannot hold the product exactly: PROTOCOL.md section 7
// tracks the scales exactly, and a verifier that follows it computes the model binding from them
// (alpha = beta = 10 and 4 layers make s_Z(4) = 10^23, which a double rounds).
double scale_product(double a, double b, const std::string& path, const std::string& what) {
  const double p = a * b;
  if (!std::isfinite(p) || std::fma(a, b, -p) != 0)
    throw QuantizeError(path + ": the scale " + what + " = " + fmt_double(a) + " * " + fmt_double(b) +
                        " has no exact double form; use powers of two for --alpha / --beta (as nnproof quantize "
                        "picks) or smaller ones");
  return p;
}

// Weighted ops are scaled by beta; exact ops (sum pooling) keep their integers and fold 1/factor
// into the scale instead. Returns s_Z(i) / s_Y(i-1).
double quantize_ops(const FloatLayer& fl, QuantizedLayer& l, double beta, bool beta_given, const std::string& where,
                    const std::string& path) {
  double gain = 1;
  for (std::size_t k = 0; k < fl.ops.size(); ++k) {
    const FloatOp& fo = fl.ops[k];
    WeightMatrix w;
    if (fo.exact) {
      std::vector<std::int64_t> exact(fo.weights.size());
      for (std::size_t i = 0; i < exact.size(); ++i) exact[i] = static_cast<std::int64_t>(fo.weights[i]);
      w = WeightMatrix(std::move(exact));
    } else {
      w = quantize_weights(fo.weights, beta, beta_given, where + " op " + std::to_string(k + 1));
    }
    gain = scale_product(gain, fo.exact ? 1.0 / fo.factor : beta, path, "gain of " + where);
    l.ops.push_back(fo.kind == LinearOp::Kind::dense ? LinearOp::dense(fo.rows, fo.cols, std::move(w))
                                                     : LinearOp::convolution(fo.conv, std::move(w)));
    l.ops.back().fixed = fo.exact;                            // what training keeps (verifier/training/parameters.hpp)
    if (fo.exact) l.ops.back().fixed_gain = 1.0 / fo.factor;  // the gain folded into the scale above
  }
  return gain;
}

// The exact biases the file carries for layer `index` (FloatModel::exact_biases) replace the
// rounded ones where each float bias is its exact integer rounded to a double and scaled down by
// s_Z(i) (as write_quantized_onnx writes them; then round(s_Z(i) b') is that integer's nearest
// double). Where the floats say otherwise (the model edited, other scales given) the floats stand.
void take_exact_biases(const FloatModel& fm, std::size_t index, double s_z, const FloatLayer& fl, QuantizedLayer& l) {
  const auto it = fm.exact_biases.find(index);
  if (it == fm.exact_biases.end()) return;
  const std::vector<i128>& exact = it->second;
  if (exact.size() != l.rows)
    throw QuantizeError(fm.path + ": metadata nnproof.bias." + std::to_string(index) + " holds " +
                        std::to_string(exact.size()) + " biases for a layer of " + std::to_string(l.rows) +
                        " outputs; remove the entry or write the model again with nnproof");
  for (std::size_t a = 0; a < l.rows; ++a) {
    const double b = fl.bias.empty() ? 0.0 : fl.bias[a];
    if (static_cast<double>(exact[a]) != s_z * b) return;
  }
  l.bias = exact;
}

}  // namespace

QuantizedModel quantize_model(const FloatModel& fm, const ScaleChoice& scales) {
  QuantizedModel q;
  q.alpha = pick(scales.alpha, fm.alpha, "--alpha");
  q.beta = pick(scales.beta, fm.beta, "--beta");
  const bool beta_given = scales.beta || fm.beta;
  q.final_op = fm.final_op;
  q.input_shape = fm.input_shape;
  double s_y = q.alpha;  // s_Y(0) = alpha
  for (const FloatLayer& fl : fm.layers) {
    QuantizedLayer l;
    l.rows = fl.rows;
    l.cols = fl.cols;
    const std::string where = fm.path + ": layer '" + fl.name + "'";
    double gain = q.beta;
    if (fl.structured()) {
      gain = quantize_ops(fl, l, q.beta, beta_given, where, fm.path);
      l.gain = gain;
    } else {
      l.weights = quantize_weights(fl.weights, q.beta, beta_given, where);
    }
    const std::string index = std::to_string(q.layers.size() + 1);
    const double s_z = scale_product(gain, s_y, fm.path, "s_Z(" + index + ")");  // beta s_Y(i-1) for one op
    l.bias.resize(fl.rows);
    for (std::size_t a = 0; a < fl.rows; ++a)
      l.bias[a] = fl.bias.empty() ? 0
                                  : scale_round(
                                        fl.bias[a], s_z, beta_given || s_z != 1.0, 126,
                                        [&] { return where + " bias " + std::to_string(a); }, "--beta");
    take_exact_biases(fm, q.layers.size() + 1, s_z, fl, l);
    if (q.layers.size() + 1 < fm.layers.size()) s_y = scale_product(s_z, s_z, fm.path, "s_Y(" + index + ")");
    q.layers.push_back(std::move(l));
  }
  q.validate();
  return q;
}

std::vector<std::int64_t> quantize_input(const NpyArray& x, const std::string& path, const QuantizedModel& model) {
  const std::size_t n0 = model.in_dim();
  const std::vector<std::size_t> per_sample(x.shape.begin() + (x.shape.empty() ? 0 : 1), x.shape.end());
  const bool flat_ok = x.shape.size() == 2 && x.shape[1] == n0;
  const bool shaped_ok = x.shape.size() > 2 && per_sample == model.input_shape;
  if (!flat_ok && !shaped_ok) {
    auto str = [](const std::vector<std::size_t>& dims) {
      std::string out;
      for (auto d : dims) out += ", " + std::to_string(d);
      return out;
    };
    std::string expected = "(batch" + str({n0}) + ")";
    if (model.input_shape.size() > 1) expected += " or (batch" + str(model.input_shape) + ")";
    throw QuantizeError(path + ": input has shape (" + str(x.shape).substr(x.shape.empty() ? 0 : 2) +
                        ") but the model takes " + expected + "; save one sample per row");
  }
  if (x.shape[0] == 0) throw QuantizeError(path + ": the input has no samples");
  std::vector<std::int64_t> out(x.size());
  const bool given = model.alpha != 1.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    double v = x.is_integer() ? static_cast<double>(x.integers[i]) : x.reals[i];
    if (x.is_integer() && model.alpha == 1.0) {
      out[i] = x.integers[i];
      continue;
    }
    const auto where = [&] { return path + ": input[" + std::to_string(i / n0) + "][" + std::to_string(i % n0) + "]"; };
    out[i] = static_cast<std::int64_t>(scale_round(v, model.alpha, given, kWeightBits, where, "--alpha"));
  }
  return out;
}

void check_magnitudes(const QuantizedModel& model, std::span<const std::int64_t> input, FieldId field) {
  if (auto v = magnitude_violation(magnitude_profile(model), max_abs(input), field))
    throw QuantizeError(
        v->describe(field) + ": the field would wrap and the result would be wrong; " +
        (field == FieldId::m127 ? "use smaller --alpha / --beta" : "use --field m127 or smaller --alpha / --beta"));
}

}  // namespace nnproof
