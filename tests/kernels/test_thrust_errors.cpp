// SPDX-License-Identifier: Apache-2.0
// NNP_THRUST (kernels/thrust/thrust_errors.hpp): a thrust::system_error from a Thrust call becomes a
// CudaError naming the file, the line and the call; values and other exceptions pass through.
// Compiled only where the CUDA toolkit (and so Thrust) was found at build time.
#define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_OMP
#define NNP_THRUST_NS thrust_errors_test

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/thrust/thrust_errors.hpp"

namespace nnproof::thrust_errors_test {
namespace {

int failing_launch(int /*blocks*/) {
  throw thrust::system_error(EINVAL, thrust::generic_category(), "for_each: failed to synchronize");
}

TEST(ThrustErrors, ASystemErrorBecomesACudaErrorWithFileLineAndCall) {
  const int line = __LINE__ + 2;
  try {
    NNP_THRUST(failing_launch(4));
    FAIL() << "no exception";
  } catch (const CudaError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("test_thrust_errors.cpp:" + std::to_string(line) + ": failing_launch: "), std::string::npos)
        << what;
    EXPECT_NE(what.find("for_each: failed to synchronize"), std::string::npos) << what;  // Thrust's own words
  }
}

TEST(ThrustErrors, ValuesAndOtherExceptionsPassThrough) {
  EXPECT_EQ(NNP_THRUST(std::string("device") + "_vector"), "device_vector");
  auto moved = NNP_THRUST(std::make_unique<int>(7));  // a move-only result is returned, not copied
  EXPECT_EQ(*moved, 7);
  int calls = 0;
  NNP_THRUST(++calls);
  EXPECT_EQ(calls, 1);  // evaluated once
  EXPECT_THROW(NNP_THRUST(throw std::logic_error("not Thrust's")), std::logic_error);
}

TEST(ThrustErrors, TheCallIsNamedWithoutItsArguments) {
  EXPECT_EQ(callee("thrust::for_each(exec(), count(0), count(n), FoldTop<K>{t, out, half, r})"), "thrust::for_each");
  EXPECT_EQ(callee("DeviceVector<K>(A.begin(), A.end())"), "DeviceVector<K>");
  EXPECT_EQ(callee("spare.resize(n)"), "spare.resize");
  EXPECT_EQ(callee("K{v_[0]}"), "K");
}

}  // namespace
}  // namespace nnproof::thrust_errors_test
