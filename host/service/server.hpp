// SPDX-License-Identifier: Apache-2.0
#pragma once
// `nnproof serve`: the HTTP API of docs/SERVICE.md over cpp-httplib, with a bounded proving queue,
// token authentication, TLS, per-request limits, metrics, one log line per request and a graceful
// stop on SIGTERM or SIGINT.
#include <cstddef>
#include <string>
#include <vector>

namespace nnproof::service {

struct ServerOptions {
  std::vector<std::string> models;
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port (printed at start)
  std::string engine = "auto";
  std::string field;       // m61 or m127 for every model (default: each model's metadata, else m61)
  int threads = 0;         // per proof (0: all cores)
  int workers = 0;         // proofs at once (0: 1; cuda always 1, one engine per device)
  std::size_t queue = 16;  // requests waiting for a worker before "busy"
  std::string token_file, tls_cert, tls_key;
  std::size_t max_request_bytes = std::size_t{256} << 20;
  std::size_t max_batch = 4096;
  int idle_timeout_s = 60;     // interactive sessions and slow clients
  int request_timeout_s = 0;   // a proof not done this long after acceptance is abandoned (0: none)
  std::size_t max_memory = 0;  // bytes per proof; a larger batch is proved in chunks (0: prove's default)
};

// Loads the models, listens, serves until SIGTERM / SIGINT, then lets accepted requests finish.
// Throws cli::UsageError for bad options or files (before listening). Returns the exit code.
int run_server(const ServerOptions& o);

}  // namespace nnproof::service
