// SPDX-License-Identifier: Apache-2.0
// Interactive mode: challenges from the OS CSPRNG over a pipe, in process and across two
// processes; a prover that changes any message is rejected.
#include <gtest/gtest.h>

#include "host/interactive.hpp"
#include "kernels/cpu/cpu_engine.hpp"
#include "tests/support/problems.hpp"

namespace nnproof {
namespace {

using testing::make_rng;

// Wraps an engine so that the sum-check rounds of one layer's proof are off by one in one value.
template <class Cfg>
class LyingEngine final : public Engine<Cfg> {
  using F = typename Cfg::F;
  using K = typename Cfg::K;
  class LyingSumcheck final : public SumcheckProver<K> {
   public:
    explicit LyingSumcheck(std::unique_ptr<SumcheckProver<K>> inner) : inner_(std::move(inner)) {}
    std::array<K, 3> round() override {
      auto h = inner_->round();
      if (rounds_++ == 0) h[0] += K::one();
      return h;
    }
    void fold(K r) override { inner_->fold(r); }
    K final_value() const override { return inner_->final_value(); }

   private:
    std::unique_ptr<SumcheckProver<K>> inner_;
    int rounds_ = 0;
  };

 public:
  explicit LyingEngine(bool lie_in_square) : inner_(make_reference_engine<Cfg>()), lie_in_square_(lie_in_square) {}
  std::string name() const override { return "lying"; }
  Table2D<F> forward(const FieldLayer<F>& l, const Table2D<F>& Y, std::size_t b) override {
    return inner_->forward(l, Y, b);
  }
  Table2D<F> square(const Table2D<F>& Z) override { return inner_->square(Z); }
  std::vector<K> row_combine(const FieldLayer<F>& l, std::span<const K> e) override {
    return inner_->row_combine(l, e);
  }
  std::vector<K> col_combine(const Table2D<F>& Y, std::span<const K> e) override { return inner_->col_combine(Y, e); }
  std::unique_ptr<SumcheckProver<K>> product_sumcheck(std::vector<K> A, std::vector<K> V) override {
    auto sc = inner_->product_sumcheck(std::move(A), std::move(V));
    return lie_in_square_ ? std::move(sc) : std::make_unique<LyingSumcheck>(std::move(sc));
  }
  std::unique_ptr<SumcheckProver<K>> square_sumcheck(const Table2D<F>& Z, std::span<const K> s, std::span<const K> r,
                                                     K claim, SquareCarry<K> carry) override {
    auto sc = inner_->square_sumcheck(Z, s, r, claim, std::move(carry));
    return lie_in_square_ ? std::make_unique<LyingSumcheck>(std::move(sc)) : std::move(sc);
  }

 private:
  std::unique_ptr<Engine<Cfg>> inner_;
  bool lie_in_square_;
};

template <class Cfg>
class InteractiveTest : public ::testing::Test {};
using Configs = ::testing::Types<M61Interactive, M61, M127>;
TYPED_TEST_SUITE(InteractiveTest, Configs);

TYPED_TEST(InteractiveTest, HonestProverIsAcceptedInProcess) {
  auto rng = make_rng(70);
  auto model = testing::random_model({9, 6, 5, 3}, rng);
  auto st = testing::random_statement<TypeParam>(model, 11, rng);
  auto engine = make_cpu_engine<TypeParam>();
  std::vector<typename TypeParam::F> outputs;
  Verdict v = interactive_in_process(*engine, model, st.input, st.batch, outputs);
  EXPECT_TRUE(v.accepted) << v.failed_check;
  auto ref = make_reference_engine<TypeParam>();
  auto trace = run_forward(*ref, field_layers<typename TypeParam::F>(model), st.input, st.batch);
  EXPECT_EQ(outputs, trace_outputs(trace, model.out_dim()));
}

TYPED_TEST(InteractiveTest, LyingProverIsRejected) {
  auto rng = make_rng(71);
  auto model = testing::random_model({5, 4, 3}, rng);
  auto st = testing::random_statement<TypeParam>(model, 4, rng);
  for (bool in_square : {false, true}) {
    LyingEngine<TypeParam> liar(in_square);
    std::vector<typename TypeParam::F> outputs;
    Verdict v = interactive_in_process(liar, model, st.input, st.batch, outputs);
    EXPECT_FALSE(v.accepted);
    EXPECT_NE(v.failed_check.find(in_square ? "activation" : "matrix-product"), std::string::npos) << v.failed_check;
  }
}

TEST(Interactive, TwoProcessesOverAPipe) {
  auto rng = make_rng(72);
  auto model = testing::random_model({7, 5, 2}, rng);
  auto st = testing::random_statement<M61Interactive>(model, 9, rng);
  // The child runs the sequential reference engine: OpenMP is not fork-safe after a parallel region.
  auto engine = make_reference_engine<M61Interactive>();
  std::vector<Fp61> outputs;
  Verdict v = interactive_two_processes(*engine, model, st.input, st.batch, outputs);
  EXPECT_TRUE(v.accepted) << v.failed_check;
  EXPECT_EQ(outputs.size(), 9u * 2u);
  LyingEngine<M61Interactive> liar(true);
  EXPECT_FALSE(interactive_two_processes(liar, model, st.input, st.batch, outputs).accepted);
}

// The CLI's way: the child makes its engine after the fork (a cuda engine cannot be made before).
// A child that cannot make one is an error carrying its reason, not a rejection; a lying engine
// made there is still a rejection.
TEST(Interactive, TwoProcessesWithTheEngineMadeInTheChild) {
  auto rng = make_rng(73);
  auto model = testing::random_model({6, 4, 3}, rng);
  auto st = testing::random_statement<M61Interactive>(model, 5, rng);
  std::vector<Fp61> outputs;
  const EngineFactory<M61Interactive> reference = [] { return make_reference_engine<M61Interactive>(); };
  Verdict v = interactive_two_processes(reference, model, st.input, st.batch, outputs);
  EXPECT_TRUE(v.accepted) << v.failed_check;
  EXPECT_EQ(outputs.size(), 5u * 3u);
  const EngineFactory<M61Interactive> liar = [] { return std::make_unique<LyingEngine<M61Interactive>>(true); };
  EXPECT_FALSE(interactive_two_processes(liar, model, st.input, st.batch, outputs).accepted);
  const EngineFactory<M61Interactive> none = []() -> std::unique_ptr<Engine<M61Interactive>> {
    throw std::runtime_error("--engine cuda: no CUDA device here");
  };
  try {
    interactive_two_processes(none, model, st.input, st.batch, outputs);
    FAIL() << "expected the child's error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "prover process: --engine cuda: no CUDA device here");
  }
}

TEST(Interactive, ChallengesComeFromTheWholeField) {
  // Both coordinates of an extension challenge are drawn, and successive draws differ.
  Fp61x2 a = csprng_challenge<Fp61x2>(), b = csprng_challenge<Fp61x2>();
  EXPECT_NE(a, b);
  EXPECT_NE(a.im, Fp61::zero());
  Fp127 c = csprng_challenge<Fp127>();
  EXPECT_NE(c.v >> 64, 0u);  // high half used: probability 2^-63 of a false failure
}

}  // namespace
}  // namespace nnproof
