// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <span>
#include <sstream>

#include "host/npy.hpp"

namespace nnproof {
namespace {

namespace fs = std::filesystem;

// --- byte builders: files exactly as numpy 1.x np.save writes them ---

template <class T>
std::string le_bytes(const std::vector<T>& values) {
  std::string out;
  for (T v : values) {
    std::uint64_t bits;
    if constexpr (sizeof(T) == 4)
      bits = std::bit_cast<std::uint32_t>(v);
    else
      bits = std::bit_cast<std::uint64_t>(v);
    for (std::size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>(bits >> (8 * i));
  }
  return out;
}

// Preamble + dict + space padding + '\n' so that the data starts at a multiple of 64, as numpy does.
// version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
std::string npy_file(const std::string& dict, const std::string& data, int version = 1) {
  const std::size_t len_width = version == 1 ? 2 : 4;
  std::string header = dict;
  const std::size_t unpadded = 8 + len_width + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  for (std::size_t i = 0; i < len_width; ++i) out += static_cast<char>(header.size() >> (8 * i));
  return out + header + data;
}

std::string dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("nnproof_test_npy_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string put(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // read_npy(p) must throw an NpyError whose one-line message names the file and contains each word.
  static void expect_rejected(const std::string& p, std::initializer_list<const char*> words) {
    try {
      read_npy(p);
      ADD_FAILURE() << p << ": was accepted";
    } catch (const NpyError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(p + ": ", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      for (const char* w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' not in: " << msg;
    }
  }
  fs::path dir_;
};

// --- writers and round trips ---

TEST_F(NpyTest, RoundTripF64) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::vector<std::size_t>> shapes = {{}, {1}, {7}, {0}, {0, 4}, {4, 0}, {2, 3}, {2, 3, 4}};
  for (const auto& shape : shapes) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<double> data(n);
    const double specials[] = {0.0, -0.0, 1.5, -inf, inf, 5e-324, std::numeric_limits<double>::max(), 0.1};
    for (std::size_t i = 0; i < n; ++i) data[i] = specials[i % 8] + (i >= 8 ? double(i) : 0.0);
    const std::string p = path("f64.npy");
    write_npy_f64(p, shape, data);
    const NpyArray a = read_npy(p);
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.dtype, NpyDType::f64);
    EXPECT_FALSE(a.is_integer());
    EXPECT_EQ(a.size(), n);
    EXPECT_TRUE(a.integers.empty());
    ASSERT_EQ(a.reals.size(), n);
    for (std::size_t i = 0; i < n; ++i)
      EXPECT_EQ(std::bit_cast<std::uint64_t>(a.reals[i]), std::bit_cast<std::uint64_t>(data[i])) << i;
  }
}

// read_npy_header: the shape, dtype and count read_npy would load, from the header alone, with the
// reader's own checks (a file whose data is not the header's length is refused the same way).
TEST_F(NpyTest, HeaderAloneGivesWhatReadingWouldHold) {
  const std::string f32 = put("f32.npy", npy_file(dict("<f4", "(2, 3)"), le_bytes(std::vector<float>(6, 1.5f))));
  const NpyHeader h = read_npy_header(f32);
  EXPECT_EQ(h.shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(h.dtype, NpyDType::f32);
  EXPECT_EQ(h.item_size, 4u);
  EXPECT_EQ(h.count, read_npy(f32).size());
  const std::string u8 = put("u8.npy", npy_file(dict("|u1", "(5,)"), std::string(5, '\1'), 2));
  EXPECT_EQ(read_npy_header(u8).count, 5u);
  EXPECT_EQ(read_npy_header(u8).item_size, 1u);
  const std::string trunc = put("t.npy", npy_file(dict("<i8", "(4,)"), le_bytes(std::vector<std::int64_t>(3, 7))));
  for (auto read :
       {+[](const std::string& p) { (void)read_npy_header(p); }, +[](const std::string& p) { (void)read_npy(p); }}) {
    try {
      read(trunc);
      ADD_FAILURE() << "a truncated file was accepted";
    } catch (const NpyError& e) {
      EXPECT_NE(std::string(e.what()).find("truncated: header says 4 elements"), std::string::npos) << e.what();
    }
    EXPECT_THROW(read(path("missing.npy")), NpyError);
  }
}

TEST_F(NpyTest, RoundTripNaNKeepsBits) {
  const std::vector<double> data = {std::numeric_limits<double>::quiet_NaN()};
  write_npy_f64(path("nan.npy"), {1}, data);
  EXPECT_TRUE(std::isnan(read_npy(path("nan.npy")).reals.at(0)));
}

TEST_F(NpyTest, RoundTripI64) {
  const std::vector<std::vector<std::size_t>> shapes = {{}, {1}, {5}, {0}, {0, 3}, {3, 2}, {2, 2, 2}};
  for (const auto& shape : shapes) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<std::int64_t> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = (i % 2 ? -1 : 1) * std::int64_t(i * 1000003);
    if (n >= 2) {
      data[0] = std::numeric_limits<std::int64_t>::min();
      data[1] = std::numeric_limits<std::int64_t>::max();
    }
    const std::string p = path("i64.npy");
    write_npy_i64(p, shape, data);
    const NpyArray a = read_npy(p);
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.dtype, NpyDType::i64);
    EXPECT_TRUE(a.is_integer());
    EXPECT_TRUE(a.reals.empty());
    EXPECT_EQ(a.integers, data);
  }
}

TEST_F(NpyTest, RoundTripLargerThanOneChunk) {
  std::vector<double> data(200001);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = double(i) * 0.25;
  write_npy_f64(path("big.npy"), {data.size()}, data);
  EXPECT_EQ(read_npy(path("big.npy")).reals, data);
}

TEST_F(NpyTest, WriterMatchesNumpyBytes) {
  // np.save(f, np.arange(6, dtype='<f8').reshape(2, 3)) writes exactly this.
  const std::vector<double> data = {0, 1, 2, 3, 4, 5};
  write_npy_f64(path("w.npy"), {2, 3}, data);
  const std::string expected = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                               "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') +
                               "\n" + le_bytes(data);
  EXPECT_EQ(slurp(path("w.npy")), expected);

  // 1-d shapes carry the trailing comma; 0-d is ().
  const std::vector<std::int64_t> one = {7};
  write_npy_i64(path("w1.npy"), {1}, one);
  EXPECT_NE(slurp(path("w1.npy")).find("'descr': '<i8', 'fortran_order': False, 'shape': (1,), }"), std::string::npos);
  write_npy_i64(path("w0.npy"), {}, one);
  EXPECT_NE(slurp(path("w0.npy")).find("'shape': (), }"), std::string::npos);
}

TEST_F(NpyTest, WriterAlignsDataTo64) {
  for (const std::vector<std::size_t>& shape :
       {std::vector<std::size_t>{}, {3}, {123456789, 0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0}}) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    write_npy_f64(path("a.npy"), shape, std::vector<double>(n, 1.0));
    const std::string bytes = slurp(path("a.npy"));
    ASSERT_GE(bytes.size(), 10u);
    const std::size_t header_len = std::uint8_t(bytes[8]) | (std::size_t(std::uint8_t(bytes[9])) << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u);
    EXPECT_EQ(bytes[10 + header_len - 1], '\n');
    EXPECT_EQ(read_npy(path("a.npy")).shape, shape);
  }
}

