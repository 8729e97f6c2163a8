// SPDX-License-Identifier: Apache-2.0
#include "host/service/connection.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>

namespace nnproof::service {
namespace {

// The numeric host and port of a socket address, as cpp-httplib writes them (getnameinfo).
bool numeric(const sockaddr_storage& a, socklen_t len, std::string& host, int& port) {
  char h[NI_MAXHOST], p[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, h, sizeof h, p, sizeof p,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  host = h;
  port = std::atoi(p);
  return true;
}

}  // namespace

int find_connection(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    sockaddr_storage peer{}, self{};
    socklen_t peer_len = sizeof peer, self_len = sizeof self;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;  // not a connected socket
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0) continue;
    std::string ph, sh;
    int pp = -1, sp = -1;
    if (numeric(peer, peer_len, ph, pp) && numeric(self, self_len, sh, sp) && pp == remote_port && ph == remote_addr &&
        sp == local_port && sh == local_addr)
      return fd;
  }
  return -1;
}

bool connection_closed(int fd) {
  if (fd < 0) return false;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;                                           // the client's next request, pipelined
  if (n == 0) return true;                                           // its end of the stream
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;  // reset
}

}  // namespace nnproof::service
