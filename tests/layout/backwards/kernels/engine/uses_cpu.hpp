// SPDX-License-Identifier: Apache-2.0
// A fixture for check_layers.py: the shared engine layer including one engine, which it must refuse.
#include "kernels/cpu/cpu_engine.hpp"
