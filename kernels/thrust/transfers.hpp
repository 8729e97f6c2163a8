// SPDX-License-Identifier: Apache-2.0
#pragma once
// Every way the Thrust engine moves data between host and device or makes a table. Each transfer is
// a point where the host waits for the device, counted as one (host_syncs.hpp): uploads come from
// pageable host memory, which CUDA copies synchronously. Each is also counted with its bytes
// (note_upload, note_download: Engine::host_transfers). Making a table is not (sized_table).
//
// Include with NNP_THRUST_NS and exec_nosync() defined, as thrust_engine.inl.
#include <thrust/copy.h>
#include <thrust/fill.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/host_syncs.hpp"
#include "kernels/thrust/thrust_errors.hpp"

namespace nnproof::NNP_THRUST_NS {

// A table holding [first, last) of host memory.
template <class T, class It>
DeviceVector<T> upload(It first, It last) {
  note_host_sync();
  note_upload(static_cast<std::size_t>(last - first) * sizeof(T));
  return NNP_THRUST(DeviceVector<T>(first, last));
}
template <class T, class Range>
DeviceVector<T> upload(const Range& host) {
  return upload<T>(host.begin(), host.end());
}

// The device table's entries into host memory from `out` on.
template <class T, class Out>
void download(const DeviceVector<T>& v, Out out) {
  note_host_sync();
  note_download(v.size() * sizeof(T));
  NNP_THRUST(thrust::copy(v.begin(), v.end(), out));
}

// One entry of a device table.
template <class T>
T read_entry(const DeviceVector<T>& v, std::size_t i) {
  note_host_sync();
  note_download(sizeof(T));
  return NNP_THRUST(T(v[i]));
}

// A table of n entries, unwritten (each is written in full by the pass that makes it): memory from
// the allocator and nothing else (device_vector.hpp), no launch and no wait. In the cuda build a
// request the caching allocator cannot serve from its free blocks calls cudaMalloc, which may
// synchronize: the first proof of a process, not the later ones (not counted).
template <class T>
DeviceVector<T> sized_table(std::size_t n) {
  return NNP_THRUST(DeviceVector<T>(n));
}
// A table of n entries filled with x: a stream-ordered fill, no wait. (DeviceVector<T>(n, x) would
// fill under Thrust's synchronizing default policy.)
template <class T>
DeviceVector<T> filled_table(std::size_t n, const T& x) {
  auto t = sized_table<T>(n);
  NNP_THRUST(thrust::fill(exec_nosync(), t.begin(), t.end(), x));
  return t;
}

// Resizes t to n entries for a pass to overwrite: afterwards its entries are unspecified (a spare
// table, sumchecks.inl). Within its capacity nothing touches the device; past it, new memory of
// exactly n entries replaces the old without copying it (Thrust's resize would copy the old
// entries under its synchronizing default policy: a wait for entries nobody reads).
template <class T>
void resize_unwritten(DeviceVector<T>& t, std::size_t n) {
  if (n > t.capacity())
    t = sized_table<T>(n);
  else
    NNP_THRUST(t.resize(n));
}

// [first, last) of host memory into t, a scratch table kept across calls: sized as resize_unwritten
// does (no allocation within its capacity), then one transfer. The copy is stream-ordered after the
// device's earlier work on t (CUDA orders a pageable upload after the stream's queued kernels).
template <class T, class It>
void upload_into(DeviceVector<T>& t, It first, It last) {
  resize_unwritten(t, static_cast<std::size_t>(last - first));
  note_host_sync();
  note_upload(static_cast<std::size_t>(last - first) * sizeof(T));
  NNP_THRUST(thrust::copy(first, last, t.begin()));
}

// Two host ranges as two tables from one transfer (one wait instead of two): the host joins them,
// the device copies the second out, stream-ordered, and the first table keeps the joined memory,
// shrunk (which touches nothing).
template <class T, class RangeA, class RangeB>
std::pair<DeviceVector<T>, DeviceVector<T>> upload_two(const RangeA& a, const RangeB& b) {
  std::vector<T> joined(a.begin(), a.end());
  joined.insert(joined.end(), b.begin(), b.end());
  auto first = upload<T>(joined);
  auto second = sized_table<T>(joined.size() - a.size());
  NNP_THRUST(
      thrust::copy(exec_nosync(), first.begin() + static_cast<std::ptrdiff_t>(a.size()), first.end(), second.begin()));
  NNP_THRUST(first.resize(a.size()));
  return {std::move(first), std::move(second)};
}

// One host value into entry i of a device table.
template <class T>
void write_entry(DeviceVector<T>& v, std::size_t i, const T& x) {
  note_host_sync();
  note_upload(sizeof(T));
  NNP_THRUST(v[i] = x);
}

}  // namespace nnproof::NNP_THRUST_NS
