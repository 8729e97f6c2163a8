// SPDX-License-Identifier: Apache-2.0
#include "host/cli/common.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <set>

#include "host/calibrate_range.hpp"

namespace nnproof::cli {

namespace {

// What loading a .npy costs, for an out-of-memory message: its values (counted by its header, as
// the reader checks it) as read (8 bytes each) and as exact integers (8 more). 0 when the input is
// not a readable .npy file (an array handed over by the Python package).
std::size_t npy_load_bytes(const std::string& path) {
  try {
    return read_npy_header(path).count * 16;
  } catch (const NpyError&) {
    return 0;
  }
}

// The model is read and quantized before the input is read: a bad model (or scales) is reported
// first, whichever way the input arrives.
template <class ReadInput>
Problem load(const std::string& model_path, const ScaleChoice& scales, const std::string& input_name,
             ReadInput read_input) {
  Problem p;
  p.float_model = import_onnx(model_path);
  p.model = quantize_model(p.float_model, scales);
  p.model_digest = model_digest(p.model);
  try {
    const NpyArray& x = read_input();
    // One line, not an error: the scales were chosen for the calibration range (nnproof.input_range).
    if (auto warning = input_range_warning(x, input_name, p.float_model))
      std::fprintf(stderr, "%s\n", warning->c_str());
    p.input = quantize_input(x, input_name, p.model);
    p.batch = x.shape[0];
  } catch (const std::bad_alloc&) {
    // The client's own resources (exit 2): the whole input is loaded before any chunk is proved.
    const std::size_t need = npy_load_bytes(input_name);
    throw UsageError("out of memory: loading " + input_name +
                     (need ? " needs about " + std::to_string(need >> 20) + " MiB (16 bytes a value) and" : "") +
                     " this process could not get it; split the input into smaller files (--max-memory bounds "
                     "the proof, not the loaded input)");
  }
  return p;
}

}  // namespace

Problem load_problem(const std::string& model_path, const std::string& input_path, const ScaleChoice& scales) {
  NpyArray x;
  return load(model_path, scales, input_path, [&]() -> const NpyArray& { return x = read_npy(input_path); });
}

Problem load_problem(const std::string& model_path, const std::function<NpyArray()>& read_input,
                     const std::string& input_name, const ScaleChoice& scales) {
  NpyArray x;
  return load(model_path, scales, input_name, [&]() -> const NpyArray& { return x = read_input(); });
}

FieldId parse_field(const std::string& name) {
  for (FieldId id : {FieldId::m61, FieldId::m127, FieldId::m61_interactive})
    if (name == field_name(id)) return id;
  throw UsageError("unknown field '" + name + "'; use m61, m127 or (interactive only) m61-interactive");
}

std::optional<FieldId> parse_field_flag(const std::string& flag, bool interactive) {
  if (flag.empty()) return std::nullopt;
  const FieldId id = parse_field(flag);
  if (id == FieldId::m61_interactive && !interactive)
    throw UsageError(
        "--field m61-interactive is for interactive mode only (nnproof interactive): proof files need >= 100 bits; "
        "use m61 or m127");
  return id;
}

FieldId choose_field(const std::string& flag, const FloatModel& model, bool interactive) {
  if (auto id = parse_field_flag(flag, interactive)) return *id;
  return model.field.value_or(FieldId::m61);
}

namespace {

// centered / s_Z(L), then the model's final op, of outputs as centered integers (i128 or the
// field elements' centered()).
template <class Centered>
std::vector<double> dequantize_centered(const QuantizedModel& model, std::size_t count, Centered centered) {
  const double scale = model.output_scale();
  const std::size_t n = model.out_dim();
  std::vector<double> y(count);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<double>(centered(i)) / scale;
  if (model.final_op == FinalOp::none) return y;
  for (std::size_t k = 0; k < y.size() / n; ++k) {  // a numerically stable (log-)softmax per sample
    double* row = y.data() + k * n;
    double mx = row[0], sum = 0;
    for (std::size_t o = 1; o < n; ++o) mx = std::max(mx, row[o]);
    for (std::size_t o = 0; o < n; ++o) sum += std::exp(row[o] - mx);
    for (std::size_t o = 0; o < n; ++o)
      row[o] = model.final_op == FinalOp::softmax ? std::exp(row[o] - mx) / sum : row[o] - mx - std::log(sum);
  }
  return y;
}

}  // namespace

template <class F>
std::vector<double> dequantize_outputs(const QuantizedModel& model, const std::vector<F>& outputs) {
  return dequantize_centered(model, outputs.size(), [&](std::size_t i) { return outputs[i].centered(); });
}

std::vector<double> dequantize_outputs(const QuantizedModel& model, const std::vector<i128>& outputs) {
  return dequantize_centered(model, outputs.size(), [&](std::size_t i) { return outputs[i]; });
}

template std::vector<double> dequantize_outputs(const QuantizedModel&, const std::vector<Fp61>&);
template std::vector<double> dequantize_outputs(const QuantizedModel&, const std::vector<Fp127>&);

ProgressFn terminal_progress() {
  if (!::isatty(STDERR_FILENO)) return {};
  return [](const std::string& stage) { std::fprintf(stderr, "\r\033[K%s", stage.c_str()); };
}

std::string to_decimal(i128 x) {
  if (x == 0) return "0";
  const bool neg = x < 0;
  u128 m = neg ? static_cast<u128>(-(x + 1)) + 1 : static_cast<u128>(x);
  std::string s;
  for (; m; m /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
  return neg ? "-" + s : s;
}

std::vector<unsigned char> read_file_prefix(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot open: " + std::strerror(errno));
  // Never more than the file holds: max_bytes is a bound (from the client's model), not a size.
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end >= 0) max_bytes = std::min(max_bytes, static_cast<std::size_t>(end));
  std::vector<unsigned char> buf(max_bytes);
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(max_bytes));
  buf.resize(static_cast<std::size_t>(in.gcount()));
  return buf;
}

