// SPDX-License-Identifier: Apache-2.0
#include "verifier/training/statement.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "verifier/element_hash.hpp"
#include "verifier/training/computation.hpp"

namespace nnproof {

std::size_t TrainingShape::parameters(std::size_t i) const {
  if (structure.empty() || !structure.at(i - 1)) return dims[i] * dims[i - 1];
  std::size_t n = 0;
  for (const TrainedOp& t : *structure[i - 1]) n += t.params;
  return n;
}

std::size_t TrainingShape::claim_elements() const {
  std::size_t n = 1 + samples * dims.back();  // the loss, the outputs
  for (std::size_t i = 1; i <= depth(); ++i) n += parameters(i) + dims[i];
  return n;
}

std::size_t TrainingShape::message_count() const {
  return walk_cost(training_computation(dims, samples, structure)).messages;
}

double TrainingShape::soundness_bits(FieldId field) const {
  const double terms = walk_cost(training_computation(dims, samples, structure)).error_terms;
  return challenge_field_log2(field) - std::log2(std::max(terms, 1.0));
}

TrainingShape training_shape(const QuantizedModel& model, std::size_t samples) {
  return {model.dims(), samples, layer_structure(model)};
}

template <class Cfg>
TrainingBindings training_bindings(const TrainingStatement<Cfg>& st) {
  using F = typename Cfg::F;
  TrainingBindings b;
  {
    Sha256 h;
    h.update_str("nnproof/model-scales/v1").update(st.model_digest);
    h.update_u64(std::bit_cast<std::uint64_t>(st.model->alpha))
        .update_u64(std::bit_cast<std::uint64_t>(st.model->beta));
    // Which ops are trained (LinearOp::fixed) decides what G_i holds; the model digest leaves it out
    // (inference does not depend on it), so a model with structured layers binds it here. Dense
    // models hash nothing more: their bindings are unchanged.
    if (std::any_of(st.model->layers.begin(), st.model->layers.end(), [](const auto& l) { return l.structured(); })) {
      h.update_str("fixed-ops");
      for (const QuantizedLayer& l : st.model->layers) {
        h.update_u64(l.ops.size());
        for (const LinearOp& op : l.ops) h.update_u8(op.fixed ? 1 : 0);
      }
    }
    b.model = h.finish();
  }
  {
    Sha256 h;
    h.update_str("nnproof/training-data/v1").update_str(field_name(Cfg::kId));
    h.update_u64(st.model->in_dim()).update_u64(st.samples);
    update_chunked(h, std::span<const F>(st.input));
    h.update_u64(st.labels.size());
    for (std::int64_t y : st.labels) h.update_u64(static_cast<std::uint64_t>(y));
    b.data = h.finish();
  }
  {
    const TrainingClaims<F>& c = st.claims;
    Sha256 h;
    h.update_str("nnproof/training-claims/v1");
    update_elements(h, std::span<const F>(&c.loss, 1));
    h.update_u64(c.weight_gradients.size());
    for (std::size_t i = 0; i < c.weight_gradients.size(); ++i) {
      update_chunked(h, std::span<const F>(c.weight_gradients[i]));
      update_elements(h, std::span<const F>(c.bias_gradients.at(i)));
    }
    update_chunked(h, std::span<const F>(c.outputs));
    b.claims = h.finish();
  }
  return b;
}

template <class Cfg>
Digest training_statement_digest(const TrainingStatement<Cfg>& st, const TrainingBindings& b) {
  Sha256 h;
  h.update_str("nnproof/training-statement/v1").update_str(field_name(Cfg::kId));
  h.update(b.model).update(b.data).update_u32(st.lr_exponent);
  const auto dims = st.model->dims();
  h.update_u64(dims.size());
  for (auto d : dims) h.update_u64(d);
  h.update_u64(st.samples);
  h.update(b.claims);
  return h.finish();
}

#define NNP_INSTANTIATE(Cfg)                                                  \
  template TrainingBindings training_bindings(const TrainingStatement<Cfg>&); \
  template Digest training_statement_digest(const TrainingStatement<Cfg>&, const TrainingBindings&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
