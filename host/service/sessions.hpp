// SPDX-License-Identifier: Apache-2.0
#pragma once
// Interactive proofs over HTTP (PROTOCOL.md section 6, docs/SERVICE.md "Interactive"). A session's
// prover runs as a job on the server's queue and talks through a pipe pair, exactly as the local
// `nnproof interactive` prover does; each step request carries the client's challenges (drawn by
// the client after the previous answer) and takes back the number of bytes the client's verifier
// needs next. The server never draws a challenge.
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "host/service/job_queue.hpp"
#include "host/service/models.hpp"

namespace nnproof::service {

struct Session;

class Sessions {
 public:
  Sessions(JobQueue& queue, std::string engine, int threads, std::chrono::seconds idle_timeout,
           std::size_t max_sessions);
  ~Sessions();
  // Queues the prover; the session's id. RequestError 503 when the queue or the session table is full.
  std::string start(const ServedModel& m, ParsedInput in);
  // Writes the challenges to the prover, then returns exactly `want` bytes of its messages.
  // RequestError 404 (no such session), 409 (a step already runs), 410 (the prover ended the
  // session), 413 (want too large), 504 (no answer within the idle timeout).
  std::vector<unsigned char> step(const std::string& id, std::span<const unsigned char> challenges, std::size_t want);
  void end(const std::string& id);
  // Ends every session (at shutdown: a prover waiting for a challenge would hold its worker forever).
  void end_all();
  // Ends the sessions no step has used for the idle timeout (their provers see the channel close).
  void expire_idle();
  std::size_t count() const;

  static constexpr std::size_t kMaxStepBytes = std::size_t{64} << 20;

 private:
  std::shared_ptr<Session> find(const std::string& id);

  JobQueue& queue_;
  std::string engine_;
  int threads_;
  std::chrono::seconds idle_timeout_;
  std::size_t max_sessions_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace nnproof::service
