// SPDX-License-Identifier: Apache-2.0
// `nnproof query`: send an input to `nnproof serve`, verify what comes back against the client's own
// model copy (the server's model is never trusted, only its proof), write outputs only when
// VERIFIED. Exit codes as verify's, plus 4: the server could not be reached or answered an error.
#include "host/cli/query.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "host/cli/commands.hpp"
#include "host/cli/verify.hpp"
#include "host/interactive.hpp"
#include "host/npy.hpp"
#include "host/service/client.hpp"
#include "verifier/chunked.hpp"
#include "verifier/image_layout.hpp"
#include "verifier/magnitude.hpp"
#include "verifier/sha256.hpp"
#include "verifier/verifier.hpp"

namespace nnproof::cli {
namespace {

std::vector<unsigned char> read_whole(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read " + flag + "; check its path");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_token(const std::string& path) {
  if (path.empty()) return "";
  auto bytes = read_whole(path, "--token-file");
  std::string t(bytes.begin(), std::find(bytes.begin(), bytes.end(), '\n'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  if (t.empty()) throw UsageError(path + ": the token file is empty; put the token on its first line");
  return t;
}

// The client's own model binding (hex): the server is asked for exactly this model and scales.
std::string binding_of(const Problem& p) {
  Statement<M61> st = make_statement<M61>(p);
  return to_hex(model_binding(st));
}

VerifyOutcome rejected(const std::string& reason) {
  VerifyOutcome r;
  r.reason = reason;
  return r;
}

// The outputs' checks for an interactive session, then the protocol with this process's challenges.
template <class Cfg>
VerifyOutcome verify_session(const Problem& p, service::ServiceClient& c, const std::string& id, const VerifyTargets& t,
                             OutputFiles& files) {
  Statement<Cfg> st = make_statement<Cfg>(p);
  st.outputs.resize(p.batch * p.model.out_dim());
  service::HttpVerifierChannel<typename Cfg::K> ch(c, id);
  ch.receive_elements(std::span<typename Cfg::F>(st.outputs));
  Verdict v = verify_protocol(st, ch);
  if (!v.accepted) return rejected(v.failed_check);
  VerifyOutcome ok;
  ok.code = kExitOk;
  ok.field = Cfg::kId;
  ok.soundness_bits = ProofShape{proof_dims(p.model, kProofVersion), p.batch}.soundness_bits(Cfg::kId);
  ok.labels = argmax_labels(st.outputs, p.batch, p.model.out_dim());
  if (!t.output.empty())
    files.stage(t.output, [&](const std::string& tmp) {
      write_npy_f64(tmp, {p.batch, p.model.out_dim()}, dequantize_outputs(p.model, st.outputs));
    });
  if (!t.labels_out.empty())
    files.stage(t.labels_out, [&](const std::string& tmp) { write_npy_i64(tmp, {p.batch}, ok.labels); });
  files.commit();
  return ok;
}

VerifyOutcome query_interactive(const Problem& p, service::ServiceClient& c, std::span<const unsigned char> npy,
                                const VerifyTargets& t, OutputFiles& files) {
  const service::SessionInfo s = c.start_session(binding_of(p), npy);
  struct End {  // the session ends however the verifier stops
    service::ServiceClient& c;
    const std::string& id;
    ~End() { c.end_session(id); }
  } end{c, s.id};
  // The server names the field; the client accepts only one with >= 100 bits for its own shape
  // and inputs that cannot wrap in it (PROTOCOL.md sections 7, 8).
  FieldId field;
  if (s.field == field_name(FieldId::m61))
    field = FieldId::m61;
  else if (s.field == field_name(FieldId::m127))
    field = FieldId::m127;
  else
    return rejected("field: the server proves over '" + s.field.substr(0, 40) + "', not m61 or m127 (>= 100 bits)");
  const double bits = ProofShape{proof_dims(p.model, kProofVersion), p.batch}.soundness_bits(field);
  if (bits < kMinSoundnessBits)
    return rejected(fmt::format("soundness: {:.1f} bits over {}, under 100", bits, s.field));
  if (auto wrap = magnitude_violation(magnitude_profile(p.model), max_abs(p.input), field))
    return rejected(fmt::format("magnitude: {}: the field can wrap, so these outputs need not be the network's",
                                wrap->describe(field)));
  return with_file_field(field, [&]<class Cfg>() { return verify_session<Cfg>(p, c, s.id, t, files); });
}

void report(const QueryOptions& o, const VerifyOutcome& r, const Problem& p) {
  if (o.json) {
    nlohmann::json j{{"verdict", r.code == kExitOk ? "VERIFIED" : "REJECTED"},
                     {"server", o.server},
                     {"batch", p.batch},
                     {"interactive", o.interactive}};
    if (r.code == kExitOk) {
      j["field"] = field_name(r.field);
      j["soundness_bits"] = r.soundness_bits;
      j["labels"] = r.labels;
    } else {
      j["reason"] = r.reason;
    }
    fmt::print("{}\n", j.dump());
  } else if (r.code == kExitOk) {
    fmt::print("VERIFIED\n");
    fmt::print(stderr, "verified {} samples from {}{}: {}, {:.1f} bits\n", p.batch, o.server,
               o.interactive ? " (interactive)" : "", field_name(r.field), r.soundness_bits);
  } else {
    fmt::print("REJECTED: {}\n", r.reason);
  }
}

int run_query(const QueryOptions& o) {
  // The client's own files and flags first (exit 2), before any connection.
  if (o.timeout_s <= 0) throw UsageError("--timeout must be a positive number of seconds");
  service::ClientOptions co{o.server, read_token(o.token_file), o.tls_ca, o.timeout_s};
  if (!o.tls_ca.empty()) (void)read_whole(o.tls_ca, "--tls-ca");
  std::unique_ptr<service::ServiceClient> client;
  try {
    client = std::make_unique<service::ServiceClient>(co);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (o.train) {
    if (o.interactive || !o.input.empty() || !o.output.empty() || !o.labels_out.empty())
      throw UsageError(
          "--train takes --data, --labels and --out, not --input, --output, --labels-out or --interactive");
    return run_query_train(o, *client);
  }
  if (o.input.empty()) throw UsageError("--input is required (or --train with --data and --labels)");
  if (!o.data.empty() || !o.labels.empty() || !o.out.empty())
    throw UsageError("--data, --labels and --out are for --train");
  OutputFiles files({{o.output, "--output"}, {o.labels_out, "--labels-out"}, {o.save_proof, "--save-proof"}});
  if (o.interactive && !o.save_proof.empty())
    throw UsageError("--save-proof: an interactive session leaves no proof file; drop one of the two flags");
  Problem p = load_problem(o.model, o.input, {});
  const std::vector<unsigned char> npy = read_whole(o.input, "--input");
  const VerifyTargets t{std::nullopt, o.output, o.labels_out};
  VerifyOutcome r;
  try {
    if (o.interactive) {
      r = query_interactive(p, *client, npy, t, files);
    } else {
      // At most the largest bundle the client's own model and batch allow (m127's, plain or chunked),
      // plus one byte.
      const ProofShape whole{proof_dims(p.model, kProofVersion), p.batch};
      const std::size_t most =
          std::max(bundle_size(FieldId::m127, whole), max_chunked_bundle_size(FieldId::m127, whole)) + 1;
      const std::vector<unsigned char> bundle = client->prove(binding_of(p), npy, most);
      if (!o.save_proof.empty()) files.stage_bytes(o.save_proof, bundle);
      const ProofReader read = [&](std::size_t n) {
        return std::vector<unsigned char>(bundle.begin(), bundle.begin() + std::min(n, bundle.size()));
      };
      try {
        r = verify_proof(p, read, t, files);
      } catch (const UsageError& e) {  // e.g. a header naming m61-interactive: the server's bytes
        r = rejected(std::string("proof: ") + e.what());
      }
    }
  } catch (const service::ServerError& e) {
    if (o.json) fmt::print("{}\n", nlohmann::json{{"verdict", "ERROR"}, {"reason", e.what()}}.dump());
    fmt::print(stderr, "nnproof: error: {}\n", e.what());
    return kExitServer;
  } catch (const service::ServerFault& e) {
    r = rejected(std::string("server: ") + e.what());
  } catch (const ChannelError& e) {
    r = rejected(std::string("channel: ") + e.what());
  }
  report(o, r, p);
  return r.code;
}

}  // namespace

void add_query_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QueryOptions>();
  CLI::App* cmd = app.add_subcommand(
      "query",
      "ask an nnproof server for outputs and verify its proof: VERIFIED (0), REJECTED (1), your files or flags "
      "(2), server unreachable or refusing (4)");
  cmd->add_option("--server", o->server, "http://HOST:PORT or https://HOST:PORT")->required();
  cmd->add_option("--model", o->model, "your own copy of the model (.onnx): the proof is checked against it")
      ->required();
  cmd->add_option("--input", o->input, "inputs (.npy, as for prove)");
  cmd->add_option("--output", o->output, "write the verified, dequantized outputs (.npy, float64)");
  cmd->add_option("--labels-out", o->labels_out, "write the verified argmax class of each sample (.npy, int64, (b,))");
  cmd->add_flag("--interactive", o->interactive,
                "interactive proof: challenges drawn here, after each server message (PROTOCOL.md section 6)");
  cmd->add_option("--token-file", o->token_file, "the server's token (first line of the file)");
  cmd->add_option("--tls-ca", o->tls_ca, "CA certificate (PEM) to check an https server against");
  cmd->add_option("--save-proof", o->save_proof, "also keep the verified proof bundle (.nnp)");
  cmd->add_option("--timeout", o->timeout_s, "seconds to wait for the server's answer (default 300)");
  cmd->add_flag("--json", o->json, "print the verdict as one JSON object");
  cmd->add_flag("--train", o->train,
                "a training job: upload --model (the initial model), --data and --labels; write the trained model "
                "to --out once verify-training accepts it (exit 0 converged, 3 not converged)");
  cmd->add_option("--data", o->data, "--train: your training inputs (.npy)");
  cmd->add_option("--labels", o->labels, "--train: your training labels (.npy)");
  cmd->add_option("--out", o->out, "--train: the trained model to write (.onnx)");
  cmd->add_option("--epochs", o->epochs, "--train: passes over the data (the server's train default: 10)");
  cmd->add_option("--batch", o->batch, "--train: samples per step (default: all)");
  cmd->add_option("--seed", o->seed, "--train: seed of the batches' order");
  cmd->add_option("--lr", o->lr, "--train: learning rate (a power of two; default 2^-6)");
  cmd->add_option("--field", o->field, "--train: m61 or m127");
  cmd->callback([o, &exit_code] { exit_code = run_query(*o); });
}

}  // namespace nnproof::cli
