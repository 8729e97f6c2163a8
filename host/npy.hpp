// SPDX-License-Identifier: Apache-2.0
#pragma once
// NumPy .npy reading and writing: the array format nnproof takes inputs in and writes outputs to.
// The reader treats every file as hostile: it checks the header and the file size before it allocates.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace nnproof {

// A bad .npy file. what() is one line: "<path>: <problem>[; <fix>]".
struct NpyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// u8 and b1 (bool) are read as integers, f16 widened exactly into reals.
enum class NpyDType { f32, f64, i32, i64, u8, b1, f16 };

struct NpyArray {
  std::vector<std::size_t> shape;
  NpyDType dtype = NpyDType::f64;
  std::vector<double> reals;           // filled for f16/f32/f64 (widened exactly)
  std::vector<std::int64_t> integers;  // filled for i32/i64/u8/b1 (bool as 0 or 1)
  bool is_integer() const { return !(dtype == NpyDType::f16 || dtype == NpyDType::f32 || dtype == NpyDType::f64); }
  std::size_t size() const;  // product of shape (1 for shape ())
};

// Reads a NumPy .npy file (format versions 1.0, 2.0, 3.0). Accepts little-endian '<f2','<f4','<f8','<i4','<i8'
// and '|u1', '|b1' (datasets ship images as uint8, masks as bool; '|', '<' or '=' byte-order marks alike,
// as NumPy writes them on little-endian machines), C order only. A bool byte other than 0 or 1 is refused.
// The product of the non-zero dimensions times the item size fits in size_t, so an empty array cannot
// carry an absurd dimension such as (2**63, 0).
NpyArray read_npy(const std::string& path);
// The same for bytes in memory (a request body); `name` stands for the path in the messages.
NpyArray read_npy_bytes(std::span<const unsigned char> bytes, const std::string& name);

// A .npy file's header, checked as read_npy checks it (the data's length against the file's size
// included), without reading the data: what loading the file would hold.
struct NpyHeader {
  std::vector<std::size_t> shape;
  NpyDType dtype = NpyDType::f64;
  std::size_t item_size = 0;  // bytes a value in the file
  std::size_t count = 0;      // values
};
NpyHeader read_npy_header(const std::string& path);

// Write version 1.0 files that numpy.load reads, data aligned to 64 bytes. Throw NpyError when the shape
// does not match the data size or the file cannot be written.
void write_npy_f64(const std::string& path, const std::vector<std::size_t>& shape, std::span<const double> data);
// The bytes write_npy_f64 would write, in memory (for .npz archives).
std::vector<unsigned char> npy_bytes_f64(const std::vector<std::size_t>& shape, std::span<const double> data);
void write_npy_i64(const std::string& path, const std::vector<std::size_t>& shape, std::span<const std::int64_t> data);

}  // namespace nnproof
