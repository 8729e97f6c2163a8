// SPDX-License-Identifier: Apache-2.0
#include "host/service/server.hpp"

#include <fmt/core.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "host/cli/common.hpp"
#include "host/service/state.hpp"

namespace nnproof::service {
namespace {

using cli::UsageError;

std::optional<std::string> read_token(const std::string& path) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot read the token file (--token-file); check its path");
  std::string token;
  std::getline(in, token);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw UsageError(path + ": the token file is empty; put the token on its first line");
  return token;
}

std::pair<std::string, int> parse_listen(const std::string& s) {
  const auto colon = s.rfind(':');
  const std::string port = colon == std::string::npos ? "" : s.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535)
    throw UsageError("--listen " + s + ": expected HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free one)");
  return {s.substr(0, colon), std::stoi(port)};
}

std::unique_ptr<httplib::Server> make_server(const ServerOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty()) throw UsageError("--tls-cert and --tls-key go together; give both");
  if (o.tls_cert.empty()) return std::make_unique<httplib::Server>();
  auto svr = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
  if (!svr->is_valid())
    throw UsageError(o.tls_cert + ", " + o.tls_key + ": cannot load the TLS certificate and key (PEM files)");
  return svr;
}

// Debian's cpp-httplib is a shared library built with a listen backlog of 5: a burst of clients
// larger than that (twelve proofs posted at once, on a busy machine) overflows the kernel's accept
// queue, and connections whose handshake the kernel then drops can fail after the client's retries
// (CI saw one of twelve requests never arrive). The socket-options hook sees the listening socket
// before httplib binds it; once bound, listen() again raises its backlog (Linux and the BSDs accept
// that on a listening socket). The kernel caps it at net.core.somaxconn.
class ListenBacklog {
 public:
  void attach(httplib::Server& svr) {
    svr.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      sock_ = sock;  // the last socket tried is the one that bound
    });
  }
  // After binding: the backlog raised, and httplib's own hook back (the one above holds `this`).
  void raise(httplib::Server& svr) const {
    svr.set_socket_options(httplib::default_socket_options);
    if (sock_ != INVALID_SOCKET && ::listen(sock_, SOMAXCONN) != 0)
      fmt::print(stderr, "nnproof serve: warning: listen backlog stays at 5 ({})\n", std::strerror(errno));
  }

 private:
  socket_t sock_ = INVALID_SOCKET;
};

ModelSet load_models(const ServerOptions& o) {
  if (o.models.empty()) throw UsageError("give at least one --model");
  ModelSet set;
  (void)cli::parse_field_flag(o.field);  // m61-interactive is refused: bundles need >= 100 bits
  for (const std::string& path : o.models) set.add(load_served_model(path, o.field));
  return set;
}

// NNPROOF_TEST_DRAIN_HOLD_MS (tests only, at most 10 s): how long the listener stays open after
// `stopping` is set, so that a test can reach the 503 a request gets in that window (without it the
// window is a race: tests/service/test_service_ops.py, case drain). Unset in production: no wait.
void hold_listener_for_tests() {
  const char* ms = std::getenv("NNPROOF_TEST_DRAIN_HOLD_MS");
  if (!ms) return;
  const long hold = std::strtol(ms, nullptr, 10);
  if (hold > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(hold, 10000L)));
}

// Waits for SIGTERM or SIGINT (blocked in every thread, so only this one sees them), expiring idle
// interactive sessions meanwhile; then refuses new work and stops the listener. The server's
// threads finish the requests they hold, and those wait for their accepted proofs.
void watch_signals(ServiceState& s, httplib::Server& svr, const sigset_t& set, const std::atomic<bool>& done) {
  const timespec second{1, 0};
  while (!done) {
    const int sig = ::sigtimedwait(&set, nullptr, &second);
    if (sig == SIGTERM || sig == SIGINT) {
      s.stopping = true;  // before the line, which clients (and the tests) take as the signal seen
      fmt::print(stderr, "nnproof serve: {}: refusing new requests, finishing {} accepted\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", s.queue.waiting() + s.queue.running());
      hold_listener_for_tests();
      svr.stop();
      return;
    }
    s.sessions.expire_idle();
  }
}

}  // namespace

int run_server(const ServerOptions& o) {
  // Before any thread starts (OpenMP's too, which loading a model may start): threads inherit the
  // mask, so only the watcher sees SIGTERM. A closed client socket is an error return, not SIGPIPE.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  parse_engine_name(o.engine);  // a bad name is refused before listening
  if (o.workers < 0 || o.queue == 0 || o.max_batch == 0 || o.max_request_bytes == 0 || o.idle_timeout_s <= 0 ||
      o.request_timeout_s < 0)
    throw UsageError(
        "--workers, --queue, --max-batch, --max-request-bytes, --idle-timeout and --request-timeout must be positive");
  // One engine per device: requests for the GPU queue in order; cpu workers prove in parallel.
  const std::size_t workers = o.engine == "cuda" ? 1 : static_cast<std::size_t>(std::max(o.workers, 1));
  auto [host, port] = parse_listen(o.listen);
  std::optional<std::string> token = read_token(o.token_file);
  auto svr = make_server(o);
  ModelSet models = load_models(o);
  // An engine this machine cannot run (cuda without a device, say) is refused now, not per request.
  (void)make_engine<M61>(o.engine, o.threads, 0);

  ServiceState s(o, std::move(models), std::move(token), workers);
  add_routes(*svr, s);
  const std::size_t http_threads = workers + o.queue + 8;  // a full queue still gets its "busy" answers
  svr->new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  svr->set_payload_max_length(o.max_request_bytes);
  svr->set_read_timeout(o.idle_timeout_s, 0);
  svr->set_write_timeout(o.idle_timeout_s, 0);
  ListenBacklog backlog;
  backlog.attach(*svr);
  const int bound = port == 0 ? svr->bind_to_any_port(host) : (svr->bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw UsageError("--listen " + o.listen + ": cannot bind (in use, or not an address of this host)");
  backlog.raise(*svr);

  std::string names;
  for (const ServedModel& m : s.models.all()) names += (names.empty() ? "" : ", ") + m.name;
  fmt::print(stderr, "nnproof serve: listening on {}://{}:{} (models: {}; engine {}, {} worker(s), queue {})\n",
             o.tls_cert.empty() ? "http" : "https", host, bound, names, o.engine, workers, o.queue);
  std::fflush(stderr);
  std::atomic<bool> done{false};
  std::thread watcher([&] { watch_signals(s, *svr, set, done); });
  svr->listen_after_bind();  // returns once stopped, after its threads finished their requests
  done = true;
  watcher.join();
  s.sessions.end_all();
  s.queue.close();
  fmt::print(stderr, "nnproof serve: stopped after {} requests ({} failed), {} proofs\n", s.metrics.requests.load(),
             s.metrics.failures.load(), s.metrics.proofs.load());
  return 0;
}

}  // namespace nnproof::service
