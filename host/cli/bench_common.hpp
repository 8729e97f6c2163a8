// SPDX-License-Identifier: Apache-2.0
#pragma once
// What nnproof bench's inference and training modes share: options, list parsing, timing.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "host/cli/common.hpp"

namespace nnproof::cli {

struct BenchOptions {
  std::string arch = "1845,2000,2000,2000,183", batches = "64,512,2048", engine = "auto";
  std::string field;  // empty: m61, or with --model the model's own (choose_field)
  std::string model;  // bench --model: an ONNX file instead of --arch's synthetic network
  int threads = 0, repeat = 1;
  // Verifications per measurement (0: --repeat). A client checks proofs back to back; on a shared
  // machine many short verifies find a quiet stretch where five do not.
  int verify_repeat = 0;
  int input_bits = 8;  // the input's values in +-(2^(input_bits-1) - 1), as a quantized input's are
  std::uint64_t seed = 1;
  bool json = false;
  bool training = false;  // bench --training: the exact gradient and its proof
};

inline std::vector<std::size_t> parse_list(const std::string& s, const char* flag) {
  std::vector<std::size_t> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t pos = 0;
      long long x = std::stoll(item, &pos);
      if (pos != item.size() || x <= 0 || x > (1ll << 24)) throw std::invalid_argument("range");
      v.push_back(static_cast<std::size_t>(x));
    } catch (const std::exception&) {
      throw UsageError(std::string(flag) + ": '" + item + "' is not a positive integer; use e.g. " + flag + " 64,512");
    }
  }
  if (v.empty()) throw UsageError(std::string(flag) + " is empty");
  return v;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// With NNPROOF_STAGES set, a progress function that prints each stage a proof starts (seconds
// since t0, then the stage) to stderr, to see where a proof's time goes; else none.
inline ProgressFn stage_printer(std::chrono::steady_clock::time_point t0) {
  if (!std::getenv("NNPROOF_STAGES")) return {};
  return [t0](const std::string& stage) { fmt::print(stderr, "{:9.4f} {}\n", seconds_since(t0), stage); };
}

// CPU seconds of every thread of this process so far.
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The fastest of several runs: the least disturbed by whatever else the machine is doing. Also the
// least process CPU time of the runs, all threads together: the work itself on a machine shared
// with other jobs (with OMP_WAIT_POLICY=passive, threads waiting at a barrier add none).
struct BestTime {
  double seconds = 1e300;
  double cpu_seconds = 1e300;
  template <class Fn>
  void run(Fn&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_seconds();
    fn();
    seconds = std::min(seconds, seconds_since(t0));
    cpu_seconds = std::min(cpu_seconds, process_cpu_seconds() - c0);
  }
};

inline std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// One column of bench's human-readable table (without --json), after the batch: result `key` as a
// real with `precision` digits, divided by result `over` where set (a ratio), or as an integer where
// precision < 0, right-aligned in `width` characters under `label`.
struct BenchColumn {
  const char* label;
  const char* key;
  int width;
  int precision = -1;
  const char* over = nullptr;
};

// The table's title (what ran where) and its column labels.
inline void print_bench_header(std::string_view title_prefix, std::string_view engine, int threads,
                               std::string_view field, const std::vector<BenchColumn>& columns) {
  std::string line = fmt::format("{}engine {} on {} ({} threads), field {}\n{:>6}", title_prefix, engine, cpu_name(),
                                 threads, field, "batch");
  for (const BenchColumn& c : columns) line += fmt::format(" {:>{}}", c.label, c.width);
  fmt::print("{}\n", line);
}

// One batch's row of the table from its JSON result `r`.
inline void print_bench_row(std::size_t batch, const nlohmann::json& r, const std::vector<BenchColumn>& columns) {
  std::string line = fmt::format("{:>6}", batch);
  for (const BenchColumn& c : columns) {
    if (c.precision < 0) {
      line += fmt::format(" {:>{}}", static_cast<std::size_t>(r[c.key]), c.width);
      continue;
    }
    double v = static_cast<double>(r[c.key]);
    if (c.over) v /= static_cast<double>(r[c.over]);
    line += fmt::format(" {:>{}.{}f}", v, c.width, c.precision);
  }
  fmt::print("{}\n", line);
}

// bench --training (bench_training.cpp).
int run_training_bench(const BenchOptions& o);

}  // namespace nnproof::cli
