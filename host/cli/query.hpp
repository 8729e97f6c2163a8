// SPDX-License-Identifier: Apache-2.0
#pragma once
// `nnproof query`'s options, shared by its inference (query.cpp) and training (query_train.cpp) parts.
#include <string>

#include "host/cli/common.hpp"

namespace nnproof::service {
class ServiceClient;
}

namespace nnproof::cli {

constexpr int kExitServer = 4;  // the server could not be reached or answered an error

struct QueryOptions {
  std::string server, model, input, output, labels_out, token_file, tls_ca, save_proof;
  bool interactive = false, json = false, train = false;
  int timeout_s = 300;
  // --train: the client's training set, where the trained model goes, and the hyperparameters
  // (passed to the server's `nnproof train` as given; empty: its defaults).
  std::string data, labels, out, epochs, batch, seed, lr, field;
};

int run_query_train(const QueryOptions& o, service::ServiceClient& client);

}  // namespace nnproof::cli
