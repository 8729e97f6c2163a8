// SPDX-License-Identifier: Apache-2.0
#include "verifier/input_binding.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "core/lazy.hpp"
#include "verifier/int8_chunk_dot.hpp"
#include "verifier/parallel.hpp"
#include "verifier/public_mle.hpp"
#include "verifier/row_dots.hpp"

namespace nnproof {
namespace {

constexpr bool kLittleEndian = std::endian::native == std::endian::little;

// The elements [begin, end) of chunk c.
template <class Cfg>
std::pair<std::size_t, std::size_t> chunk_range(const Statement<Cfg>& st, InputEncoding encoding, std::size_t c) {
  const std::size_t per = encoding == InputEncoding::compact
                              ? compact_chunk_samples(st.model->in_dim()) * st.model->in_dim()
                              : kElementChunk;
  return {c * per, std::min(input_size(st), (c + 1) * per)};
}

// One chunk's values in its compact encoding: the width and where its bytes are.
struct CompactChunk {
  unsigned width;
  const unsigned char* values;
};

// SHA256(u64 count || u8 width || values), the compact chunk digest of docs/FORMAT.md.
Digest compact_digest(std::size_t count, const CompactChunk& chunk) {
  const auto w = static_cast<unsigned char>(chunk.width);
  Sha256 h;
  h.update_u64(count).update(&w, 1).update(chunk.values, count * chunk.width);
  return h.finish();
}

// Chunk c of an input held as small integers (Statement::small_input), read once: its encoding is
// mostly the statement's own bytes (1 to 4 a value), never a field element's 8 or 16. For the
// version 2 encoding its elements are made in a thread's buffer.
template <class Cfg>
Digest small_chunk_digest(const Statement<Cfg>& st, InputEncoding encoding, std::size_t c,
                          std::vector<unsigned char>& encoded, CompactChunk& chunk) {
  using F = typename Cfg::F;
  const auto [begin, end] = chunk_range(st, encoding, c);
  if (encoding == InputEncoding::field_elements) {
    thread_local std::vector<F> elements;
    elements.resize(end - begin);
    for (std::size_t i = begin; i < end; ++i) elements[i - begin] = F::from_int(st.small_input.at(i));
    Sha256 h;
    update_elements(h, std::span<const F>(elements));
    return h.finish();
  }
  chunk.width = small_chunk_width(st.small_input, begin, end);
  chunk.values = small_chunk_encoding(st.small_input, begin, end, chunk.width, encoded);
  return compact_digest(end - begin, chunk);
}

// Chunk c's digest; for the compact encoding `encoded` holds its bytes afterwards (from kCompactLead).
template <class Cfg>
Digest chunk_digest(const Statement<Cfg>& st, InputEncoding encoding, std::size_t c,
                    std::vector<unsigned char>& encoded) {
  using F = typename Cfg::F;
  if (!st.small_input.empty()) {
    CompactChunk chunk{};
    return small_chunk_digest(st, encoding, c, encoded, chunk);
  }
  const auto [begin, end] = chunk_range(st, encoding, c);
  const std::span<const F> v(st.input.data() + begin, end - begin);
  Sha256 h;
  if (encoding == InputEncoding::field_elements) {
    update_elements(h, v);
    return h.finish();
  }
  const std::size_t bytes = compact_encode_into(v, encoded);
  h.update_u64(v.size()).update(encoded.data() + kCompactLead, bytes);
  return h.finish();
}

// hi[j] = x[j] >> 8 and lo[j] = (x[j] & 255) - 128, both in [-128, 127] (RowDots::int16_dot);
// restrict pointers so that the loop vectorizes (the buffers are a thread's, never the input).
void split_int16(const std::int16_t* __restrict x, std::int8_t* __restrict hi, std::int8_t* __restrict lo,
                 std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    hi[j] = static_cast<std::int8_t>(x[j] >> 8);
    lo[j] = static_cast<std::int8_t>((x[j] & 255) - 128);
  }
}

// The tables X~(s, r) needs per route, built once per pass from eq(s, .): the int8 bytes
// (Int8ChunkDot), the pieces of exact integer sums, and the row-dot kernels' weights.
struct NoWeights {};
template <class K>
struct RowDots {
  using F = base_field_t<K>;
  using Weights = typename std::conditional_t<HasRowDot<K>, ColumnWeightsOf<K>, std::type_identity<NoWeights>>::type;
  std::size_t n;
  std::span<const K> eq_s;
  Int8ChunkDot<K> int8;
  std::vector<std::int64_t> pieces;
  std::optional<Weights> weights;  // only where HasRowDot<K>
  K eq_sum = K::zero();            // sum_j eq_s[j]: the offset of int16_dot's low bytes

