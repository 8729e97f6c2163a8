// SPDX-License-Identifier: Apache-2.0
#pragma once
// Whether the client of a request has gone away, so that its queued or running proof can be
// dropped instead of finished for nobody. cpp-httplib 0.11 gives handlers no handle on their
// connection, so the socket is found by its two addresses among this process's sockets.
#include <string>

namespace nnproof::service {

// The socket whose local and peer addresses are these (numeric host, port); -1 if none.
int find_connection(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);

// True when the peer has closed or reset the connection (a read would see its end). A client that
// only half-closes (shutdown(SHUT_WR)) after its request looks gone too; HTTP clients do not.
bool connection_closed(int fd);

}  // namespace nnproof::service