void check_proof_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);  // before opening: a FIFO could block forever
  if (ec) throw UsageError(path + ": cannot open: " + ec.message() + "; check the proof's path");
  if (!fs::is_regular_file(st)) throw UsageError(path + ": not a regular file; give the proof file's path");
  if (::access(path.c_str(), R_OK) != 0)
    throw UsageError(path + ": cannot read: " + std::strerror(errno) + "; check its permissions");
}

namespace {

std::string directory_of(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// The mode a newly created file gets (0666 less the umask), for the temporaries mkstemp makes 0600.
mode_t new_file_mode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); !from.empty() && at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

}  // namespace

void check_output_path(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  if (path.empty()) return;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::is_directory(st)) throw UsageError(flag + " " + path + ": is a directory; give a file name");
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw UsageError(flag + " " + path +
                     ": is not a regular file; nnproof writes files atomically (a temporary file renamed onto the "
                     "path), so give a file name");
  const std::string dir = directory_of(path);
  if (!fs::is_directory(dir, ec))
    throw UsageError(flag + " " + path + ": the directory " + dir +
                     " does not exist; create it or choose another path");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError(flag + " " + path + ": cannot write in " + dir + " (" + std::strerror(errno) +
                     "); choose another path");
}

OutputFiles::OutputFiles(const std::vector<std::pair<std::string, std::string>>& paths) {
  std::set<std::string> seen;
  for (const auto& [path, flag] : paths) {
    if (path.empty()) continue;
    check_output_path(path, flag);
    std::error_code ec;
    std::string key = std::filesystem::weakly_canonical(path, ec).string();
    if (ec) key = path;
    if (!seen.insert(key).second) throw UsageError(flag + " " + path + ": the same file is given for two outputs");
  }
}

OutputFiles::~OutputFiles() {
  for (const auto& [path, tmp] : staged_) std::remove(tmp.c_str());
}

void OutputFiles::stage(const std::string& path, const std::function<void(const std::string& tmp)>& write) {
  const std::string dir = directory_of(path);
  std::string tmp = dir + "/." + std::filesystem::path(path).filename().string() + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw UsageError(path + ": cannot write in " + dir + " (" + std::strerror(errno) + "); choose another path");
  ::close(fd);
  try {
    write(tmp);
    // The contents on disk before the name: a crash leaves the old file or the new one, never half.
    const int sync_fd = ::open(tmp.c_str(), O_RDONLY);
    const bool synced = sync_fd >= 0 && ::fsync(sync_fd) == 0;
    if (sync_fd >= 0) ::close(sync_fd);
    if (!synced || ::chmod(tmp.c_str(), new_file_mode()) != 0)
      throw UsageError(tmp + ": cannot write: " + std::strerror(errno));
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    std::string why = replace_all(e.what(), tmp, path);
    if (why.rfind(path, 0) != 0) why = path + ": " + why;
    throw UsageError(why);
  }
  staged_.emplace_back(path, std::move(tmp));
}

void OutputFiles::stage_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  stage(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw UsageError(tmp + ": cannot write: " + std::strerror(errno));
  });
}

void OutputFiles::commit() {
  std::vector<std::pair<std::string, std::string>> staged;
  staged.swap(staged_);
  for (std::size_t i = 0; i < staged.size(); ++i) {
    if (std::rename(staged[i].second.c_str(), staged[i].first.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      for (std::size_t k = i; k < staged.size(); ++k) std::remove(staged[k].second.c_str());
      throw UsageError(staged[i].first + ": cannot write: " + why);
    }
  }
}

void write_file(const std::string& path, const std::vector<unsigned char>& bytes) {
  OutputFiles files({{path, "output"}});
  files.stage_bytes(path, bytes);
  files.commit();
}

}  // namespace nnproof::cli
