// SPDX-License-Identifier: Apache-2.0
// The API of docs/SERVICE.md. Every refusal is a JSON object {"error": "<one line>", "status": N}.
#include <fmt/core.h>
#include <httplib.h>
#include <openssl/crypto.h>

#include <future>
#include <nlohmann/json.hpp>

#include "host/service/connection.hpp"
#include "host/service/state.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/statement.hpp"

namespace nnproof::service {
namespace {

using json = nlohmann::json;

void refuse(httplib::Response& res, int status, const std::string& why) {
  res.status = status;
  if (status == 503) res.set_header("Retry-After", "1");
  res.set_content(json{{"error", why}, {"status", status}}.dump() + "\n", "application/json");
}

// Runs a handler; a RequestError becomes its status, anything else a 500 with its message.
template <class Fn>
void guarded(httplib::Response& res, Fn&& fn) {
  try {
    fn();
  } catch (const RequestError& e) {
    refuse(res, e.status, e.what());
  } catch (const std::exception& e) {
    refuse(res, 500, std::string("internal error: ") + e.what());
  }
}

std::span<const unsigned char> body_bytes(const httplib::Request& req) {
  return {reinterpret_cast<const unsigned char*>(req.body.data()), req.body.size()};
}

const ServedModel& requested_model(const ServiceState& s, const httplib::Request& req) {
  if (!req.has_param("model"))
    throw RequestError(400, "missing ?model=NAME or ?model=BINDING; GET /v1/models lists them");
  return s.models.find(req.get_param_value("model"));
}

json model_json(const ServedModel& m) {
  std::vector<std::size_t> shape = m.model.input_shape;
  if (shape.empty()) shape = {m.model.in_dim()};
  return json{{"name", m.name},       {"model_binding", m.binding},   {"field", field_name(m.field)},
              {"input_shape", shape}, {"outputs", m.model.out_dim()}, {"alpha", m.model.alpha},
              {"beta", m.model.beta}};
}

// Shared by prove and interactive: the model, the parsed input, and log headers.
ParsedInput parse_request(const ServiceState& s, const httplib::Request& req, httplib::Response& res,
                          const ServedModel& m) {
  res.set_header("X-Nnproof-Model", m.name);
  ParsedInput in = parse_input(m, body_bytes(req), s.opts.max_batch);
  res.set_header("X-Nnproof-Batch", std::to_string(in.batch));
  return in;
}

void prove(ServiceState& s, const httplib::Request& req, httplib::Response& res) {
  const ServedModel& m = requested_model(s, req);
  auto in = std::make_shared<ParsedInput>(parse_request(s, req, res, m));
  auto done = std::make_shared<std::promise<std::vector<unsigned char>>>();
  auto result = done->get_future();
  // --request-timeout counts from acceptance: a proof still waiting or running past it is abandoned
  // between layers (the check runs where the prover reports progress) and answered 504.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(s.opts.request_timeout_s);
  // A client that has gone away frees its place: its proof is dropped before it starts or between
  // layers (the connection stays open, so its socket stays this one, until this handler returns).
  const int fd = find_connection(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
  const ProveCheck check = [&s, deadline, fd] {
    if (s.opts.request_timeout_s > 0 && std::chrono::steady_clock::now() > deadline)
      throw RequestError(504, "the proof did not finish within " + std::to_string(s.opts.request_timeout_s) +
                                  " s (--request-timeout); send a smaller batch or retry later");
    if (connection_closed(fd)) {
      ++s.metrics.abandoned;
      throw RequestError(499, "the client closed the connection; its proof was dropped");
    }
  };
  const bool queued = s.queue.try_submit([&s, &m, in, done, check] {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      check();
      done->set_value(prove_request(m, *in, s.opts.engine, s.opts.threads, check, s.opts.max_memory));
      s.metrics.add_proof(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  if (!queued) {
    ++s.metrics.busy;
    throw RequestError(
        503, s.stopping ? "the server is stopping; retry on another" : "busy: the proving queue is full; retry later");
  }
  const std::vector<unsigned char> bytes = result.get();  // an accepted request is always answered
  res.set_content(std::string(bytes.begin(), bytes.end()), "application/octet-stream");
}

void start_session(ServiceState& s, const httplib::Request& req, httplib::Response& res) {
  const ServedModel& m = requested_model(s, req);
  ParsedInput in = parse_request(s, req, res, m);
  const std::size_t batch = in.batch;
  const std::string id = s.sessions.start(m, std::move(in));
  res.set_content(
      json{{"session", id},
           {"model_binding", m.binding},
           {"field", field_name(m.field)},
           {"batch", batch},
           {"soundness_bits", ProofShape{proof_dims(m.model, kProofVersion), batch}.soundness_bits(m.field)}}
              .dump() +
          "\n",
      "application/json");
}

void step_session(ServiceState& s, const httplib::Request& req, httplib::Response& res) {
  std::size_t want = 0;
  const std::string w = req.get_param_value("want");
  if (w.empty() || w.size() > 12 || w.find_first_not_of("0123456789") != std::string::npos)
    throw RequestError(400, "want must be a byte count (?want=N)");
  want = std::stoull(w);
  auto bytes = s.sessions.step(req.matches[1], body_bytes(req), want);
  res.set_content(std::string(bytes.begin(), bytes.end()), "application/octet-stream");
}

// POST /v1/train: multipart/form-data with files "model" (.onnx), "data" and "labels" (.npy), and
// query parameters epochs, batch, seed, lr, field (each optional, as `nnproof train` takes them).
void submit_training(ServiceState& s, const httplib::Request& req, httplib::Response& res) {
  for (const char* part : {"model", "data", "labels"})
    if (!req.has_file(part))
      throw RequestError(400, std::string("missing the multipart file '") + part +
                                  "' (model: .onnx, data and labels: .npy; see docs/SERVICE.md)");
  TrainParams p{req.get_param_value("epochs"), req.get_param_value("batch"), req.get_param_value("seed"),
                req.get_param_value("lr"), req.get_param_value("field")};
  const std::string id = s.training.submit(req.get_file_value("model").content, req.get_file_value("data").content,
                                           req.get_file_value("labels").content, p);
  res.status = 202;
  res.set_content(json{{"job", id}}.dump() + "\n", "application/json");
}

json metrics_json(ServiceState& s) {
  std::lock_guard lock(s.metrics.mu);
  return json{{"requests", s.metrics.requests.load()},
              {"failures", s.metrics.failures.load()},
              {"busy", s.metrics.busy.load()},
              {"abandoned", s.metrics.abandoned.load()},
              {"queue_length", s.queue.waiting()},
              {"running", s.queue.running()},
              {"sessions", s.sessions.count()},
              {"training_jobs", s.training.count()},
              {"proofs", s.metrics.proofs.load()},
              {"prove_seconds_total", s.metrics.prove_seconds_total},
              {"prove_seconds_last", s.metrics.prove_seconds_last},
              {"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count()},
              {"stopping", s.stopping.load()}};
}

// Before the body is read: the token (no work at all without it) and, while stopping, new work.
httplib::Server::HandlerResponse before_routing(ServiceState& s, const httplib::Request& req, httplib::Response& res) {
  if (req.path == "/v1/health") return httplib::Server::HandlerResponse::Unhandled;
  if (s.token) {
    const std::string got = req.get_header_value("Authorization");
    const std::string want = "Bearer " + *s.token;
    if (got.size() != want.size() || CRYPTO_memcmp(got.data(), want.data(), want.size()) != 0) {
      refuse(res, 401, "missing or wrong token: send 'Authorization: Bearer <token>'");
      res.set_header("WWW-Authenticate", "Bearer");
      // The body was not read: the connection cannot carry another request.
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
  }
  if (s.stopping && req.method == "POST") {
    refuse(res, 503, "the server is stopping; retry on another");
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

// Counted just before the response is written (cpp-httplib's post-routing hook runs for every
// response, error pages included), so a client that reads /v1/metrics after its previous reply
// sees that request counted; the logger runs only after the bytes have gone out.
void count_request(ServiceState& s, const httplib::Response& res) {
  ++s.metrics.requests;
  if (res.status >= 400) ++s.metrics.failures;
}

// One line per request: client, method, path, model, batch, status, seconds.
void log_line(const httplib::Request& req, const httplib::Response& res) {
  const std::string model = res.get_header_value("X-Nnproof-Model");
  const std::string batch = res.get_header_value("X-Nnproof-Batch");
  const std::string secs = res.get_header_value("X-Nnproof-Seconds");
  if (req.method.empty()) {  // bytes that are not an HTTP request (or a refused request's unread body)
    fmt::print(stderr, "nnproof serve: - (not an HTTP request) status={} seconds=0\n", res.status);
    return;
  }
  std::string path = req.path.substr(0, 96);
  for (char& c : path)  // a decoded %0A must not forge a log line
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  fmt::print(stderr, "nnproof serve: {}:{} {} {} model={} batch={} status={} seconds={}\n", req.remote_addr,
             req.remote_port, req.method, path, model.empty() ? "-" : model, batch.empty() ? "-" : batch, res.status,
             secs.empty() ? "0" : secs);
}

// Wraps a handler: guarded, and timed into X-Nnproof-Seconds for the log line.
template <class Fn>
httplib::Server::Handler handler(ServiceState& s, Fn fn) {
  return [&s, fn](const httplib::Request& req, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    guarded(res, [&] { fn(s, req, res); });
    res.set_header("X-Nnproof-Seconds",
                   fmt::format("{:.3f}", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  };
}

}  // namespace

void add_routes(httplib::Server& svr, ServiceState& s) {
  svr.set_pre_routing_handler([&s](const auto& req, auto& res) { return before_routing(s, req, res); });
  svr.set_post_routing_handler([&s](const auto&, auto& res) { count_request(s, res); });
  svr.set_logger([](const auto& req, const auto& res) { log_line(req, res); });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      const int status = res.status;
      refuse(res, status,
             status == 413   ? "request body too large (--max-request-bytes)"
             : status == 404 ? "no such endpoint; see docs/SERVICE.md"
                             : "bad request");
    }
  });
  svr.Get("/v1/health", handler(s, [](ServiceState& st, const auto&, auto& res) {
            res.set_content(json{{"status", st.stopping ? "stopping" : "ok"}}.dump() + "\n", "application/json");
          }));
  svr.Get("/v1/models", handler(s, [](ServiceState& st, const auto&, auto& res) {
            json list = json::array();
            for (const ServedModel& m : st.models.all()) list.push_back(model_json(m));
            res.set_content(json{{"models", list}}.dump() + "\n", "application/json");
          }));
  svr.Get("/v1/metrics", handler(s, [](ServiceState& st, const auto&, auto& res) {
            res.set_content(metrics_json(st).dump() + "\n", "application/json");
          }));
  svr.Post("/v1/prove", handler(s, prove));
  svr.Post("/v1/interactive", handler(s, start_session));
  svr.Post(R"(/v1/interactive/([0-9a-f]{32})/step)", handler(s, step_session));
  svr.Post("/v1/train", handler(s, submit_training));
  svr.Get(R"(/v1/train/([0-9a-f]{32}))", handler(s, [](ServiceState& st, const auto& req, auto& res) {
            res.set_content(st.training.status(req.matches[1]).dump() + "\n", "application/json");
          }));
  svr.Get(R"(/v1/train/([0-9a-f]{32})/(model|proof))", handler(s, [](ServiceState& st, const auto& req, auto& res) {
            res.set_content(st.training.file(req.matches[1], req.matches[2]), "application/octet-stream");
          }));
  svr.Delete(R"(/v1/train/([0-9a-f]{32}))", handler(s, [](ServiceState& st, const auto& req, auto& res) {
               st.training.remove(req.matches[1]);
               res.set_content("{\"deleted\": true}\n", "application/json");
             }));
  svr.Delete(R"(/v1/interactive/([0-9a-f]{32}))", handler(s, [](ServiceState& st, const auto& req, auto& res) {
               st.sessions.end(req.matches[1]);
               res.set_content("{\"ended\": true}\n", "application/json");
             }));
}

}  // namespace nnproof::service
