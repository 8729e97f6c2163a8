// SPDX-License-Identifier: Apache-2.0
#pragma once
// The client side of docs/SERVICE.md's API, for `nnproof query`. Two kinds of failure: the server
// could not be reached or answered an error status (ServerError: exit 4), or what it sent after
// accepting the request is wrong, incomplete or late (ServerFault: a rejection, exit 1).
#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "verifier/channel.hpp"

namespace httplib {
class Client;
struct Request;
}  // namespace httplib

namespace nnproof::service {

struct ServerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ServerFault : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ClientOptions {
  std::string server;   // http://HOST:PORT or https://HOST:PORT
  std::string token;    // empty: no Authorization header
  std::string tls_ca;   // PEM file of the CA that signed the server's certificate (https)
  int timeout_s = 300;  // for each read: connecting, and waiting for a proof
};

struct SessionInfo {
  std::string id, field;
};

class ServiceClient {
 public:
  explicit ServiceClient(const ClientOptions& o);
  ~ServiceClient();
  // POST /v1/prove: the bundle's bytes; ServerFault when the answer exceeds max_bytes.
  std::vector<unsigned char> prove(const std::string& model, std::span<const unsigned char> npy, std::size_t max_bytes);
  // POST /v1/interactive, then steps, then DELETE.
  SessionInfo start_session(const std::string& model, std::span<const unsigned char> npy);
  std::vector<unsigned char> step(const std::string& id, std::span<const unsigned char> challenges, std::size_t want);
  void end_session(const std::string& id) noexcept;
  // Training jobs: POST /v1/train (multipart), GET its state, GET a done job's model or proof.
  std::string submit_training(const std::string& model, const std::string& data, const std::string& labels,
                              const std::string& query);
  std::string training_status(const std::string& id);  // the JSON text
  std::vector<unsigned char> training_file(const std::string& id, const std::string& which, std::size_t max_bytes);

 private:
  std::vector<unsigned char> post(const std::string& path, std::span<const unsigned char> body, std::size_t max_bytes);
  // One request; its answer's body (at most max_bytes: more is a ServerFault) when the status is `ok`.
  std::vector<unsigned char> send(httplib::Request& req, std::size_t max_bytes, int ok = 200);
  ClientOptions o_;
  std::unique_ptr<httplib::Client> http_;
};

// The verifier's channel over a session: each challenge comes from this process's CSPRNG
// (csprng_challenge, as local interactive mode draws them) after the message before it arrived,
// and travels with the request for the next message.
template <class K>
class HttpVerifierChannel final : public VerifierChannel<K> {
 public:
  HttpVerifierChannel(ServiceClient& c, std::string id) : c_(c), id_(std::move(id)) {}
  void receive(std::span<K> out) override { receive_elements(out); }
  K challenge() override;
  // The prover's next out.size() elements of T (the outputs, in F, before the protocol starts).
  template <class T>
  void receive_elements(std::span<T> out);

 private:
  ServiceClient& c_;
  std::string id_;
  std::vector<unsigned char> pending_;  // challenges not yet sent
};

}  // namespace nnproof::service
