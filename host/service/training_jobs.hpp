// SPDX-License-Identifier: Apache-2.0
#pragma once
// Training jobs (issue 20, item 3; docs/SERVICE.md "Training jobs"): the client uploads an initial
// model, its data and labels with the hyperparameters; a job on the server's queue runs `nnproof
// train`, then `nnproof prove-training` on the trained model, as child processes of this binary
// (the commands' own code, a crash or an out-of-memory kill ends one job, not the server); the
// client polls, fetches the trained model and its training proof, and checks them itself.
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/service/job_queue.hpp"

namespace nnproof::service {

// Hyperparameters as the train command's flags take them (checked here: digits, a decimal, a field
// name), empty when not given.
struct TrainParams {
  std::string epochs, batch, seed, lr, field;
};

struct TrainingJob;

class TrainingJobs {
 public:
  TrainingJobs(JobQueue& queue, std::string engine, int threads, std::size_t max_jobs);
  ~TrainingJobs();  // removes the jobs' folders
  // Writes the files into a fresh folder and queues the job; its id. RequestError 400 (a bad
  // parameter), 503 (queue or job table full).
  std::string submit(const std::string& model, const std::string& data, const std::string& labels,
                     const TrainParams& p);
  // {"state": "queued" | "training" | "proving" | "done" | "failed", "epochs": [per-epoch JSON of
  // train --json], "error": one line when failed}
  nlohmann::json status(const std::string& id);
  // "model" (the trained .onnx) or "proof" (.nnpt) of a done job; RequestError 404 / 409.
  std::string file(const std::string& id, const std::string& which);
  void remove(const std::string& id);
  std::size_t count() const;

 private:
  std::shared_ptr<TrainingJob> find(const std::string& id);
  JobQueue& queue_;
  std::string engine_;
  int threads_;
  std::size_t max_jobs_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<TrainingJob>> jobs_;
};

}  // namespace nnproof::service