  explicit RowDots(std::span<const K> eq) : n(eq.size()), eq_s(eq), int8(eq), pieces(exact_int_pieces<K>(eq)) {
    if constexpr (HasRowDot<K>) weights.emplace(eq);
    for (const K& e : eq) eq_sum += e;
  }

  // sum_j eq_s[j] x[j] for int16 x as two int8 dots on the byte route (VNNI where the CPU has it):
  // x = 256 hi + lo with hi = x >> 8 in [-128, 127] and lo = x & 255 = (lo - 128) + 128, so
  // sum eq x = 256 sum eq hi + sum eq (lo - 128) + 128 sum eq, exact for every int16. Two passes of
  // 16-byte-array dots cost less than the five 31-bit limb products per value of exact_int_dot.
  K int16_dot(const std::int16_t* x) const {
    thread_local std::vector<std::int8_t> halves;
    halves.resize(2 * n);
    split_int16(x, halves.data(), halves.data() + n, n);
    return int8.dot(halves.data(), n) * K::from_int(256) + int8.dot(halves.data() + n, n) + eq_sum * K::from_int(128);
  }

  // Whether dot() takes the compact bytes of width w alone (x unread, may be null).
  bool integer_route(unsigned w) const {
    if (w == 1) return true;
    if constexpr (kLittleEndian) return w == 2 || (w == 4 && ExactIntSums<K>::exact(w, n));
    return false;
  }

  // sum_j eq_s[j] x[j] for one sample: from its compact bytes (width w, at `bytes`) where an
  // exact integer route takes them, else from its field elements x.
  K dot(unsigned w, const unsigned char* bytes, const F* x) const {
    if (w == 1) return int8.dot(reinterpret_cast<const std::int8_t*>(bytes), n);
    if constexpr (kLittleEndian) {
      if (w == 2) return int16_dot(reinterpret_cast<const std::int16_t*>(bytes));
      if (w == 4 && ExactIntSums<K>::exact(4, n))
        return exact_int_dot<K>(reinterpret_cast<const std::int32_t*>(bytes), pieces.data(), n);
    }
    if constexpr (HasRowDot<K>) {
      return row_dot<K>(x, *weights);
    } else {
      LazyDot<K, F> row;
      for (std::size_t j = 0; j < n; ++j) row.add(eq_s[j], x[j]);
      return row.result();
    }
  }
};

// sum_{k in [first, last)} eq_r[k] sum_j eq_s[j] X[k][j] for a chunk of small integers: from its
// compact bytes, or (no exact integer route for its width) each sample's elements made in a buffer.
template <class Cfg>
typename Cfg::K small_chunk_mle(const Statement<Cfg>& st, const RowDots<typename Cfg::K>& dots,
                                const CompactChunk& chunk, std::size_t first, std::size_t last,
                                std::span<const typename Cfg::K> eq_r) {
  using K = typename Cfg::K;
  using F = typename Cfg::F;
  const std::size_t n = dots.n, w = chunk.width;
  const bool from_bytes = dots.integer_route(chunk.width);
  thread_local std::vector<F> x;
  if (!from_bytes) x.resize(n);
  K acc = K::zero();
  for (std::size_t k = first; k < last; ++k) {
    if (!from_bytes)
      for (std::size_t j = 0; j < n; ++j) x[j] = F::from_int(st.small_input.at(k * n + j));
    acc += eq_r[k] * dots.dot(chunk.width, chunk.values + (k - first) * n * w, from_bytes ? nullptr : x.data());
  }
  return acc;
}

}  // namespace

template <class Cfg>
std::size_t input_chunks(const Statement<Cfg>& st, InputEncoding encoding) {
  if (encoding == InputEncoding::field_elements) return element_chunks(input_size(st));
  const std::size_t per = compact_chunk_samples(st.model->in_dim());
  return (st.batch + per - 1) / per;
}

template <class Cfg>
Digest input_chunk_digest(const Statement<Cfg>& st, InputEncoding encoding, std::size_t chunk) {
  thread_local std::vector<unsigned char> encoded;  // one buffer a thread, not one a chunk
  return chunk_digest(st, encoding, chunk, encoded);
}

