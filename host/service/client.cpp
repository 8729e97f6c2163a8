// SPDX-License-Identifier: Apache-2.0
#include "host/service/client.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <random>

#include "core/fields.hpp"
#include "host/interactive.hpp"

namespace nnproof::service {
namespace {

// The one-line reason of an error answer: its JSON "error", else the start of its body.
std::string error_reason(int status, const std::string& body) {
  std::string why;
  try {
    why = nlohmann::json::parse(body).at("error").get<std::string>();
  } catch (const std::exception&) {
    why = body.substr(0, 200);
  }
  for (char& c : why)
    if (c == '\n' || c == '\r') c = ' ';
  return "answered HTTP " + std::to_string(status) + (why.empty() ? "" : ": " + why);
}

}  // namespace

ServiceClient::ServiceClient(const ClientOptions& o) : o_(o) {
  const bool https = o.server.rfind("https://", 0) == 0;
  if (!https && o.server.rfind("http://", 0) != 0)
    throw std::invalid_argument("--server " + o.server + ": expected http://HOST:PORT or https://HOST:PORT");
  http_ = std::make_unique<httplib::Client>(o.server);
  if (!http_->is_valid()) throw std::invalid_argument("--server " + o.server + ": not a server address");
  http_->set_connection_timeout(std::min(o.timeout_s, 30), 0);
  http_->set_read_timeout(o.timeout_s, 0);
  http_->set_write_timeout(o.timeout_s, 0);
  http_->set_keep_alive(true);
  if (!o.token.empty()) http_->set_bearer_token_auth(o.token);
  if (https) {
    http_->enable_server_certificate_verification(true);
    if (!o.tls_ca.empty()) http_->set_ca_cert_path(o.tls_ca);
  }
}

ServiceClient::~ServiceClient() = default;

std::vector<unsigned char> ServiceClient::post(const std::string& path, std::span<const unsigned char> body,
                                               std::size_t max_bytes) {
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body.assign(reinterpret_cast<const char*>(body.data()), body.size());
  req.set_header("Content-Type", "application/octet-stream");
  return send(req, max_bytes);
}

std::vector<unsigned char> ServiceClient::send(httplib::Request& req, std::size_t max_bytes, int ok) {
  int status = 0;
  bool too_long = false;
  std::string got;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  // Never more than the caller's bound (derived from the client's own model), whatever the
  // server's Content-Length says.
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    const std::size_t cap = status == ok ? max_bytes : 4096;
    if (got.size() + n > cap) {
      if (status == ok) too_long = true;
      got.append(data, std::min(n, cap - got.size()));
      return status != ok;
    }
    got.append(data, n);
    return true;
  };
  httplib::Result r = http_->send(req);
  if (too_long)
    throw ServerFault("the server sent more than " + std::to_string(max_bytes) + " bytes, more than the answer can be");
  if (!r) {
    const httplib::Error e = r.error();
    if (status == 0 && e != httplib::Error::Read)
      throw ServerError("server " + o_.server + " could not be reached: " + httplib::to_string(e));
    if (status == 0)
      throw ServerFault("the server sent no answer within " + std::to_string(o_.timeout_s) +
                        " s or closed the connection (" + httplib::to_string(e) + ")");
    throw ServerFault("the server's answer broke off (HTTP " + std::to_string(status) + ", " + httplib::to_string(e) +
                      ")");
  }
  if (status != ok) throw ServerError("server " + o_.server + " " + error_reason(status, got));
  return std::vector<unsigned char>(got.begin(), got.end());
}

std::vector<unsigned char> ServiceClient::prove(const std::string& model, std::span<const unsigned char> npy,
                                                std::size_t max_bytes) {
  return post("/v1/prove?model=" + model, npy, max_bytes);
}

SessionInfo ServiceClient::start_session(const std::string& model, std::span<const unsigned char> npy) {
  auto bytes = post("/v1/interactive?model=" + model, npy, 4096);
  try {
    auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
    SessionInfo s{j.at("session").get<std::string>(), j.at("field").get<std::string>()};
    if (s.id.size() != 32 || s.id.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw ServerFault("the session id is not 32 hex digits");
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw ServerFault(std::string("the session answer is not the JSON of docs/SERVICE.md: ") + e.what());
  }
}

std::vector<unsigned char> ServiceClient::step(const std::string& id, std::span<const unsigned char> challenges,
                                               std::size_t want) {
  auto bytes = post("/v1/interactive/" + id + "/step?want=" + std::to_string(want), challenges, want);
  if (bytes.size() != want)
    throw ServerFault("the prover sent " + std::to_string(bytes.size()) + " bytes where the protocol needs " +
                      std::to_string(want));
  return bytes;
}

void ServiceClient::end_session(const std::string& id) noexcept {
  try {
    (void)http_->Delete("/v1/interactive/" + id);
  } catch (...) {
  }
}

std::string ServiceClient::submit_training(const std::string& model, const std::string& data, const std::string& labels,
                                           const std::string& query) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/train" + query;
  std::random_device rd;  // a boundary no upload contains, with overwhelming probability
  std::string boundary = "nnproof-boundary-";
  for (int i = 0; i < 4; ++i) boundary += std::to_string(rd());
  for (const auto& [name, bytes] : {std::pair{"model", &model}, {"data", &data}, {"labels", &labels}}) {
    req.body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + name +
                "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    req.body += *bytes;
    req.body += "\r\n";
  }
  req.body += "--" + boundary + "--\r\n";
  req.set_header("Content-Type", "multipart/form-data; boundary=" + boundary);
  auto bytes = send(req, 4096, 202);
  try {
    const std::string id = nlohmann::json::parse(bytes.begin(), bytes.end()).at("job").get<std::string>();
    if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw ServerFault("the job id is not 32 hex digits");
    return id;
  } catch (const nlohmann::json::exception& e) {
    throw ServerFault(std::string("the job answer is not the JSON of docs/SERVICE.md: ") + e.what());
  }
}

std::string ServiceClient::training_status(const std::string& id) {
  httplib::Request req;
  req.method = "GET";
  req.path = "/v1/train/" + id;
  auto bytes = send(req, std::size_t{1} << 20);
  return {bytes.begin(), bytes.end()};
}

std::vector<unsigned char> ServiceClient::training_file(const std::string& id, const std::string& which,
                                                        std::size_t max_bytes) {
  httplib::Request req;
  req.method = "GET";
  req.path = "/v1/train/" + id + "/" + which;
  return send(req, max_bytes);
}

template <class K>
K HttpVerifierChannel<K>::challenge() {
  K k = csprng_challenge<K>();
  const std::size_t at = pending_.size();
  pending_.resize(at + K::kBytes);
  k.to_bytes(pending_.data() + at);
  return k;
}

template <class K>
template <class T>
void HttpVerifierChannel<K>::receive_elements(std::span<T> out) {
  // The byte count comes from the protocol and the client's own model, never from the server.
  auto bytes = c_.step(id_, pending_, out.size() * T::kBytes);
  pending_.clear();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!T::from_bytes(bytes.data() + i * T::kBytes, out[i]))
      throw ServerFault("the prover sent a non-canonical field element");
}

template class HttpVerifierChannel<Fp61x2>;
template class HttpVerifierChannel<Fp127>;
template void HttpVerifierChannel<Fp61x2>::receive_elements(std::span<Fp61>);
template void HttpVerifierChannel<Fp127>::receive_elements(std::span<Fp127>);

}  // namespace nnproof::service
