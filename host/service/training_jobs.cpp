// SPDX-License-Identifier: Apache-2.0
#include "host/service/training_jobs.hpp"

#include <openssl/rand.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "host/service/models.hpp"
#include "host/service/subprocess.hpp"
#include "verifier/sha256.hpp"

namespace nnproof::service {

namespace fs = std::filesystem;

struct TrainingJob {
  std::string dir;
  std::vector<std::string> train_args, prove_args;
  std::mutex mu;
  std::string state = "queued", error;
  nlohmann::json epochs = nlohmann::json::array();
  void set(const std::string& s) {
    std::lock_guard lock(mu);
    state = s;
  }
  ~TrainingJob() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

namespace {

bool digits(const std::string& s) {
  return !s.empty() && s.size() <= 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

void check_params(const TrainParams& p) {
  for (const auto& [v, flag] : {std::pair{p.epochs, "epochs"}, {p.batch, "batch"}, {p.seed, "seed"}})
    if (!v.empty() && !digits(v)) throw RequestError(400, std::string(flag) + "=" + v.substr(0, 20) + ": not a count");
  if (!p.lr.empty() &&
      (p.lr.size() > 24 || p.lr.find_first_not_of("0123456789.eE-") != std::string::npos || p.lr.front() == '-'))
    throw RequestError(400, "lr=" + p.lr.substr(0, 24) + ": not a positive decimal number");
  if (!p.field.empty() && p.field != "m61" && p.field != "m127")
    throw RequestError(400, "field=" + p.field.substr(0, 20) + ": use m61 or m127");
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw RequestError(503, "cannot store the upload: " + path);
}

std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last.substr(0, 300);
}

void run_job(TrainingJob& j) {
  const std::string log = j.dir + "/log";
  j.set("training");
  int rc = run_self(
      j.train_args,
      [&](const std::string& line) {
        try {  // train --json: one object per epoch
          auto e = nlohmann::json::parse(line);
          std::lock_guard lock(j.mu);
          j.epochs.push_back(std::move(e));
        } catch (const std::exception&) {
        }
      },
      log);
  if (rc == 0) {
    j.set("proving");
    rc = run_self(
        j.prove_args, [](const std::string&) {}, log);
  }
  std::lock_guard lock(j.mu);
  if (rc == 0) {
    j.state = "done";
  } else {
    j.state = "failed";
    j.error = last_line(log);
    if (j.error.empty()) j.error = "the job's process ended with status " + std::to_string(rc);
  }
}

}  // namespace

TrainingJobs::TrainingJobs(JobQueue& queue, std::string engine, int threads, std::size_t max_jobs)
    : queue_(queue), engine_(std::move(engine)), threads_(threads), max_jobs_(max_jobs) {}

TrainingJobs::~TrainingJobs() = default;

std::string TrainingJobs::submit(const std::string& model, const std::string& data, const std::string& labels,
                                 const TrainParams& p) {
  check_params(p);
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw RequestError(503, "cannot draw a job id");
  const std::string id = to_hex(std::span<const unsigned char>(b, sizeof b));
  auto j = std::make_shared<TrainingJob>();
  std::string tmpl = (fs::temp_directory_path() / "nnproof-train-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw RequestError(503, "cannot make a folder for the job");
  j->dir = tmpl;
  write(j->dir + "/initial.onnx", model);
  write(j->dir + "/data.npy", data);
  write(j->dir + "/labels.npy", labels);
  const std::string d = j->dir + "/";
  std::vector<std::string> common{"--data", d + "data.npy", "--labels", d + "labels.npy", "--engine", engine_};
  if (threads_ > 0) common.insert(common.end(), {"--threads", std::to_string(threads_)});
  if (!p.field.empty()) common.insert(common.end(), {"--field", p.field});
  if (!p.lr.empty()) common.insert(common.end(), {"--lr", p.lr});
  j->train_args = {"train", "--model", d + "initial.onnx", "--out", d + "trained.onnx", "--json"};
  for (const auto& [v, flag] : {std::pair{p.epochs, "--epochs"}, {p.batch, "--batch"}, {p.seed, "--seed"}})
    if (!v.empty()) j->train_args.insert(j->train_args.end(), {flag, v});
  j->train_args.insert(j->train_args.end(), common.begin(), common.end());
  j->prove_args = {"prove-training", "--model", d + "trained.onnx", "--proof", d + "proof.nnpt"};
  j->prove_args.insert(j->prove_args.end(), common.begin(), common.end());
  std::lock_guard lock(mu_);
  if (jobs_.size() >= max_jobs_) throw RequestError(503, "busy: too many training jobs kept; delete finished ones");
  if (!queue_.try_submit([j] { run_job(*j); })) throw RequestError(503, "busy: the proving queue is full; retry later");
  jobs_[id] = j;
  return id;
}

std::shared_ptr<TrainingJob> TrainingJobs::find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) throw RequestError(404, "no training job '" + id.substr(0, 64) + "'");
  return it->second;
}

nlohmann::json TrainingJobs::status(const std::string& id) {
  auto j = find(id);
  std::lock_guard lock(j->mu);
  nlohmann::json s{{"job", id}, {"state", j->state}, {"epochs", j->epochs}};
  if (!j->error.empty()) s["error"] = j->error;
  return s;
}

std::string TrainingJobs::file(const std::string& id, const std::string& which) {
  auto j = find(id);
  {
    std::lock_guard lock(j->mu);
    if (j->state != "done") throw RequestError(409, "the job is " + j->state + ", not done");
  }
  std::ifstream in(j->dir + (which == "model" ? "/trained.onnx" : "/proof.nnpt"), std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void TrainingJobs::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  jobs_.erase(id);  // a running job keeps its folder until it ends
}

std::size_t TrainingJobs::count() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

}  // namespace nnproof::service
