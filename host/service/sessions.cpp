// SPDX-License-Identifier: Apache-2.0
#include "host/service/sessions.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "host/interactive.hpp"
#include "verifier/sha256.hpp"

namespace nnproof::service {

struct Session {
  const ServedModel* model = nullptr;
  ParsedInput input;
  int to_prover[2] = {-1, -1}, to_client[2] = {-1, -1};
  std::mutex step_mu;  // one step at a time
  std::mutex time_mu;
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();

  Session() {
    if (::pipe(to_prover) != 0 || ::pipe(to_client) != 0)
      throw RequestError(503, std::string("cannot open a session: pipe: ") + std::strerror(errno));
    ::fcntl(to_prover[1], F_SETFL, ::fcntl(to_prover[1], F_GETFL) | O_NONBLOCK);
  }
  ~Session() {
    for (int fd : {to_prover[0], to_prover[1], to_client[0], to_client[1]})
      if (fd >= 0) ::close(fd);
  }
  void touch() {
    std::lock_guard lock(time_mu);
    last_used = std::chrono::steady_clock::now();
  }
  std::chrono::steady_clock::time_point used() {
    std::lock_guard lock(time_mu);
    return last_used;
  }
};

namespace {

std::string random_id() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw RequestError(503, "cannot draw a session id");
  return to_hex(std::span<const unsigned char>(b, sizeof b));
}

// The prover's side of a session: the same code as `nnproof interactive`'s prover process.
void run_prover(Session& s, const std::string& engine_name, int threads) {
  try {
    cli::with_file_field(s.model->field, [&]<class Cfg>() {
      auto engine = make_engine<Cfg>(engine_name, threads, dense_work(s.model->model, s.input.batch));
      serve_interactive_prover<Cfg>(*engine, s.model->model, cli::to_field<typename Cfg::F>(s.input.input),
                                    s.input.batch, s.to_prover[0], s.to_client[1]);
    });
  } catch (const std::exception&) {
    // The client stopped (it rejected, timed out or sent a bad challenge): its verdict says why.
  }
  // The client's next read sees the end of the channel instead of waiting for the timeout.
  ::close(s.to_client[1]);
  s.to_client[1] = -1;
}

// The write end is non-blocking: a client that sends challenges the prover does not read (more
// than the pipe holds) gets 504 after the idle timeout instead of holding this thread forever.
void write_all(int fd, std::span<const unsigned char> b, std::chrono::seconds timeout) {
  while (!b.empty()) {
    ssize_t w = ::write(fd, b.data(), b.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      const int r = ::poll(&p, 1, static_cast<int>(timeout.count() * 1000));
      if (r == 0) throw RequestError(504, "the session's prover took no challenge within the idle timeout");
      continue;
    }
    if (w <= 0) throw RequestError(410, "the session's prover has ended (it may have refused a challenge)");
    b = b.subspan(static_cast<std::size_t>(w));
  }
}

// Exactly `want` bytes, each wait at most `timeout`; the buffer grows with what arrives.
std::vector<unsigned char> read_exact(int fd, std::size_t want, std::chrono::seconds timeout) {
  std::vector<unsigned char> out;
  out.reserve(std::min<std::size_t>(want, std::size_t{1} << 20));
  unsigned char buf[1 << 16];
  while (out.size() < want) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count() * 1000));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) throw RequestError(504, "the session's prover sent nothing within the idle timeout");
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, want - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw RequestError(410, "the session's prover has ended: it has sent all its messages, or refused a challenge");
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

}  // namespace

Sessions::Sessions(JobQueue& queue, std::string engine, int threads, std::chrono::seconds idle_timeout,
                   std::size_t max_sessions)
    : queue_(queue),
      engine_(std::move(engine)),
      threads_(threads),
      idle_timeout_(idle_timeout),
      max_sessions_(max_sessions) {}

Sessions::~Sessions() = default;

std::string Sessions::start(const ServedModel& m, ParsedInput in) {
  auto s = std::make_shared<Session>();
  s->model = &m;
  s->input = std::move(in);
  std::string id = random_id();
  std::lock_guard lock(mu_);
  if (sessions_.size() >= max_sessions_) throw RequestError(503, "busy: too many open interactive sessions; retry");
  if (!queue_.try_submit([s, engine = engine_, threads = threads_] { run_prover(*s, engine, threads); }))
    throw RequestError(503, "busy: the proving queue is full; retry later");
  sessions_[id] = s;
  return id;
}

std::shared_ptr<Session> Sessions::find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end())
    throw RequestError(404, "no interactive session '" + id.substr(0, 64) + "' (ended or expired)");
  return it->second;
}

std::vector<unsigned char> Sessions::step(const std::string& id, std::span<const unsigned char> challenges,
                                          std::size_t want) {
  if (want > kMaxStepBytes)
    throw RequestError(
        413, "want=" + std::to_string(want) + " is over the " + std::to_string(kMaxStepBytes) + "-byte step limit");
  std::shared_ptr<Session> s = find(id);
  std::unique_lock step(s->step_mu, std::try_to_lock);
  if (!step.owns_lock()) throw RequestError(409, "a step of this session is already running; send one at a time");
  s->touch();
  write_all(s->to_prover[1], challenges, idle_timeout_);
  auto out = read_exact(s->to_client[0], want, idle_timeout_);
  s->touch();
  return out;
}

void Sessions::end(const std::string& id) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    s = it->second;
    sessions_.erase(it);
  }
  // A prover waiting for a challenge sees the channel close; the fds close with the last owner.
  // A prover blocked writing sees EPIPE (SIGPIPE is ignored by the server).
  std::lock_guard step(s->step_mu);
  for (int* fd : {&s->to_prover[1], &s->to_client[0]}) {
    ::close(*fd);
    *fd = -1;
  }
}

void Sessions::expire_idle() {
  std::vector<std::string> idle;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, s] : sessions_)
      if (now - s->used() > idle_timeout_) idle.push_back(id);
  }
  for (const std::string& id : idle) end(id);
}

void Sessions::end_all() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : sessions_) ids.push_back(id);
  }
  for (const std::string& id : ids) end(id);
}

std::size_t Sessions::count() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace nnproof::service
