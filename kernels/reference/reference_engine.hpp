// SPDX-License-Identifier: Apache-2.0
#pragma once
// The test oracle: sequential, straight from PROTOCOL.md, never optimized.
#include "kernels/engine/engine.hpp"

namespace nnproof {

template <class Cfg>
std::unique_ptr<Engine<Cfg>> make_reference_engine();

}  // namespace nnproof