TEST_F(NpyTest, WriterRejectsShapeMismatchAndBadPath) {
  const std::vector<double> five(5);
  EXPECT_THROW(write_npy_f64(path("m.npy"), {2, 3}, five), NpyError);
  const std::string bad = path("no_such_dir/x.npy");
  try {
    write_npy_f64(bad, {5}, five);
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ": cannot write"), std::string::npos) << e.what();
  }
}

// --- files as numpy writes them ---

TEST_F(NpyTest, ReadsNumpyF32WidenedExactly) {
  const std::vector<float> v = {0.0f, 1.0f, -2.5f, 0.1f, 3.4028235e38f, 1e-45f};
  const std::string p = put("f4.npy", npy_file(dict("<f4", "(2, 3)"), le_bytes(v)));
  ASSERT_EQ(slurp(p).size(), 128u + 24u);  // numpy's header for this array is 118 bytes
  const NpyArray a = read_npy(p);
  EXPECT_EQ(a.dtype, NpyDType::f32);
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));
  ASSERT_EQ(a.reals.size(), 6u);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(a.reals[i], static_cast<double>(v[i]));
}

TEST_F(NpyTest, ReadsNumpyI32AndI64) {
  const std::vector<std::int32_t> v32 = {1, -2, std::numeric_limits<std::int32_t>::min()};
  NpyArray a = read_npy(put("i4.npy", npy_file(dict("<i4", "(3,)"), le_bytes(v32))));
  EXPECT_EQ(a.dtype, NpyDType::i32);
  EXPECT_EQ(a.shape, std::vector<std::size_t>{3});
  EXPECT_EQ(a.integers, (std::vector<std::int64_t>{1, -2, std::numeric_limits<std::int32_t>::min()}));

  const std::vector<std::int64_t> v64 = {1, -2, 3, std::numeric_limits<std::int64_t>::min()};
  a = read_npy(put("i8.npy", npy_file(dict("<i8", "(2, 2)"), le_bytes(v64))));
  EXPECT_EQ(a.dtype, NpyDType::i64);
  EXPECT_EQ(a.integers, v64);
}

