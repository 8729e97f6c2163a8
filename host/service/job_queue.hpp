// SPDX-License-Identifier: Apache-2.0
#pragma once
// A fixed set of worker threads taking jobs from a bounded queue: a request that finds the queue
// full is refused at once ("busy, retry"), so memory stays bounded by workers + queue requests.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nnproof::service {

class JobQueue {
 public:
  JobQueue(std::size_t workers, std::size_t capacity);
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;
  ~JobQueue();  // runs every job already accepted, then joins the workers

  // Queues the job; false when `capacity` jobs are already waiting or the queue is closed.
  bool try_submit(std::function<void()> job);
  // No new jobs; those accepted still run.
  void close();
  std::size_t waiting() const;
  std::size_t running() const;

 private:
  void work();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::size_t capacity_, running_ = 0;
  bool closed_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace nnproof::service
