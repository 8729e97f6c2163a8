// SPDX-License-Identifier: Apache-2.0
#pragma once
// NumPy .npz archives (numpy.load reads them): a zip of .npy members, written with libzip.
#include <string>
#include <utility>
#include <vector>

namespace nnproof {

// Writes `arrays` (name without ".npy", the member's .npy bytes) as an uncompressed .npz. Throws
// NpyError naming the path when it cannot.
void write_npz(const std::string& path, const std::vector<std::pair<std::string, std::vector<unsigned char>>>& arrays);

}  // namespace nnproof
