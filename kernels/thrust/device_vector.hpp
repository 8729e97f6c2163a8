// SPDX-License-Identifier: Apache-2.0
#pragma once
// DeviceVector, the Thrust engine's tables (kernels/thrust/thrust_engine.inl), and their allocator.
//
// Include with NNP_THRUST_NS defined and, in that namespace, the backend's
//   void* device_allocate(std::size_t bytes);  void device_free(void* p) noexcept;
// declared: the cuda and thrust-omp builds link into one binary and each has its own copy.
#include <thrust/device_allocator.h>
#include <thrust/device_vector.h>

#include "core/hostdevice.hpp"
#include "kernels/thrust/host_syncs.hpp"

namespace nnproof::NNP_THRUST_NS {

// The allocator of every device table: the backend's device_allocate / device_free. A proof makes
// and drops dozens of tables (sum-check tables and their spares, the forward pass's limbs and
// products); with the cuda backend's caching allocator none of them pays a synchronizing cudaFree.
//
// It has no construct member: a table made with a size alone (DeviceVector<T>(n), resize) is left
// as allocated, with no pass over its memory at all (value_initialize_range below). Each such table
// is written in full by the pass that makes it; a fill would be one more pass (37 MB per TIMIT
// layer for the forward's int32 products at batch 512), and a construct member, even a no-op,
// makes Thrust launch a kernel per table under its synchronizing default policy, whose functor
// holds a host reference to the allocator (a device fault the moment the allocator gains state).
// Tables made with a value (DeviceVector<T>(n, x)) are still filled with it.
template <class T>
class CachedAllocator : public thrust::device_allocator<T> {
  using Base = thrust::device_allocator<T>;

 public:
  using pointer = typename Base::pointer;
  using size_type = typename Base::size_type;
  template <class U>
  struct rebind {
    using other = CachedAllocator<U>;
  };
  CachedAllocator() = default;
  template <class U>
  CachedAllocator(const CachedAllocator<U>& /*other*/) {}  // NOLINT: stateless, as Thrust's allocators

  pointer allocate(size_type n) {
    note_table_allocation();  // Engine::table_allocations
    return pointer(static_cast<T*>(device_allocate(n * sizeof(T))));
  }
  void deallocate(pointer p, size_type /*n*/) noexcept { device_free(thrust::raw_pointer_cast(p)); }
};

// Thrust's storage value-initializes the entries of a table made or grown with a size alone by an
// unqualified call value_initialize_range(allocator, first, n) (thrust/detail/contiguous_storage.inl):
// argument-dependent lookup finds this overload, more specialized than Thrust's own, which would
// fill with T() or launch a construct kernel. Tables of CachedAllocator are left as allocated: no
// launch, no wait (tests/kernels/test_device_vector.cpp checks both the bytes and the count).
template <class T, class Pointer, class Size>
NNP_HD void value_initialize_range(CachedAllocator<T>& /*allocator*/, Pointer /*first*/, Size /*n*/) {}

template <class T>
using DeviceVector = thrust::device_vector<T, CachedAllocator<T>>;

template <class T, class A>
T* raw(thrust::device_vector<T, A>& v) {
  return thrust::raw_pointer_cast(v.data());
}
template <class T, class A>
const T* raw(const thrust::device_vector<T, A>& v) {
  return thrust::raw_pointer_cast(v.data());
}

}  // namespace nnproof::NNP_THRUST_NS
