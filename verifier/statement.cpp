// SPDX-License-Identifier: Apache-2.0
#include "verifier/statement.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <type_traits>

#include "verifier/element_hash.hpp"
#include "verifier/input_binding.hpp"
#include "verifier/parallel.hpp"

namespace nnproof {

template <class Cfg>
Digest model_binding(const Statement<Cfg>& st) {
  Sha256 h;
  h.update_str("nnproof/model-scales/v1").update(st.model_digest);
  h.update_u64(std::bit_cast<std::uint64_t>(st.model->alpha)).update_u64(std::bit_cast<std::uint64_t>(st.model->beta));
  return h.finish();
}

template <class Cfg>
Digest output_binding(const Statement<Cfg>& st) {
  Sha256 h;
  h.update_str("nnproof/outputs/v1");
  update_elements(h, std::span<const typename Cfg::F>(st.outputs));
  return h.finish();
}

template <class Cfg>
StatementBindings statement_bindings(const Statement<Cfg>& st, InputEncoding encoding) {
  // Task 0 hashes the outputs, task 1 + c the input's chunk c, each task its own SHA-256 stream:
  // one stream runs on one core, and the input (a two-level hash) is the largest thing either
  // party hashes. Dynamic scheduling: the outputs may be longer than a chunk.
  std::vector<Digest> digests(input_chunks(st, encoding));
  StatementBindings b;
  parallel_for_dynamic(digests.size() + 1, [&](std::size_t task) {
    if (task == 0)
      b.outputs = output_binding(st);
    else
      digests[task - 1] = input_chunk_digest(st, encoding, task - 1);
  });
  b.input = input_binding_of(st, encoding, digests);
  b.model = model_binding(st);
  return b;
}

template <class Cfg>
Digest statement_digest(const Statement<Cfg>& st, const StatementBindings& b) {
  Sha256 h;
  h.update_str("nnproof/statement/v2").update_str(field_name(Cfg::kId));
  h.update(b.model).update(b.input);
  auto dims = st.model->dims();
  h.update_u64(dims.size());
  for (auto d : dims) h.update_u64(d);
  h.update_u64(st.batch);
  h.update(b.outputs);
  return h.finish();
}

#define NNP_INSTANTIATE(Cfg)                                                           \
  template Digest model_binding(const Statement<Cfg>&);                                \
  template StatementBindings statement_bindings(const Statement<Cfg>&, InputEncoding); \
  template Digest output_binding(const Statement<Cfg>&);                               \
  template Digest statement_digest(const Statement<Cfg>&, const StatementBindings&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

std::size_t ProofShape::message_count() const {
  std::size_t n = 0;
  for (std::size_t i = depth(); i >= 1; --i) {
    n += 2 * nu(i - 1) + 1;                         // product sum-check + y*
    if (i >= 2) n += 3 * (nu(i - 1) + beta()) + 1;  // activation sum-check + z*
  }
  return n;
}

double ProofShape::soundness_bits(FieldId field) const {
  double rounds_weighted = nu(depth()) + beta();  // the output check
  for (std::size_t i = 1; i <= depth(); ++i) {
    rounds_weighted += 2.0 * nu(i - 1);
    if (i >= 2) rounds_weighted += 3.0 * (nu(i - 1) + beta());
  }
  return challenge_field_log2(field) - std::log2(std::max(rounds_weighted, 1.0));
}

}  // namespace nnproof
