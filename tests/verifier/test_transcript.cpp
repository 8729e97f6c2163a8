// SPDX-License-Identifier: Apache-2.0
// Known-answer tests for the transcript: expected values computed independently with Python's
// hashlib from the byte layout in docs/FORMAT.md (the script is in the comment below).
//
//   u64 = lambda x: struct.pack('<Q', x); s = lambda b: u64(len(b)) + b
//   init    = sha256(s(b"nnproof/v1") + s(field) + bytes([mode]))
//   absorb  = sha256(state + b'\x01' + s(label) + u64(len(data)) + data)
//   squeeze = out sha256(state + b'\x02'), next state sha256(state + b'\x03')
//   m61 challenge: (int(out[:16], little) % p, int(out[16:], little) % p); m127: int(out, little) % p
#include <gtest/gtest.h>

#include <random>

#include "core/fiat_shamir.hpp"
#include "verifier/transcript.hpp"

namespace nnproof {
namespace {

std::vector<unsigned char> counting_bytes(std::size_t n) {
  std::vector<unsigned char> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>(i);
  return v;
}

TEST(Transcript, InitialStateKnownAnswer) {
  Transcript t(FieldId::m61, 0);
  EXPECT_EQ(to_hex(t.state()), "c4068cc48e8413c7e6c161914afcbd6a3e63c1ed7e342c7f9098f14f58dd19b5");
}

TEST(Transcript, M61ChallengesKnownAnswer) {
  Transcript t(FieldId::m61, 0);
  t.absorb("statement", counting_bytes(32));
  Fp61x2 c1 = t.challenge<Fp61x2>();
  EXPECT_EQ(c1.re.v, 0xf67a9c47356f834ull);
  EXPECT_EQ(c1.im.v, 0xf79bc700c96b533ull);
  Fp61x2 msg{Fp61{1}, Fp61{2}};
  t.absorb_elements<Fp61x2>("message", std::span<const Fp61x2>(&msg, 1));
  Fp61x2 c2 = t.challenge<Fp61x2>();
  EXPECT_EQ(c2.re.v, 0xc5e6cb1825cfe70ull);
  EXPECT_EQ(c2.im.v, 0x177b444e45ce045ull);
}

TEST(Transcript, M127ChallengeKnownAnswer) {
  Transcript t(FieldId::m127, 0);
  t.absorb("statement", counting_bytes(32));
  Fp127 c = t.challenge<Fp127>();
  const u128 want = (static_cast<u128>(0xd6a2a19af859183ull) << 64) | 0x23d50421db49048full;
  EXPECT_EQ(c.v, want);
}

TEST(Transcript, EverythingAbsorbedChangesTheChallenges) {
  auto challenge_after = [](FieldId f, std::uint8_t mode, const char* label, std::vector<unsigned char> data) {
    Transcript t(f, mode);
    t.absorb(label, data);
    return t.challenge<Fp127>();
  };
  const auto base = challenge_after(FieldId::m61, 0, "statement", counting_bytes(32));
  EXPECT_NE(base, challenge_after(FieldId::m127, 0, "statement", counting_bytes(32)));  // field id
  EXPECT_NE(base, challenge_after(FieldId::m61, 1, "statement", counting_bytes(32)));   // mode
  EXPECT_NE(base, challenge_after(FieldId::m61, 0, "statemenT", counting_bytes(32)));   // label
  EXPECT_NE(base, challenge_after(FieldId::m61, 0, "statement", counting_bytes(33)));   // data
  // Length prefixes keep label/data boundaries unambiguous.
  EXPECT_NE(challenge_after(FieldId::m61, 0, "ab", {'c'}), challenge_after(FieldId::m61, 0, "a", {'b', 'c'}));
}

TEST(Transcript, SuccessiveChallengesDiffer) {
  Transcript t(FieldId::m61, 0);
  Fp61x2 a = t.challenge<Fp61x2>(), b = t.challenge<Fp61x2>();
  EXPECT_NE(a, b);
  EXPECT_NE(a.im, Fp61::zero());  // both coordinates drawn: the full extension field
}

// The host/device transcript steps (core/fiat_shamir.hpp) that an engine runs on its device equal
// the OpenSSL transcript byte for byte: SHA-256 itself over every length around the block and
// padding boundaries, then absorb / squeeze over messages of one to three elements of every K.
TEST(DeviceTranscript, Sha256EqualsOpenSslAtEveryLengthAroundTheBlocks) {
  for (std::size_t n = 0; n < 200; ++n) {
    const auto data = counting_bytes(n);
    Digest want = sha256(data), got{};
    Sha256Hd().update(data.data(), n).finish(got.data());
    ASSERT_EQ(to_hex(got), to_hex(want)) << "length " << n;
  }
}

// Long inputs go to OpenSSL in 1 KiB steps behind a prefetch (verifier/sha256.cpp): the digest of
// one update is the one-block-at-a-time implementation's at lengths around that path's threshold
// and steps, and FIPS 180-2's one million 'a's known answer.
TEST(Sha256, LongUpdatesEqualTheBlockwiseDigest) {
  for (std::size_t n : {8191u, 8192u, 8193u, 9215u, 9216u, 9217u, 10240u, 65536u + 77u, 1u << 20}) {
    const auto data = counting_bytes(n);
    Digest got{};
    Sha256Hd().update(data.data(), n).finish(got.data());
    ASSERT_EQ(to_hex(sha256(data)), to_hex(got)) << "length " << n;
    Sha256 split;  // an unaligned short update first, then the long one
    split.update(data.data(), 3).update(data.data() + 3, n - 3);
    ASSERT_EQ(to_hex(split.finish()), to_hex(got)) << "length " << n;
  }
  const std::vector<unsigned char> million_a(1000000, 'a');
  EXPECT_EQ(to_hex(sha256(million_a)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

template <class K>
void check_device_transcript(FieldId field) {
  Transcript host(field, 0);
  host.absorb("statement", counting_bytes(32));
  TranscriptState device{};
  std::copy(host.state().begin(), host.state().end(), device.bytes);
  std::mt19937_64 rng(7);
  for (unsigned round = 0; round < 12; ++round) {
    std::vector<K> message(1 + round % 3);
    for (auto& x : message) {
      unsigned char b[32];
      for (auto& c : b) c = static_cast<unsigned char>(rng());
      from_uniform_bytes(b, x);
    }
    host.absorb_elements<K>("message", message);
    absorb_message(device, message.data(), static_cast<unsigned>(message.size()));
    ASSERT_EQ(to_hex(host.state()), to_hex(std::span<const unsigned char>(device.bytes, 32))) << "round " << round;
    const K want = host.challenge<K>(), got = squeeze_challenge<K>(device);
    ASSERT_TRUE(got == want) << "round " << round;
    ASSERT_EQ(to_hex(host.state()), to_hex(std::span<const unsigned char>(device.bytes, 32))) << "round " << round;
  }
}

TEST(DeviceTranscript, StepsEqualTheOpenSslTranscriptInEveryField) {
  check_device_transcript<Fp61x2>(FieldId::m61);
  check_device_transcript<Fp127>(FieldId::m127);
  check_device_transcript<Fp61>(FieldId::m61_interactive);
}

}  // namespace
}  // namespace nnproof