// Datasets ship images as uint8 and masks as bool; mixed-precision exports write float16.
TEST_F(NpyTest, ReadsUint8AndBoolAsIntegers) {
  const std::string u8 = {0, 1, 127, static_cast<char>(128), static_cast<char>(255), 7};
  NpyArray a = read_npy(put("u1.npy", npy_file(dict("|u1", "(2, 3)"), u8)));
  EXPECT_EQ(a.dtype, NpyDType::u8);
  EXPECT_TRUE(a.is_integer());
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(a.integers, (std::vector<std::int64_t>{0, 1, 127, 128, 255, 7}));

  a = read_npy(put("b1.npy", npy_file(dict("|b1", "(3,)"), std::string("\x01\x00\x01", 3))));
  EXPECT_EQ(a.dtype, NpyDType::b1);
  EXPECT_EQ(a.integers, (std::vector<std::int64_t>{1, 0, 1}));
  const std::string p = put("b2.npy", npy_file(dict("|b1", "(2,)"), std::string("\x01\x02", 2)));
  expect_rejected(p, {"bool array holds the byte 2", "not 0 or 1"});
}

TEST_F(NpyTest, ReadsFloat16WidenedExactly) {
  // 1, -2, 0.5 + 2^-11, the largest half, the smallest subnormal 2^-24, -0, +inf, a NaN.
  const std::vector<std::uint16_t> bits = {0x3c00, 0xc000, 0x3801, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00};
  std::string raw;
  for (auto b : bits) raw += {static_cast<char>(b & 0xff), static_cast<char>(b >> 8)};
  const NpyArray a = read_npy(put("f2.npy", npy_file(dict("<f2", "(8,)"), raw)));
  EXPECT_EQ(a.dtype, NpyDType::f16);
  EXPECT_FALSE(a.is_integer());
  ASSERT_EQ(a.reals.size(), 8u);
  EXPECT_EQ(a.reals[0], 1.0);
  EXPECT_EQ(a.reals[1], -2.0);
  EXPECT_EQ(a.reals[2], 0.5 + std::ldexp(1.0, -11));
  EXPECT_EQ(a.reals[3], 65504.0);
  EXPECT_EQ(a.reals[4], std::ldexp(1.0, -24));
  EXPECT_EQ(a.reals[5], 0.0);
  EXPECT_TRUE(std::signbit(a.reals[5]));
  EXPECT_EQ(a.reals[6], std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(a.reals[7]));
  // '=' and '|' marks as for the other types.
  EXPECT_EQ(read_npy(put("f2eq.npy", npy_file(dict("=f2", "(1,)"), raw.substr(0, 2)))).reals[0], 1.0);
}

