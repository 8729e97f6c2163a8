// SPDX-License-Identifier: Apache-2.0
// libFuzzer: verification of mutated proofs against a fixed model and input. The property: the
// only byte strings that verify are the honest bundle itself, in each format version still read
// (version 3, and version 2, which encodes the same proof otherwise): canonical encoding + soundness.
// NNPROOF_FUZZ_WRITE_SEED=path writes that honest bundle (the seed corpus) and exits.
#include <cstdlib>
#include <fstream>
#include <random>

#include "host/prover.hpp"
#include "kernels/reference/reference_engine.hpp"
#include "tests/fuzz/fuzz_common.hpp"
#include "tests/support/models.hpp"
#include "verifier/verifier.hpp"

namespace {

struct Fixture {
  nnproof::QuantizedModel model;
  nnproof::Statement<nnproof::M61> statement;
  std::vector<unsigned char> honest, honest_v2;
  nnproof::ProofShape shape;

  Fixture() {
    std::mt19937_64 rng(7);
    model = nnproof::testing::random_model({5, 3, 4, 2}, rng, 5, 5);
    std::vector<nnproof::Fp61> input;
    for (std::size_t i = 0; i < 3 * 5; ++i)
      input.push_back(nnproof::Fp61::from_int(static_cast<std::int64_t>(rng() % 7) - 3));
    statement = nnproof::testing::make_statement<nnproof::M61>(model, 3, std::move(input));
    auto bundle = nnproof::prove_bundle(*nnproof::make_reference_engine<nnproof::M61>(), statement);
    honest = nnproof::serialize_bundle(bundle);
    nnproof::Statement<nnproof::M61> v2 = statement;
    honest_v2 = nnproof::serialize_bundle(
        nnproof::prove_bundle(*nnproof::make_reference_engine<nnproof::M61>(), v2, {}, nnproof::kOldestProofVersion));
    shape = {model.dims(), statement.batch};
    if (const char* seed = std::getenv("NNPROOF_FUZZ_WRITE_SEED")) {
      std::ofstream(seed, std::ios::binary)
          .write(reinterpret_cast<const char*>(honest.data()), static_cast<std::streamsize>(honest.size()));
      std::exit(0);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nnproof;
  static const Fixture fx;
  std::span<const unsigned char> bytes(data, size);
  try {
    ProofBundle<M61> bundle = parse_bundle<M61>(bytes, fx.shape);
    Statement<M61> st = fx.statement;
    st.outputs = bundle.outputs;
    const bool accepted = verify_bundle(st, bundle).accepted;
    const auto is = [&](const std::vector<unsigned char>& b) {
      return size == b.size() && std::equal(bytes.begin(), bytes.end(), b.begin());
    };
    const bool honest = is(fx.honest) || is(fx.honest_v2);
    if (accepted != honest) __builtin_trap();  // a forged proof verified, or the honest one failed
  } catch (const ProofFormatError&) {
  }
  return 0;
}
