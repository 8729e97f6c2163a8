// SPDX-License-Identifier: Apache-2.0
// A fixture for check_layers.py: an include from verifier/ up to kernels/, which it must refuse.
#include <thrust/device_vector.h>

#include "kernels/engine/engine.hpp"
