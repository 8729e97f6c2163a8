// SPDX-License-Identifier: Apache-2.0
#pragma once
// The models a server proves with, loaded once at start, and the proof of one request: exactly
// what `nnproof prove` writes for the same model, input, field and scales.
#include <span>
#include <string>
#include <vector>

#include "host/cli/common.hpp"

namespace nnproof::service {

struct ServedModel {
  std::string name;  // the file's stem, e.g. "cnn2quad"
  std::string path;
  FloatModel float_model;
  QuantizedModel model;          // quantized with the scales in the model's metadata
  Digest digest{};               // model_digest(model)
  std::string binding;           // model_binding as hex: what a proof's header names (docs/FORMAT.md)
  FieldId field = FieldId::m61;  // the model's nnproof.field metadata, else m61 (as prove chooses)
};

// `field`: m61 or m127, or empty for the model's nnproof.field metadata, else m61 (as prove chooses).
ServedModel load_served_model(const std::string& path, const std::string& field = "");

// A request the server refuses, with the HTTP status it answers and a one-line reason.
struct RequestError : std::runtime_error {
  int status;
  RequestError(int status_, const std::string& what) : std::runtime_error(what), status(status_) {}
};

// The models a server holds; find() takes a name or a binding (hex), RequestError 404 otherwise.
class ModelSet {
 public:
  void add(ServedModel m);
  const ServedModel& find(const std::string& name_or_binding) const;
  const std::vector<ServedModel>& all() const { return models_; }

 private:
  std::vector<ServedModel> models_;
};

// A request's input batch: the .npy body parsed and quantized for `m`, checked against max_batch
// and the field's magnitude bound (RequestError 400 / 413 naming the problem).
struct ParsedInput {
  std::vector<std::int64_t> input;
  std::size_t batch = 0;
};
ParsedInput parse_input(const ServedModel& m, std::span<const unsigned char> npy, std::size_t max_batch);

// Called between stages of a proof; may throw to abandon it (the client went away).
using ProveCheck = std::function<void()>;

// The .nnp bytes `nnproof prove --model m.path --max-memory max_memory` writes for this input (same
// field and scales; max_memory 0: prove's default limit): a chunked bundle when the batch needs more.
std::vector<unsigned char> prove_request(const ServedModel& m, const ParsedInput& in, const std::string& engine,
                                         int threads, const ProveCheck& check = {}, std::size_t max_memory = 0);

}  // namespace nnproof::service
