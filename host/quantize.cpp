#include "host/quantize.hpp"

#include <cmath>
#include <sstream>

namespace nnproof {
namespace {

std::string fmt_double(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

// round(scale * x), refusing non-integers at an implicit scale of 1 and values past `limit_bits`.
i128 scale_round(double x, double scale, bool scale_given, double limit_bits, const std::string& where, const char* flag) {
  if (!std::isfinite(x)) throw QuantizeError(where + " is not finite (" + fmt_double(x) + ")");
  double v = std::round(scale * x);  // ties away from zero
  if (!scale_given && v != x)
    throw QuantizeError(where + " is " + fmt_double(x) + ", not an integer; pass " + flag +
                        " (or set the model's metadata) to quantize float values");
  if (std::fabs(v) >= std::ldexp(1.0, static_cast<int>(limit_bits)))
    throw QuantizeError(where + " is too large after scaling (" + fmt_double(v) + " >= 2^" + std::to_string(static_cast<int>(limit_bits)) + "); use a smaller " + flag);
  return static_cast<i128>(v);
}

double pick(const std::optional<double>& cli, const std::optional<double>& meta, const char* flag) {
  double s = cli ? *cli : meta ? *meta : 1.0;
  if (!std::isfinite(s) || s <= 0) throw QuantizeError(std::string("invalid scale ") + flag + " " + fmt_double(s) + "; scales must be positive and finite");
  return s;
}

u128 abs128(i128 x) { return x < 0 ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x); }

u128 sat_mul(u128 a, u128 b) {
  if (a != 0 && b > ~u128{0} / a) return ~u128{0};
  return a * b;
}
u128 sat_add(u128 a, u128 b) { return a > ~u128{0} - b ? ~u128{0} : a + b; }

double log2_u128(u128 x) { return std::log2(static_cast<long double>(x)); }

}  // namespace

QuantizedModel quantize_model(const FloatModel& fm, const ScaleChoice& scales) {
  QuantizedModel q;
  q.alpha = pick(scales.alpha, fm.alpha, "--alpha");
  q.beta = pick(scales.beta, fm.beta, "--beta");
  const bool beta_given = scales.beta || fm.beta;
  q.final_op = fm.final_op;
  double s_y = q.alpha;  // s_Y(0) = alpha
  for (const FloatLayer& fl : fm.layers) {
    QuantizedLayer l;
    l.rows = fl.rows;
    l.cols = fl.cols;
    std::vector<std::int64_t> weights(fl.weights.size());
    const std::string where = fm.path + ": layer '" + fl.name + "'";
    for (std::size_t i = 0; i < fl.weights.size(); ++i)
      weights[i] = static_cast<std::int64_t>(scale_round(fl.weights[i], q.beta, beta_given, 62, where + " weight " + std::to_string(i), "--beta"));
    l.weights = std::move(weights);
    const double s_z = q.beta * s_y;  // s_Z(i) = beta s_Y(i-1)
    l.bias.resize(fl.rows);
    for (std::size_t a = 0; a < fl.rows; ++a)
      l.bias[a] = fl.bias.empty() ? 0 : scale_round(fl.bias[a], s_z, beta_given || s_z != 1.0, 126, where + " bias " + std::to_string(a), "--beta");
    s_y = s_z * s_z;
    q.layers.push_back(std::move(l));
  }
  q.validate();
  return q;
}

std::vector<std::int64_t> quantize_input(const NpyArray& x, const std::string& path, const QuantizedModel& model) {
  const std::size_t n0 = model.in_dim();
  if (x.shape.size() != 2 || x.shape[1] != n0) {
    std::string shape;
    for (auto d : x.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw QuantizeError(path + ": input has shape (" + shape + ") but the model takes (batch, " + std::to_string(n0) + "); save one sample per row");
  }
  if (x.shape[0] == 0) throw QuantizeError(path + ": the input has no samples");
  std::vector<std::int64_t> out(x.size());
  const bool given = model.alpha != 1.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::string where = path + ": input[" + std::to_string(i / n0) + "][" + std::to_string(i % n0) + "]";
    double v = x.is_integer() ? static_cast<double>(x.integers[i]) : x.reals[i];
    if (x.is_integer() && model.alpha == 1.0) {
      out[i] = x.integers[i];
      continue;
    }
    out[i] = static_cast<std::int64_t>(scale_round(v, model.alpha, given, 62, where, "--alpha"));
  }
  return out;
}

void check_magnitudes(const QuantizedModel& model, std::span<const std::int64_t> input, FieldId field) {
  const u128 limit = field == FieldId::m127 ? Fp127::P / 2 : static_cast<u128>(Fp61::P / 2);
  const double limit_bits = field == FieldId::m127 ? 126 : 60;
  u128 bound = 0;  // max |Y_{i-1}| over the batch
  for (auto x : input) bound = std::max(bound, abs128(x));
  auto refuse = [&](std::size_t layer, const char* what, u128 b) {
    std::ostringstream s;
    s.precision(4);
    s << "layer " << layer << " " << what << " could reach 2^" << log2_u128(b) << " > 2^" << limit_bits << ": the "
      << field_name(field) << " field would wrap and the result would be wrong; "
      << (field == FieldId::m127 ? "use smaller --alpha / --beta" : "use --field m127 or smaller --alpha / --beta");
    throw QuantizeError(s.str());
  };
  if (bound > limit) refuse(0, "input", bound);
  for (std::size_t i = 0; i < model.depth(); ++i) {
    const QuantizedLayer& l = model.layers[i];
    u128 z = 0;  // max_a sum_j |W[a][j]| bound + |B[a]|
    for (std::size_t a = 0; a < l.rows; ++a) {
      u128 row = 0;
      for (std::size_t j = 0; j < l.cols; ++j) row = sat_add(row, static_cast<u128>(abs128(l.weights[a * l.cols + j])));
      z = std::max(z, sat_add(sat_mul(row, bound), abs128(l.bias[a])));
    }
    if (z > limit) refuse(i + 1, "pre-activation", z);
    if (i + 1 < model.depth()) {
      bound = sat_mul(z, z);
      if (bound > limit) refuse(i + 1, "activation (x*x)", bound);
    }
  }
}

}  // namespace nnproof
