// SPDX-License-Identifier: Apache-2.0
// `nnproof query --train`: a training job on an nnproof server (docs/SERVICE.md "Training jobs").
// The client uploads its initial model, data and labels, follows the job, fetches the trained model
// and its training proof, and checks them with `nnproof verify-training` itself (run as a child of
// this binary: its checks, messages and exit codes); the model is written only when VERIFIED.
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "host/cli/query.hpp"
#include "host/cli/training_common.hpp"
#include "host/service/client.hpp"
#include "host/service/subprocess.hpp"

namespace nnproof::cli {
namespace {

constexpr int kExitNotConverged = 3;
namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read; check its path");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Hyperparameters as the job's query string, each one only when given.
std::string job_query(const QueryOptions& o) {
  std::string q;
  auto add = [&](const char* key, const std::string& v) {
    if (v.empty()) return;
    q.push_back(q.empty() ? '?' : '&');
    q.append(key).append("=").append(v);
  };
  add("epochs", o.epochs);
  add("batch", o.batch);
  add("seed", o.seed);
  add("lr", o.lr);
  add("field", o.field);
  return q;
}

// Polls the job until it is done; progress lines on stderr. ServerError when it failed.
void wait_for(service::ServiceClient& c, const std::string& id, const QueryOptions& o) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
  std::size_t shown = 0;
  std::string state;
  for (;;) {
    nlohmann::json s;
    try {
      s = nlohmann::json::parse(c.training_status(id));
      state = s.at("state").get<std::string>();
      const auto& epochs = s.at("epochs");
      for (; shown < epochs.size(); ++shown)
        if (!o.json)
          fmt::print(stderr, "server: epoch {}: loss {}, accuracy {}\n", epochs[shown].value("epoch", 0),
                     epochs[shown].value("loss_float", 0.0), epochs[shown].value("accuracy", 0.0));
    } catch (const nlohmann::json::exception& e) {
      throw service::ServerFault(std::string("the job's state is not the JSON of docs/SERVICE.md: ") + e.what());
    }
    if (state == "done") return;
    if (state == "failed")
      throw service::ServerError("server " + o.server + ": the training job failed: " + s.value("error", ""));
    if (std::chrono::steady_clock::now() > deadline)
      throw service::ServerFault("the training job was not done within " + std::to_string(o.timeout_s) +
                                 " s (--timeout), state " + state.substr(0, 20));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int run_query_train(const QueryOptions& o, service::ServiceClient& client) {
  // The client's own files and flags (exit 2) before anything is sent.
  if (o.data.empty() || o.labels.empty() || o.out.empty())
    throw UsageError("--train needs --data, --labels and --out (the trained model to write)");
  OutputFiles files({{o.out, "--out"}, {o.save_proof, "--save-proof"}});
  (void)load_training_problem(o.model, o.data, o.labels);
  const std::string model = slurp(o.model), data = slurp(o.data), labels = slurp(o.labels);
  std::string tmpl = (fs::temp_directory_path() / "nnproof-query-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw UsageError("cannot make a temporary folder in " + tmpl);
  struct Remove {
    std::string dir;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove{tmpl};
  const std::string got_model = tmpl + "/trained.onnx", got_proof = tmpl + "/proof.nnpt";
  try {
    const std::string id = client.submit_training(model, data, labels, job_query(o));
    if (!o.json) fmt::print(stderr, "training job {} queued on {}\n", id, o.server);
    wait_for(client, id, o);
    // Bounds from the client's own files: a trained model holds the initial one's weights as
    // float64 (at most twice its float32 bytes) plus metadata; a training proof is linear in them.
    const std::size_t model_cap = 4 * model.size() + (1u << 20);
    write_file(got_model, client.training_file(id, "model", model_cap));
    write_file(got_proof, client.training_file(id, "proof", 16 * model.size() + 8 * data.size() + (16u << 20)));
  } catch (const service::ServerError& e) {
    fmt::print(stderr, "nnproof: error: {}\n", e.what());
    return kExitServer;
  } catch (const service::ServerFault& e) {
    fmt::print("REJECTED: server: {}\n", e.what());
    return kExitRejected;
  }
  std::vector<std::string> args{"verify-training", "--model", got_model, "--data", o.data,
                                "--labels",        o.labels,  "--proof", got_proof};
  if (!o.lr.empty()) args.insert(args.end(), {"--lr", o.lr});
  if (!o.field.empty()) args.insert(args.end(), {"--field", o.field});
  if (o.json) args.push_back("--json");
  const int rc = service::run_self(args);
  if (rc == kExitOk || rc == kExitNotConverged) {  // verified (converged or not): the model is the client's
    const std::string trained = slurp(got_model);
    files.stage_bytes(o.out, std::vector<unsigned char>(trained.begin(), trained.end()));
    if (!o.save_proof.empty()) {
      const std::string proof = slurp(got_proof);
      files.stage_bytes(o.save_proof, std::vector<unsigned char>(proof.begin(), proof.end()));
    }
    files.commit();
    return rc;
  }
  if (rc == kExitBadInput)  // the client's files were checked above: what failed to load is the server's
    fmt::print("REJECTED: the returned model or proof cannot be read (see the error above)\n");
  return kExitRejected;
}

}  // namespace nnproof::cli
