// SPDX-License-Identifier: Apache-2.0
#include "host/cli/float_forward.hpp"

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace nnproof::cli {
namespace {

using dnnl::memory;
using dims = memory::dims;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

memory::dim md(std::size_t d) { return static_cast<memory::dim>(d); }

std::vector<float> as_floats(const WeightMatrix& w) {
  std::vector<float> v(w.size());
  w.visit([&](const auto* x) {
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(x[i]);
  });
  return v;
}

bool is_sum_pool(const LinearOp& op) {
  if (op.kind != LinearOp::Kind::conv) return false;
  const ConvShape& c = op.conv;
  if (c.groups != c.in_channels || c.out_channels != c.in_channels) return false;
  for (std::size_t i = 0; i < op.weights.size(); ++i)
    if (op.weights[i] != 1) return false;
  return true;
}

// The network as a list of primitives with their arguments; `steps` run in order.
struct Net {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::vector<std::vector<float>> buffers;  // user-layout weights and biases, the input
  std::vector<memory> keep;                 // memories the steps' arguments refer to
  std::vector<std::pair<dnnl::primitive, std::unordered_map<int, memory>>> steps;
  memory cur;  // the activation the next op reads

  memory user(std::vector<float> data, const memory::desc& d) {
    buffers.push_back(std::move(data));
    return memory(d, eng, buffers.back().data());
  }
  // `m` in layout `want`: a reorder, once at setup (weights) or as a timed step (activations).
  memory to(const memory& m, const memory::desc& want, bool timed) {
    if (m.get_desc() == want) return m;
    memory out(want, eng);
    if (timed) {
      steps.push_back({dnnl::reorder(m, out), {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, out}}});
    } else {
      dnnl::stream s(eng);
      dnnl::reorder(m, out).execute(s, const_cast<memory&>(m), out);
      s.wait();
    }
    keep.push_back(out);
    return out;
  }
  // The current activation viewed with `want_dims` (plain layout), for ops whose input shape
  // differs from the last output's (a dense layer read as a convolution's input, say).
  void reshape(const dims& want_dims, tag plain) {
    const memory::desc d = cur.get_desc();
    if (d.dims() == want_dims) return;
    const tag from = d.dims().size() == 4 ? tag::nchw : tag::nc;
    memory flat = to(cur, memory::desc(d.dims(), f32, from), true);
    cur = memory(memory::desc(want_dims, f32, plain), eng, flat.get_data_handle());
    keep.push_back(cur);
  }
  static dnnl::primitive_attr square_attr(bool square) {
    dnnl::primitive_attr attr;
    if (square) {
      dnnl::post_ops po;
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_square, 0.f, 0.f);
      attr.set_post_ops(po);
    }
    return attr;
  }

  void pool(const ConvShape& c, std::size_t batch) {
    reshape({md(batch), md(c.in_channels), md(c.in_h), md(c.in_w)}, tag::nchw);
    const memory::desc dst({md(batch), md(c.out_channels), md(c.out_h()), md(c.out_w())}, f32, tag::any);
    const dnnl::pooling_forward::primitive_desc pd({dnnl::prop_kind::forward_inference,
                                                    dnnl::algorithm::pooling_avg_include_padding,
                                                    cur.get_desc(),
                                                    dst,
                                                    {md(c.stride_h), md(c.stride_w)},
                                                    {md(c.kernel_h), md(c.kernel_w)},
                                                    {md(c.pad_top), md(c.pad_left)},
                                                    {md(c.pad_bottom), md(c.pad_right)}},
                                                   eng);
    memory out(pd.dst_desc(), eng);
    steps.push_back({dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, cur}, {DNNL_ARG_DST, out}}});
    keep.push_back(out);
    cur = out;
  }

  void conv(const LinearOp& op, std::size_t batch, const std::vector<float>* bias, bool square) {
    const ConvShape& c = op.conv;
    reshape({md(batch), md(c.in_channels), md(c.in_h), md(c.in_w)}, tag::nchw);
    const dims wdims = c.groups == 1 ? dims{md(c.out_channels), md(c.in_channels), md(c.kernel_h), md(c.kernel_w)}
                                     : dims{md(c.groups), md(c.out_channels / c.groups), md(c.group_in()),
                                            md(c.kernel_h), md(c.kernel_w)};
    const memory::desc src_any({md(batch), md(c.in_channels), md(c.in_h), md(c.in_w)}, f32, tag::any),
        w_any(wdims, f32, tag::any), b_md({md(c.out_channels)}, f32, tag::x),
        dst_any({md(batch), md(c.out_channels), md(c.out_h()), md(c.out_w())}, f32, tag::any);
    const dims strides{md(c.stride_h), md(c.stride_w)}, pad_l{md(c.pad_top), md(c.pad_left)},
        pad_r{md(c.pad_bottom), md(c.pad_right)};
    const auto d =
        bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               src_any, w_any, b_md, dst_any, strides, pad_l, pad_r)
             : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               src_any, w_any, dst_any, strides, pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc pd(d, square_attr(square), eng);
    const memory w = to(user(as_floats(op.weights), memory::desc(wdims, f32, c.groups == 1 ? tag::oihw : tag::goihw)),
                        pd.weights_desc(), false);
    const memory src = to(cur, pd.src_desc(), true);
    memory out(pd.dst_desc(), eng);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, out}};
    if (bias) args[DNNL_ARG_BIAS] = user(*bias, b_md);
    steps.push_back({dnnl::convolution_forward(pd), std::move(args)});
    keep.push_back(out);
    cur = out;
  }

  void dense(std::size_t rows, std::size_t cols, const WeightMatrix& weights, std::size_t batch,
             const std::vector<float>& bias, bool square) {
    dims in = cur.get_desc().dims();
    std::size_t features = 1;
    for (std::size_t i = 1; i < in.size(); ++i) features *= static_cast<std::size_t>(in[i]);
    if (features != cols) {
      reshape({md(batch), md(cols)}, tag::nc);
      in = cur.get_desc().dims();
    }
    dims wdims = in;
    wdims[0] = md(rows);  // O x (C x H x W): the feature index c H W + h W + w is oihw's
    const tag wtag = in.size() == 4 ? tag::oihw : tag::oi;
    const memory::desc b_md({md(rows)}, f32, tag::x), dst({md(batch), md(rows)}, f32, tag::nc),
        w_any(wdims, f32, tag::any);
    const dnnl::inner_product_forward::primitive_desc pd(
        {dnnl::prop_kind::forward_inference, cur.get_desc(), w_any, b_md, dst}, square_attr(square), eng);
    const memory w = to(user(as_floats(weights), memory::desc(wdims, f32, wtag)), pd.weights_desc(), false);
    const memory src = to(cur, pd.src_desc(), true);
    memory out(pd.dst_desc(), eng);
    steps.push_back(
        {dnnl::inner_product_forward(pd),
         {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, user(bias, b_md)}, {DNNL_ARG_DST, out}}});
    keep.push_back(out);
    cur = out;
  }
};

