#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/core/option_range.h"
#include "simtune/text/tokenizer.h"

namespace simtune::cli {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// JSON has no NaN or infinity; null is what JSON encoders (nlohmann, JavaScript) write for them.
void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

std::string npy_bytes(const Matrix& m) {
  // NPY v1.0: magic, version, u16 header length, a Python dict literal padded so the data
  // starts on a 64-byte boundary, then raw little-endian float32 rows.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(m.rows) + ", " + std::to_string(m.cols) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(reinterpret_cast<const char*>(m.data.data()), m.data.size() * sizeof(float));
  return out;
}

std::string jsonl_text(const Matrix& m) {
  std::string out;
  for (std::size_t r = 0; r < m.rows; r++) {
    out += "{\"embedding\":[";
    for (std::size_t c = 0; c < m.cols; c++) {
      if (c) out.push_back(',');
      append_float(out, m.row(r)[c]);
    }
    out += "]}\n";
  }
  return out;
}

}  // namespace

CLI::Validator bounded(double lo, double hi, Bound lo_bound, Bound hi_bound) {
  const std::string range = range_text(lo, hi, lo_bound, hi_bound);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v)) return "value " + text + " is not a number";
        try {
          check_range({}, v, lo, hi, lo_bound, hi_bound);
        } catch (const OptionError& e) {
          return e.reason();
        }
        return {};
      },
      "in " + range);
}

CLI::Validator unsigned_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::uint64_t v = 0;
        const char* end = text.data() + text.size();
        const auto [at, ec] = std::from_chars(text.data(), end, v);
        if (text.empty() || ec != std::errc() || at != end) {
          return "value " + text + " is not an integer in [0, 18446744073709551615]";
        }
        return {};
      },
      "an integer");
}

CLI::ValidationError usage_error(const OptionError& e) {
  std::string flag = "--" + e.option();
  std::replace(flag.begin(), flag.end(), '_', '-');
  return CLI::ValidationError(flag, e.reason());
}

void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads, "Threads (default: all cores)")
      ->check(bounded(1, kMaxThreads));
}

std::vector<std::string> read_lines(const std::string& path, bool replace_invalid) {
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) throw Error(path + ": cannot open input file");
  }
  std::istream& in = path == "-" ? std::cin : file;
  const std::string name = path == "-" ? "<stdin>" : path;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!is_valid_utf8(line)) {
      if (!replace_invalid) {
        throw Error(name + ":" + std::to_string(lines.size() + 1) +
                    ": not valid UTF-8 (pass --replace-invalid-utf8 to substitute U+FFFD)");
      }
      line = replace_invalid_utf8(line);
    }
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw Error(name + ": read failed");
  return lines;
}

void add_prompt_options(CLI::App* cmd, EncodeOptions& options) {
  CLI::Option* prompt = cmd->add_option_function<std::string>(
      "--prompt", [&options](const std::string& text) { options.prompt = text; },
      "Text prepended to every input (e.g. \"query: \"), as encode(prompt=...)");
  cmd->add_option("--prompt-name", options.prompt_name,
                  "A prompt of the model's config_sentence_transformers.json, by name (default: "
                  "its default_prompt_name)")
      ->excludes(prompt);
}

void write_embeddings(const std::string& path, const Matrix& m) {
  if (path == "-") {
    std::string text = jsonl_text(m);
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else if (ends_with(path, ".npy")) {
    write_file_atomic(path, npy_bytes(m));
  } else if (ends_with(path, ".jsonl")) {
    write_file_atomic(path, jsonl_text(m));
  } else {
    throw Error(path + ": unknown output format (expected a .npy or .jsonl file, or - for stdout)");
  }
}

void warn_if_undefined(const SimilarityMetrics& m, const std::string& name) {
  if (!m.constant_or_not_finite) return;
  std::fprintf(stderr,
               "simtune: warning: %s: the model's similarities are constant or not finite "
               "(NaN weights or embeddings?), so the correlations are NaN, as scipy gives\n",
               name.c_str());
}

Progress::Progress(std::string label, std::string unit, bool quiet)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      enabled_(!quiet && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(std::size_t done, std::size_t total, const std::string& detail) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  const int width = 30;
  const int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu %s %.1f %s/s ETA %.0fs ", label_.c_str(), filled,
               "##############################", width - filled, "", done, total, detail.c_str(),
               rate, unit_.c_str(), eta);
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace simtune::cli