TEST_F(NpyTest, ReadsVersion2And3) {
  // numpy.lib.format.write_array(f, a, version=(2, 0)) for a = [[1, 2], [3, 4]] int64: header length 0x74.
  const std::vector<std::int64_t> v = {1, 2, 3, 4};
  const std::string v2 = npy_file(dict("<i8", "(2, 2)"), le_bytes(v), 2);
  ASSERT_EQ(v2.substr(0, 12), std::string("\x93NUMPY\x02\x00t\x00\x00\x00", 12));
  EXPECT_EQ(read_npy(put("v2.npy", v2)).integers, v);

  const std::vector<double> d = {1.5};
  EXPECT_EQ(read_npy(put("v3.npy", npy_file(dict("<f8", "(1,)"), le_bytes(d), 3))).reals, d);
}

TEST_F(NpyTest, ReadsScalarAndEmpty) {
  const std::vector<double> d = {2.5};
  NpyArray a = read_npy(put("s.npy", npy_file(dict("<f8", "()"), le_bytes(d))));
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(a.reals, d);

  a = read_npy(put("e.npy", npy_file(dict("<f8", "(0, 5)"), "")));
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{0, 5}));
  EXPECT_EQ(a.size(), 0u);
  EXPECT_TRUE(a.reals.empty());
}

TEST_F(NpyTest, AcceptsNativeByteOrderMarksAndOtherSpacing) {
  const std::vector<double> d = {1, 2, 3};
  EXPECT_EQ(read_npy(put("eq.npy", npy_file(dict("=f8", "(3,)"), le_bytes(d)))).reals, d);
  EXPECT_EQ(read_npy(put("bar.npy", npy_file(dict("|f8", "(3,)"), le_bytes(d)))).reals, d);
  // Other key order, double quotes, no trailing comma, odd spacing, Python 2 long suffix.
  const std::string odd = "{ \"shape\" :( 3L ,) ,\"fortran_order\":False,\t\"descr\":\"<f8\"}";
  EXPECT_EQ(read_npy(put("odd.npy", npy_file(odd, le_bytes(d)))).reals, d);
}

// --- hostile input ---

TEST_F(NpyTest, RejectsBadMagic) {
  expect_rejected(put("zip.npy", "PK\x03\x04 this is a zip file, maybe an .npz"), {"not a .npy file", "magic"});
  expect_rejected(put("empty.npy", ""), {"not a .npy file"});
  expect_rejected(put("short.npy", "\x93NUM"), {"not a .npy file"});
}

TEST_F(NpyTest, RejectsUnknownVersion) {
  std::string f = npy_file(dict("<f8", "(1,)"), le_bytes(std::vector<double>{1}));
  f[6] = 4;
  expect_rejected(put("v4.npy", f), {"version 4.0"});
  f[6] = 1;
  f[7] = 1;
  expect_rejected(put("v11.npy", f), {"version 1.1"});
}

TEST_F(NpyTest, RejectsUnsupportedDtypes) {
  const std::string fix = "save float16, float32, float64, int32, int64, uint8 or bool in little-endian order";
  for (const char* descr : {">f8", ">f2", "|i1", "<u2", "<u4", "<c16", "|O", "f8", "<f8 "}) {
    const std::string p = put("dt.npy", npy_file(dict(descr, "(1,)"), std::string(8, '\0')));
    expect_rejected(p, {"dtype", "not supported", fix.c_str()});
  }
  try {
    read_npy(put("be.npy", npy_file(dict(">f4", "(2,)"), std::string(8, '\0'))));
  } catch (const NpyError& e) {
    EXPECT_EQ(std::string(e.what()), path("be.npy") + ": dtype '>f4' is not supported; " + fix);
  }
  const std::string structured = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }";
  expect_rejected(put("st.npy", npy_file(structured, std::string(4, '\0'))), {"structured", "not supported"});
}

TEST_F(NpyTest, RejectsFortranOrder) {
  const std::string p = put("fo.npy", npy_file(dict("<f8", "(2, 2)", "True"), std::string(32, '\0')));
  expect_rejected(p, {"fortran_order", "np.ascontiguousarray"});
}

