// SPDX-License-Identifier: Apache-2.0
#include "host/interactive.hpp"

#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "host/prover.hpp"
#include "verifier/image_layout.hpp"

namespace nnproof {
namespace {

void write_all(int fd, const unsigned char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw ChannelError(std::string("channel write failed: ") + std::strerror(errno));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void read_exact(int fd, unsigned char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) throw ChannelError("the other party closed the channel");
    if (r < 0) throw ChannelError(std::string("channel read failed: ") + std::strerror(errno));
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

template <class T>
void send_elements(int fd, std::span<const T> v) {
  std::vector<unsigned char> buf(v.size() * T::kBytes);
  for (std::size_t i = 0; i < v.size(); ++i) v[i].to_bytes(buf.data() + i * T::kBytes);
  write_all(fd, buf.data(), buf.size());
}

template <class T>
void receive_elements(int fd, std::span<T> out) {
  std::vector<unsigned char> buf(out.size() * T::kBytes);  // sized by the protocol, never by the peer
  read_exact(fd, buf.data(), buf.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!T::from_bytes(buf.data() + i * T::kBytes, out[i]))
      throw ChannelError("received a non-canonical field element");
}

template <class K>
class FdProverChannel final : public ProverChannel<K> {
 public:
  FdProverChannel(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}
  void send(std::span<const K> m) override { send_elements(out_, m); }
  K challenge() override {
    K k;
    receive_elements(in_, std::span<K>(&k, 1));
    return k;
  }

 private:
  int in_, out_;
};

template <class K>
class FdVerifierChannel final : public VerifierChannel<K> {
 public:
  FdVerifierChannel(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}
  void receive(std::span<K> out) override { receive_elements(in_, out); }
  K challenge() override {
    K k = csprng_challenge<K>();
    send_elements(out_, std::span<const K>(&k, 1));
    return k;
  }

 private:
  int in_, out_;
};

struct PipePair {
  int to_prover[2] = {-1, -1}, to_verifier[2] = {-1, -1};
  int errors[2] = {-1, -1};  // a forked prover's reason for failing, if it fails
  PipePair() {
    // A party writing to a closed pipe must get EPIPE (a ChannelError, so a rejection), not die of
    // SIGPIPE. Process-wide, as signal dispositions are.
    std::signal(SIGPIPE, SIG_IGN);
    if (::pipe(to_prover) != 0 || ::pipe(to_verifier) != 0 || ::pipe(errors) != 0)
      throw ChannelError(std::string("pipe: ") + std::strerror(errno));
  }
  ~PipePair() {
    for (int fd : {to_prover[0], to_prover[1], to_verifier[0], to_verifier[1], errors[0], errors[1]})
      if (fd >= 0) ::close(fd);
  }
  void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace

template <class K>
K csprng_challenge() {
  std::array<unsigned char, kUniformBytes> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    ssize_t r = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<std::size_t>(r);
  }
  K k;
  from_uniform_bytes(bytes.data(), k);
  return k;
}

template <class Cfg>
void serve_interactive_prover(Engine<Cfg>& engine, const QuantizedModel& model,
                              const std::vector<typename Cfg::F>& input, std::size_t batch, int in_fd, int out_fd) {
  const ProofLayout layout(model, kProofVersion);  // verify_protocol's default version
  const auto layers = field_layers<typename Cfg::F>(layout.model());
  ForwardTrace<Cfg> trace = run_forward(engine, layers, input, batch, {}, Activations::all, layout.input_map());
  auto outputs = trace_outputs(trace, model.out_dim());
  send_elements<typename Cfg::F>(out_fd, outputs);
  FdProverChannel<typename Cfg::K> ch(in_fd, out_fd);
  prove_layers(engine, layers, trace, ch);
}

template <class Cfg>
Verdict run_interactive_verifier(const QuantizedModel& model, const std::vector<typename Cfg::F>& input,
                                 std::size_t batch, int in_fd, int out_fd, std::vector<typename Cfg::F>& outputs) {
  Statement<Cfg> st;
  st.model = &model;
  st.batch = batch;
  st.input = input;
  st.outputs.resize(batch * model.out_dim());
  receive_elements<typename Cfg::F>(in_fd, st.outputs);
  FdVerifierChannel<typename Cfg::K> ch(in_fd, out_fd);
  Verdict v = verify_protocol(st, ch);
  if (v.accepted) outputs = st.outputs;
  return v;
}

template <class Cfg>
Verdict interactive_in_process(Engine<Cfg>& engine, const QuantizedModel& model,
                               const std::vector<typename Cfg::F>& input, std::size_t batch,
                               std::vector<typename Cfg::F>& outputs) {
  PipePair p;
  std::exception_ptr prover_error;
  std::thread prover([&] {
    try {
      serve_interactive_prover(engine, model, input, batch, p.to_prover[0], p.to_verifier[1]);
    } catch (...) {
      prover_error = std::current_exception();
    }
    p.close_fd(p.to_verifier[1]);  // unblocks a verifier still reading
  });
  Verdict v;
  try {
    v = run_interactive_verifier<Cfg>(model, input, batch, p.to_verifier[0], p.to_prover[1], outputs);
  } catch (const ChannelError& e) {
    v = Verdict::reject(std::string("channel: ") + e.what());
  }
  p.close_fd(p.to_prover[1]);  // unblocks a prover still waiting for a challenge
  prover.join();
  if (prover_error && v.accepted) std::rethrow_exception(prover_error);
  return v;
}

namespace {
// Everything left in fd, up to 4 KiB (a one-line error message).
std::string read_message(int fd) {
  std::string msg;
  char buf[512];
  ssize_t n;
  while (msg.size() < 4096 && (n = ::read(fd, buf, sizeof buf)) > 0) msg.append(buf, static_cast<std::size_t>(n));
  return msg;
}

// Forks; the child runs serve(in_fd, out_fd) and exits, the parent runs the verifier. A child
// that throws (it could not make its engine, say, or ran out of memory) sends its message back:
// unless the verifier accepted anyway, that is thrown here as an error (the CLI's one line and
// exit 2), not reported as a rejection of a proof that was never made.
template <class Cfg, class Serve>
Verdict over_forked_prover(Serve serve, const QuantizedModel& model, const std::vector<typename Cfg::F>& input,
                           std::size_t batch, std::vector<typename Cfg::F>& outputs) {
  PipePair p;
  pid_t pid = ::fork();
  if (pid < 0) throw ChannelError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {  // the prover
    p.close_fd(p.to_prover[1]);
    p.close_fd(p.to_verifier[0]);
    p.close_fd(p.errors[0]);
    int code = 0;
    std::string why;
    try {
      serve(p.to_prover[0], p.to_verifier[1]);
    } catch (const ChannelError&) {
      code = 3;  // the verifier stopped listening (it rejected): its verdict says why
    } catch (const std::exception& e) {
      why = e.what();
      code = 3;
    } catch (...) {
      why = "unknown error";
      code = 3;
    }
    if (!why.empty() && ::write(p.errors[1], why.data(), why.size()) < 0) code = 4;
    ::_exit(code);
  }
  p.close_fd(p.to_prover[0]);
  p.close_fd(p.to_verifier[1]);
  p.close_fd(p.errors[1]);
  Verdict v;
  try {
    v = run_interactive_verifier<Cfg>(model, input, batch, p.to_verifier[0], p.to_prover[1], outputs);
  } catch (const ChannelError& e) {
    v = Verdict::reject(std::string("channel: ") + e.what());
  }
  p.close_fd(p.to_prover[1]);
  const std::string why = read_message(p.errors[0]);  // EOF once the child has exited
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!v.accepted && !why.empty()) throw std::runtime_error("prover process: " + why);
  return v;
}
}  // namespace

template <class Cfg>
Verdict interactive_two_processes(Engine<Cfg>& engine, const QuantizedModel& model,
                                  const std::vector<typename Cfg::F>& input, std::size_t batch,
                                  std::vector<typename Cfg::F>& outputs) {
  return over_forked_prover<Cfg>(
      [&](int in_fd, int out_fd) { serve_interactive_prover(engine, model, input, batch, in_fd, out_fd); }, model,
      input, batch, outputs);
}

template <class Cfg>
Verdict interactive_two_processes(const EngineFactory<Cfg>& make_engine, const QuantizedModel& model,
                                  const std::vector<typename Cfg::F>& input, std::size_t batch,
                                  std::vector<typename Cfg::F>& outputs) {
  return over_forked_prover<Cfg>(
      [&](int in_fd, int out_fd) {
        const std::unique_ptr<Engine<Cfg>> engine = make_engine();
        serve_interactive_prover(*engine, model, input, batch, in_fd, out_fd);
      },
      model, input, batch, outputs);
}

#define NNP_INSTANTIATE(Cfg)                                                                                           \
  template void serve_interactive_prover(Engine<Cfg>&, const QuantizedModel&, const std::vector<Cfg::F>&, std::size_t, \
                                         int, int);                                                                    \
  template Verdict run_interactive_verifier<Cfg>(const QuantizedModel&, const std::vector<Cfg::F>&, std::size_t, int,  \
                                                 int, std::vector<Cfg::F>&);                                           \
  template Verdict interactive_in_process(Engine<Cfg>&, const QuantizedModel&, const std::vector<Cfg::F>&,             \
                                          std::size_t, std::vector<Cfg::F>&);                                          \
  template Verdict interactive_two_processes(Engine<Cfg>&, const QuantizedModel&, const std::vector<Cfg::F>&,          \
                                             std::size_t, std::vector<Cfg::F>&);                                       \
  template Verdict interactive_two_processes(const EngineFactory<Cfg>&, const QuantizedModel&,                         \
                                             const std::vector<Cfg::F>&, std::size_t, std::vector<Cfg::F>&);
NNP_FOR_EACH_CONFIG(NNP_INSTANTIATE)
#undef NNP_INSTANTIATE
template Fp61 csprng_challenge<Fp61>();
template Fp61x2 csprng_challenge<Fp61x2>();
template Fp127 csprng_challenge<Fp127>();

}  // namespace nnproof
