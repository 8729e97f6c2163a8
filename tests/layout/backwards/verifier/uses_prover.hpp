// A fixture for check_layers.py: an include from verifier/ up to kernels/, which it must refuse.
#include "kernels/engine/engine.hpp"
#include <thrust/device_vector.h>
