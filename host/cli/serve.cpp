// SPDX-License-Identifier: Apache-2.0
// `nnproof serve`: proving as a service (docs/SERVICE.md).
#include <memory>
#include <stdexcept>
#include <string>

#include "host/cli/commands.hpp"
#include "host/cli/common.hpp"
#include "host/memory.hpp"
#include "host/service/server.hpp"

namespace nnproof::cli {

void add_serve_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<service::ServerOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "serve proofs over HTTP(S): clients send inputs, get proof bundles back (docs/SERVICE.md)");
  cmd->add_option("--model", o->models, "ONNX model to serve (repeat for several; named by file stem)")->required();
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: a free port, printed at start)")
      ->capture_default_str();
  cmd->add_option("--field", o->field, "m61 or m127 for every model (default: each model's nnproof.field, else m61)");
  add_engine_options(*cmd, o->engine, o->threads);
  cmd->add_option("--workers", o->workers, "proofs at once on the cpu engine (default 1; cuda: 1 per device)");
  cmd->add_option("--queue", o->queue, "requests that may wait for a worker before the server answers busy (503)")
      ->capture_default_str();
  cmd->add_option("--token-file", o->token_file, "require 'Authorization: Bearer <token>', the file's first line");
  cmd->add_option("--tls-cert", o->tls_cert, "serve HTTPS with this certificate (PEM; with --tls-key)");
  cmd->add_option("--tls-key", o->tls_key, "the certificate's private key (PEM)");
  cmd->add_option("--max-request-bytes", o->max_request_bytes, "largest request body (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-batch", o->max_batch, "most samples per request (413 above)")->capture_default_str();
  cmd->add_option("--idle-timeout", o->idle_timeout_s,
                  "seconds a slow client or an idle interactive session may hold the server")
      ->capture_default_str();
  cmd->add_option("--request-timeout", o->request_timeout_s,
                  "seconds from acceptance after which a proof is abandoned and answered 504 (default 0: none)");
  auto max_memory = std::make_shared<std::string>();
  cmd->add_option("--max-memory", *max_memory,
                  "bound each proof's peak memory (bytes, or K/M/G/T); larger batches are proved in chunks, one "
                  "bundle (default: as nnproof prove's)");
  cmd->callback([o, max_memory, &exit_code] {
    if (!max_memory->empty()) {
      try {
        o->max_memory = parse_byte_size(*max_memory);
      } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--max-memory: ") + e.what());
      }
    }
    exit_code = service::run_server(*o);
  });
}

}  // namespace nnproof::cli
