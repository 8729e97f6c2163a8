// SPDX-License-Identifier: Apache-2.0
#include "host/service/job_queue.hpp"

namespace nnproof::service {

JobQueue::JobQueue(std::size_t workers, std::size_t capacity) : capacity_(capacity) {
  for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

JobQueue::~JobQueue() {
  close();
  for (std::thread& t : workers_) t.join();
}

bool JobQueue::try_submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (closed_ || jobs_.size() >= capacity_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void JobQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::size_t JobQueue::waiting() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

std::size_t JobQueue::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void JobQueue::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // closed and drained: every accepted job has run
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    job();  // jobs catch their own exceptions (they report to a waiting request)
    std::lock_guard lock(mu_);
    --running_;
  }
}

}  // namespace nnproof::service
