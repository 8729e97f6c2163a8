// SPDX-License-Identifier: Apache-2.0
#pragma once
// Every way the Thrust engine moves data between host and device or makes a table, each a point
// where the host waits for the device and counted as one (host_syncs.hpp). Uploads come from
// pageable host memory, which CUDA copies synchronously.
//
// Include with NNP_THRUST_NS defined, as thrust_engine.inl.
#include <thrust/copy.h>

#include <cstddef>

#include "kernels/thrust/device_vector.hpp"
#include "kernels/thrust/host_syncs.hpp"
#include "kernels/thrust/thrust_errors.hpp"

namespace nnproof::NNP_THRUST_NS {

// A table holding [first, last) of host memory.
template <class T, class It>
DeviceVector<T> upload(It first, It last) {
  note_host_sync();
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
  NNP_THRUST(thrust::copy(v.begin(), v.end(), out));
}

// One entry of a device table.
template <class T>
T read_entry(const DeviceVector<T>& v, std::size_t i) {
  note_host_sync();
  return NNP_THRUST(T(v[i]));
}

// A table of n entries, unwritten (each is written in full by the pass that makes it) or filled
// with x. Thrust constructs or fills the entries with a kernel under its synchronizing default
// policy, even with the allocator's no-op construct (device_vector.hpp): a wait, counted.
template <class T>
DeviceVector<T> sized_table(std::size_t n) {
  note_host_sync();
  return NNP_THRUST(DeviceVector<T>(n));
}
template <class T>
DeviceVector<T> filled_table(std::size_t n, const T& x) {
  note_host_sync();
  return NNP_THRUST(DeviceVector<T>(n, x));
}

// Resizes t to n entries; growing constructs the new ones as above (a wait, counted), shrinking
// does not touch the device.
template <class T>
void resize_table(DeviceVector<T>& t, std::size_t n) {
  if (n > t.size()) note_host_sync();
  NNP_THRUST(t.resize(n));
}

// One host value into entry i of a device table.
template <class T>
void write_entry(DeviceVector<T>& v, std::size_t i, const T& x) {
  note_host_sync();
  NNP_THRUST(v[i] = x);
}

}  // namespace nnproof::NNP_THRUST_NS