TEST_F(NpyTest, RejectsTruncatedAndTrailingData) {
  const std::string p = put("tr.npy", npy_file(dict("<f4", "(12,)"), std::string(40, '\0')));
  try {
    read_npy(p);
    ADD_FAILURE();
  } catch (const NpyError& e) {
    EXPECT_EQ(std::string(e.what()), p + ": truncated: header says 12 elements (48 bytes) but 40 bytes follow");
  }
  expect_rejected(put("tl.npy", npy_file(dict("<f4", "(12,)"), std::string(49, '\0'))),
                  {"trailing bytes", "48 bytes", "49 bytes"});
  expect_rejected(put("t0.npy", npy_file(dict("<i8", "(0,)"), "x")), {"trailing bytes"});
}

TEST_F(NpyTest, RejectsTruncatedHeader) {
  const std::string whole = npy_file(dict("<f8", "(1,)"), le_bytes(std::vector<double>{1}));
  expect_rejected(put("h50.npy", whole.substr(0, 50)), {"truncated header"});
  expect_rejected(put("h7.npy", whole.substr(0, 7)), {"truncated header"});
  expect_rejected(put("h9.npy", whole.substr(0, 9)), {"truncated header"});
  expect_rejected(put("v2h.npy", npy_file(dict("<f8", "(1,)"), "", 2).substr(0, 11)), {"truncated header"});
}

TEST_F(NpyTest, RejectsHugeHeaderLength) {
  // Version 2.0 with a 4 GiB header length: refused from the length field alone.
  std::string f = std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + dict("<f8", "(1,)");
  expect_rejected(put("hh.npy", f), {"header length 4294967295", "limit"});
  // Just over 64 KiB, and really that long.
  const std::size_t len = 64 * 1024 + 1;
  f = std::string("\x93NUMPY\x02\x00", 8) + char(len & 0xff) + char((len >> 8) & 0xff) + char(len >> 16) + '\0' +
      dict("<f8", "(1,)");
  f.resize(12 + len, ' ');
  expect_rejected(put("h64.npy", f), {"header length 65537", "limit"});
}

TEST_F(NpyTest, RejectsOverflowingShapes) {
  expect_rejected(put("of.npy", npy_file(dict("<f8", "(4294967296, 4294967296, 16)"), "")), {"too large", "overflow"});
  expect_rejected(put("of2.npy", npy_file(dict("<f4", "(4611686018427387904,)"), "")), {"too large"});
  expect_rejected(put("of3.npy", npy_file(dict("<f8", "(99999999999999999999999,)"), "")), {"too large"});
  // An empty array still may not carry a dimension no real array could have.
  expect_rejected(put("of4.npy", npy_file(dict("<f8", "(9223372036854775808, 0)"), "")), {"too large"});
}

TEST_F(NpyTest, HugeClaimWithTinyFileFailsWithoutAllocating) {
  // 10^12 float64 = 8 TB: if the reader allocated first it would die with bad_alloc, not NpyError.
  const std::string p = put("huge.npy", npy_file(dict("<f8", "(1000000, 1000000)"), std::string(16, '\0')));
  expect_rejected(p, {"truncated", "1000000000000 elements", "16 bytes follow"});
}

