// SPDX-License-Identifier: Apache-2.0
#pragma once
// How sums of a layer's integer weights times elements of K are computed exactly: one choice for
// the verifier's W~(q, s) (dots along each row, against eq(s, .)) and the prover's row_combine
// (sums down each column, against eq(q, .)). Every route is exact, so the two sides may take
// different ones (their term counts differ: columns for a row dot, rows for a column sum, and the
// prover's byte route needs an int8 kernel on its CPU) and still agree on every value.
//   int8_bytes:     int8 weights; each K element cut into bytes (ByteChunks), int8 x byte sums in
//                   int32 blocks, rebuilt by ByteChunks::combine. The fastest.
//   exact_ints:     wider weights whose sums stay exact in ExactIntSums<K> (core/lazy.hpp).
//   field_products: anything else, one field product per weight.
#include <cstddef>

#include "core/lazy.hpp"
#include "verifier/weight_matrix.hpp"

namespace nnproof {

enum class WeightRoute { int8_bytes, exact_ints, field_products };

// The route for sums of `terms` weights of w. An engine that cannot run the byte route here (no
// exact int8 kernel on this CPU, or too many terms for its int32 sums) passes int8_bytes = false.
template <class K>
WeightRoute weight_route(const WeightMatrix& w, std::size_t terms, bool int8_bytes = true) {
  if (int8_bytes && w.int8_data()) return WeightRoute::int8_bytes;
  if (ExactIntSums<K>::exact(w.width(), terms)) return WeightRoute::exact_ints;
  return WeightRoute::field_products;
}

}  // namespace nnproof
