// SPDX-License-Identifier: Apache-2.0
#pragma once
// How many times the host has waited for the device in this build of the Thrust engine
// (Engine::host_syncs): every Thrust algorithm launched with the synchronizing policy exec() (the
// cuda build's thrust::cuda::par synchronizes after each), every transfer to or from the host, and
// every read or write of one device entry (transfers.hpp). Making a table is not one: the
// allocator's tables are left unwritten and filled_table's fill is stream-ordered (device_vector.hpp,
// transfers.hpp). The OpenMP build counts the same points, so CI measures what the cuda engine
// would wait for.
//
// Include with NNP_THRUST_NS defined: each build has its own count, shared by all of that build's
// engines in the process (a proof's count is the difference across it, one engine at a time).
#include <atomic>
#include <cstddef>

namespace nnproof::NNP_THRUST_NS {

inline std::atomic<std::size_t>& host_sync_count() {
  static std::atomic<std::size_t> count{0};
  return count;
}
inline void note_host_sync() { host_sync_count().fetch_add(1, std::memory_order_relaxed); }

// How many device tables (DeviceVector memory, device_vector.hpp) this build has allocated
// (Engine::table_allocations). In the cuda build each is a call into CUB's caching allocator (a
// lock, a search of its free blocks, and an event recorded when the block is freed); the engine
// keeps its per-operation scratch tables across operations and proofs (engine.inl) and a sum-check
// its round buffers in one table (sumchecks.inl), so a warm engine's proof makes few.
inline std::atomic<std::size_t>& table_allocation_count() {
  static std::atomic<std::size_t> count{0};
  return count;
}
inline void note_table_allocation() { table_allocation_count().fetch_add(1, std::memory_order_relaxed); }

// The transfers between host and device this build has made (Engine::host_transfers): each upload
// and download of transfers.hpp, with its bytes. Each is also a host sync, counted by the caller.
struct TransferCounters {
  std::atomic<std::size_t> to_device{0}, to_device_bytes{0}, to_host{0}, to_host_bytes{0};
};
inline TransferCounters& transfer_counters() {
  static TransferCounters counters;
  return counters;
}
inline void note_upload(std::size_t bytes) {
  transfer_counters().to_device.fetch_add(1, std::memory_order_relaxed);
  transfer_counters().to_device_bytes.fetch_add(bytes, std::memory_order_relaxed);
}
inline void note_download(std::size_t bytes) {
  transfer_counters().to_host.fetch_add(1, std::memory_order_relaxed);
  transfer_counters().to_host_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace nnproof::NNP_THRUST_NS