TEST_F(NpyTest, RejectsMalformedDict) {
  const std::string data(8, '\0');
  const std::pair<const char*, const char*> cases[] = {
      {"{'descr': '<f8', 'fortran_order': False, }", "missing key 'shape'"},
      {"{'fortran_order': False, 'shape': (1,), }", "missing key 'descr'"},
      {"{'descr': '<f8', 'shape': (1,), }", "missing key 'fortran_order'"},
      {"hello, world", "malformed header"},
      {"", "malformed header"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", "appears twice"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} junk", "after the closing"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", "malformed header"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': [1]}", "malformed header"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,,)}", "malformed header"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1 2)}", "malformed header"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,", "malformed header"},
      {"{'descr': '<f8', 'fortran_order': no, 'shape': (1,)}", "True or False"},
      {"{'descr': '<f8, 'fortran_order': False, 'shape': (1,)}", "malformed header"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,)", "malformed header"},
      {"{'descr': '<f\\x38', 'fortran_order': False, 'shape': (1,)}", "malformed header"},
      {"{'descr': '<f8' 'fortran_order': False, 'shape': (1,)}", "malformed header"},
      {"{'descr': '\xff', 'fortran_order': False, 'shape': (1,)}", "malformed header"},
  };
  int i = 0;
  for (const auto& [text, word] : cases) {
    SCOPED_TRACE(text);
    expect_rejected(put("bad" + std::to_string(i++) + ".npy", npy_file(text, data)), {word});
  }
  // A NUL inside the header.
  expect_rejected(
      put("nul.npy", npy_file(std::string("{'descr': '<f\0', 'fortran_order': False, 'shape': (1,)}", 55), data)),
      {"malformed header"});
}

TEST_F(NpyTest, RejectsTooManyDimensions) {
  std::string shape = "(";
  for (int i = 0; i < 65; ++i) shape += "1, ";
  expect_rejected(put("dims.npy", npy_file(dict("<f8", shape + ")"), std::string(8, '\0'))), {"dimensions"});
}

TEST_F(NpyTest, RejectsMissingFileAndDirectory) {
  const std::string p = path("does_not_exist.npy");
  try {
    read_npy(p);
    ADD_FAILURE();
  } catch (const NpyError& e) {
    EXPECT_EQ(std::string(e.what()), p + ": cannot open: No such file or directory");
  }
  expect_rejected(dir_.string(), {"cannot open", "not a regular file"});
}

TEST_F(NpyTest, CorruptedFilesNeverCrash) {
  // Every prefix and many single-byte corruptions of a valid file: each read either succeeds or throws
  // NpyError (run under -fsanitize=address,undefined to make this meaningful).
  const std::string good = npy_file(dict("<f4", "(2, 3)"), le_bytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  const std::string p = path("fuzz.npy");
  auto probe = [&](const std::string& bytes) {
    put("fuzz.npy", bytes);
    try {
      const NpyArray a = read_npy(p);
      EXPECT_EQ(a.size(), a.is_integer() ? a.integers.size() : a.reals.size());
    } catch (const NpyError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  for (std::size_t n = 0; n < good.size(); ++n) probe(good.substr(0, n));
  const char values[] = {'\0', '\x7f', '\xff', ' ', ',', ')', '(', '}', '\'', '9', 'L', '>'};
  for (std::size_t i = 0; i < good.size() - 24; ++i)
    for (char v : values) {
      std::string bad = good;
      bad[i] = v;
      probe(bad);
    }
}

// read_npy_bytes (a request body of nnproof serve) is read_npy's parser on memory: for every prefix
// and corruption of a valid file both accept with the same array or refuse with the same message,
// the name in place of the path.
TEST_F(NpyTest, BytesInMemoryReadAsTheSameFile) {
  const std::string good = npy_file(dict("<f4", "(2, 3)"), le_bytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  const std::string p = path("same.npy");
  auto outcome = [](auto&& read, const std::string& name) {
    try {
      const NpyArray a = read();
      std::ostringstream out;
      out << "ok " << a.shape.size() << " " << a.size() << " ";
      for (double v : a.reals) out << v << ",";
      for (std::int64_t v : a.integers) out << v << ",";
      return out.str();
    } catch (const NpyError& e) {
      std::string what = e.what();
      EXPECT_EQ(what.rfind(name, 0), 0u) << what;  // the message names the file or the body
      return "error" + what.substr(name.size());
    }
  };
  auto compare = [&](const std::string& bytes) {
    put("same.npy", bytes);
    const std::span<const unsigned char> mem(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    EXPECT_EQ(outcome([&] { return read_npy(p); }, p), outcome([&] { return read_npy_bytes(mem, "body"); }, "body"));
  };
  for (std::size_t n = 0; n <= good.size(); ++n) compare(good.substr(0, n));
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = '\x7f';
    compare(bad);
  }
  compare(good + "x");
}

}  // namespace
}  // namespace nnproof