template <class Cfg>
Digest input_binding_of(const Statement<Cfg>& st, InputEncoding encoding, std::span<const Digest> chunk_digests) {
  Sha256 h;
  h.update_str(encoding == InputEncoding::compact ? "nnproof/input/v3" : "nnproof/input/v1");
  h.update_str(field_name(Cfg::kId)).update_u64(st.model->in_dim()).update_u64(st.batch);
  h.update_u64(input_size(st)).update_u64(chunk_digests.size());
  for (const Digest& d : chunk_digests) h.update(d);
  return h.finish();
}

template <class Cfg>
Digest input_binding(const Statement<Cfg>& st, InputEncoding encoding) {
  std::vector<Digest> digests(input_chunks(st, encoding));
  parallel_for_dynamic(digests.size(), [&](std::size_t c) { digests[c] = input_chunk_digest(st, encoding, c); });
  return input_binding_of(st, encoding, digests);
}

template <class Cfg>
InputPass<typename Cfg::K> input_pass(const Statement<Cfg>& st, InputEncoding encoding,
                                      std::span<const typename Cfg::K> eq_s, std::span<const typename Cfg::K> eq_r,
                                      bool hash_outputs) {
  using K = typename Cfg::K;
  const std::size_t n = st.model->in_dim();
  if (input_size(st) != st.batch * n || eq_s.size() < n || eq_r.size() < st.batch)
    throw std::invalid_argument("input_pass: the input, eq(s, .) or eq(r, .) is shorter than the statement's shape");
  InputPass<K> out;
  if (encoding == InputEncoding::field_elements) {  // version 2: chunks cut across samples
    const StatementBindings b = statement_bindings(st, encoding);
    out.binding = b.input;
    if (hash_outputs) out.outputs = b.outputs;
    std::vector<typename Cfg::F> storage;
    out.mle = sample_major_mle<K>(input_elements(st, storage), st.batch, n, eq_s, eq_r);
    return out;
  }
  const RowDots<K> dots(eq_s.first(n));
  const std::size_t chunks = input_chunks(st, encoding), per = compact_chunk_samples(n);
  std::vector<Digest> digests(chunks);
  std::vector<K> partial(chunks, K::zero());
  const std::size_t lead = hash_outputs ? 1 : 0;  // task 0 hashes the outputs when asked
  parallel_for_dynamic(chunks + lead, [&](std::size_t task) {
    if (task < lead) {  // the outputs' stream, longer than a chunk: first, beside the chunks
      out.outputs = output_binding(st);
      return;
    }
    const std::size_t c = task - lead, first = c * per, last = std::min(st.batch, first + per);
    thread_local std::vector<unsigned char> encoded;
    if (!st.small_input.empty()) {
      CompactChunk chunk{};
      digests[c] = small_chunk_digest(st, encoding, c, encoded, chunk);  // in cache for the sums below
      partial[c] = small_chunk_mle<Cfg>(st, dots, chunk, first, last, eq_r);
      return;
    }
    digests[c] = chunk_digest(st, encoding, c, encoded);  // the chunk is in cache for the sums below
    const unsigned w = encoded[kCompactLead];
    K acc = K::zero();
    for (std::size_t k = first; k < last; ++k)
      acc += eq_r[k] * dots.dot(w, encoded.data() + kCompactLead + 1 + (k - first) * n * w, st.input.data() + k * n);
    partial[c] = acc;
  });
  out.binding = input_binding_of(st, encoding, digests);
  out.mle = K::zero();
  for (const K& p : partial) out.mle += p;  // field addition: the same sum whatever the order
  return out;
}

#define NNP_INSTANTIATE(Cfg)                                                                           \
  template std::size_t input_chunks(const Statement<Cfg>&, InputEncoding);                             \
  template Digest input_chunk_digest(const Statement<Cfg>&, InputEncoding, std::size_t);               \
  template Digest input_binding_of(const Statement<Cfg>&, InputEncoding, std::span<const Digest>);     \
  template Digest input_binding(const Statement<Cfg>&, InputEncoding);                                 \
  template InputPass<Cfg::K> input_pass(const Statement<Cfg>&, InputEncoding, std::span<const Cfg::K>, \
                                        std::span<const Cfg::K>, bool);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE

}  // namespace nnproof
