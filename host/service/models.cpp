// SPDX-License-Identifier: Apache-2.0
#include "host/service/models.hpp"

#include <filesystem>
#include <mutex>
#include <new>

#include "host/chunked_prover.hpp"
#include "host/npy.hpp"
#include "verifier/sha256.hpp"

namespace nnproof::service {

ServedModel load_served_model(const std::string& path, const std::string& field) {
  ServedModel m;
  m.path = path;
  m.name = std::filesystem::path(path).stem().string();
  m.float_model = import_onnx(path);
  m.model = quantize_model(m.float_model, {});
  m.digest = model_digest(m.model);
  m.field = cli::choose_field(field, m.float_model);
  Statement<M61> st;  // the binding covers the digest and the scales, not the field
  st.model = &m.model;
  st.model_digest = m.digest;
  m.binding = to_hex(model_binding(st));
  return m;
}

void ModelSet::add(ServedModel m) {
  for (const ServedModel& o : models_)
    if (o.name == m.name || o.binding == m.binding)
      throw cli::UsageError(m.path + ": the same name or model binding as " + o.path +
                            "; serve each model once, under distinct file names");
  models_.push_back(std::move(m));
}

const ServedModel& ModelSet::find(const std::string& key) const {
  for (const ServedModel& m : models_)
    if (m.name == key || m.binding == key) return m;
  throw RequestError(404, "unknown model '" + key.substr(0, 80) + "'; GET /v1/models lists the names and bindings");
}

ParsedInput parse_input(const ServedModel& m, std::span<const unsigned char> npy, std::size_t max_batch) {
  ParsedInput in;
  try {
    NpyArray x = read_npy_bytes(npy, "request body");
    // Before quantizing: the batch limit bounds the work and memory a request may ask for.
    if (!x.shape.empty() && x.shape[0] > max_batch)
      throw RequestError(413, "request body: batch " + std::to_string(x.shape[0]) + " is over this server's " +
                                  std::to_string(max_batch) + " (--max-batch); send fewer samples per request");
    in.input = quantize_input(x, "request body", m.model);
    in.batch = x.shape[0];
    check_magnitudes(m.model, in.input, m.field);
  } catch (const NpyError& e) {
    throw RequestError(400, e.what());
  } catch (const QuantizeError& e) {
    throw RequestError(400, e.what());
  }
  return in;
}

namespace {
// One engine per device: proofs that land on the GPU (--engine cuda, or auto for large work) take
// this lock, so they run one at a time while the cpu workers stay parallel.
std::mutex& gpu_lock() {
  static std::mutex m;
  return m;
}
}  // namespace

std::vector<unsigned char> prove_request(const ServedModel& m, const ParsedInput& in, const std::string& engine_name,
                                         int threads, const ProveCheck& check, std::size_t max_memory) {
  return cli::with_file_field(m.field, [&]<class Cfg>() {
    auto engine = make_engine<Cfg>(engine_name, threads, dense_work(m.model, in.batch));
    std::unique_lock<std::mutex> gpu;
    if (engine->name() == "cuda") gpu = std::unique_lock<std::mutex>(gpu_lock());
    // As `nnproof prove` with its default --max-memory: a batch larger than the memory allows is
    // proved in chunks (one bundle), which `nnproof query` verifies as such.
    ChunkPlan plan;
    try {
      const std::size_t limit = max_memory ? max_memory : default_memory_limit(engine->name() == "cuda").bytes;
      plan = plan_chunks(m.model, m.field, in.batch, kProofVersion, limit, engine->proof_memory());
    } catch (const MemoryLimitError& e) {
      throw RequestError(413, std::string("the batch is too large for this server's memory: ") + e.what());
    }
    ProgressFn progress;
    if (check) progress = [&](const std::string&) { check(); };
    try {
      return prove_in_chunks(*engine, m.model, m.digest, in.input, plan, progress).bytes;
    } catch (const std::bad_alloc&) {
      throw RequestError(503,
                         "out of memory while proving (other requests hold memory); retry later or send a smaller "
                         "batch");
    }
  });
}

}  // namespace nnproof::service
