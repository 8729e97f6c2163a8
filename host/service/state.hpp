// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the server's request handlers share: the models, the proving queue, the interactive
// sessions, the counters /v1/metrics reports, and whether the server is stopping.
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "host/service/job_queue.hpp"
#include "host/service/models.hpp"
#include "host/service/server.hpp"
#include "host/service/sessions.hpp"
#include "host/service/training_jobs.hpp"

namespace httplib {
class Server;
}

namespace nnproof::service {

struct Metrics {
  std::atomic<std::uint64_t> requests{0}, failures{0}, busy{0}, proofs{0}, abandoned{0};
  std::mutex mu;
  double prove_seconds_total = 0, prove_seconds_last = 0;
  void add_proof(double seconds) {
    std::lock_guard lock(mu);
    prove_seconds_total += seconds;
    prove_seconds_last = seconds;
    ++proofs;
  }
};

struct ServiceState {
  ServiceState(const ServerOptions& o, ModelSet m, std::optional<std::string> t, std::size_t workers)
      : opts(o),
        models(std::move(m)),
        token(std::move(t)),
        queue(workers, o.queue),
        sessions(queue, o.engine, o.threads, std::chrono::seconds(o.idle_timeout_s), 4 * (workers + o.queue)),
        training(queue, o.engine, o.threads, 4 * (workers + o.queue)) {}
  const ServerOptions& opts;
  ModelSet models;
  std::optional<std::string> token;  // the bearer token every request but /v1/health must carry
  JobQueue queue;
  Sessions sessions;
  TrainingJobs training;
  Metrics metrics;
  std::atomic<bool> stopping{false};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Registers the API's routes, the token check, the log line and the counters on `svr`.
void add_routes(httplib::Server& svr, ServiceState& s);

}  // namespace nnproof::service