std::vector<float> bias_floats(const QuantizedLayer& l) {
  std::vector<float> b(l.bias.size());
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(static_cast<double>(l.bias[i]));
  return b;
}

}  // namespace

std::function<void()> float_forward_model(const QuantizedModel& model, std::size_t batch, std::mt19937_64& rng) {
  auto net = std::make_shared<Net>();
  try {
    std::normal_distribution<float> g(0.f, 1.f);
    std::vector<float> x(batch * model.in_dim());
    for (auto& v : x) v = g(rng);
    const auto& shape = model.input_shape;
    const bool image = shape.size() == 3;
    net->cur = net->user(std::move(x),
                         image ? memory::desc({md(batch), md(shape[0]), md(shape[1]), md(shape[2])}, f32, tag::nchw)
                               : memory::desc({md(batch), md(model.in_dim())}, f32, tag::nc));
    for (std::size_t i = 0; i < model.depth(); ++i) {
      const QuantizedLayer& l = model.layers[i];
      const bool square = i + 1 < model.depth();
      const std::vector<float> bias = bias_floats(l);
      if (!l.structured()) {
        net->dense(l.rows, l.cols, l.weights, batch, bias, square);
        continue;
      }
      for (std::size_t j = 0; j < l.ops.size(); ++j) {
        const LinearOp& op = l.ops[j];
        const bool last = j + 1 == l.ops.size();
        if (op.kind == LinearOp::Kind::dense)
          net->dense(op.rows, op.cols, op.weights, batch, last ? bias : std::vector<float>(op.rows, 0.f),
                     last && square);
        else if (!last && is_sum_pool(op))
          net->pool(op.conv, batch);
        else
          net->conv(op, batch, last ? &bias : nullptr, last && square);
      }
    }
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("bench: oneDNN float32 model setup failed: ") + e.what());
  }
  return [net] {
    dnnl::stream s(net->eng);
    for (auto& [prim, args] : net->steps) prim.execute(s, args);
    s.wait();
  };
}

}  // namespace nnproof::cli
