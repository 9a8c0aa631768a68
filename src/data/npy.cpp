#include "simtune/data/npy.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "simtune/core/error.h"

namespace simtune {
namespace {

// The value after 'key': in the header's Python dict literal, up to the next top-level comma
// (a tuple's commas are inside its parentheses).
std::optional<std::string_view> dict_value(std::string_view header, std::string_view key) {
  const std::string quoted = "'" + std::string(key) + "'";
  std::size_t at = header.find(quoted);
  if (at == std::string_view::npos) return std::nullopt;
  at = header.find(':', at + quoted.size());
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t end = at + 1;
  int depth = 0;
  for (; end < header.size(); end++) {
    const char c = header[end];
    if (c == '(') depth++;
    if (c == ')') depth--;
    if ((c == ',' && depth == 0) || c == '}') break;
  }
  std::string_view value = header.substr(at + 1, end - at - 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return value;
}

// "(rows, cols)" into its two numbers.
std::optional<std::pair<std::uint64_t, std::uint64_t>> shape_2d(std::string_view text) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  std::uint64_t dims[2];
  for (int i = 0; i < 2; i++) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), dims[i]);
    if (ec != std::errc()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (i == 0) {
      if (text.empty() || text.front() != ',') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == ',')) text.remove_prefix(1);
  if (!text.empty()) return std::nullopt;
  return std::pair{dims[0], dims[1]};
}

}  // namespace

Matrix load_npy_matrix(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(name + ": cannot open .npy file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(name + ": read failed");
  auto fail = [&](const std::string& what) { return Error(name + ": " + what); };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw fail("not a .npy file (no \\x93NUMPY magic)");
  }
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
  const int major = byte(6);
  if (major < 1 || major > 3) throw fail("unknown .npy format version " + std::to_string(major));
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = byte(8) | (std::size_t{byte(9)} << 8);
    start = 10;
  } else {
    if (bytes.size() < 12) throw fail("truncated header");
    header_len = byte(8) | (std::size_t{byte(9)} << 8) | (std::size_t{byte(10)} << 16) |
                 (std::size_t{byte(11)} << 24);
    start = 12;
  }
  if (header_len > bytes.size() - start) throw fail("truncated header");
  const std::string_view header(bytes.data() + start, header_len);
  const auto descr = dict_value(header, "descr");
  const auto fortran = dict_value(header, "fortran_order");
  const auto shape_text = dict_value(header, "shape");
  if (!descr || !fortran || !shape_text) {
    throw fail("header lacks descr, fortran_order or shape");
  }
  std::size_t width = 0;
  if (*descr == "'<f4'") width = 4;
  if (*descr == "'<f8'") width = 8;
  if (width == 0) {
    throw fail("dtype " + std::string(*descr) + " is not float32 or float64 ('<f4', '<f8')");
  }
  if (*fortran != "False") throw fail("Fortran-order arrays are not read (save C order)");
  const auto shape = shape_2d(*shape_text);
  if (!shape) throw fail("shape " + std::string(*shape_text) + " is not 2-D (rows, columns)");
  const auto [rows, cols] = *shape;
  const std::size_t data = start + header_len;
  const std::uint64_t available = (bytes.size() - data) / width;
  if (cols != 0 && rows > available / cols) {
    throw fail("shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
               ") needs more data than the file's " + std::to_string(bytes.size() - data) +
               " bytes");
  }
  Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.data.resize(rows * cols);
  for (std::size_t i = 0; i < m.data.size(); i++) {
    if (width == 4) {
      std::memcpy(&m.data[i], bytes.data() + data + i * 4, 4);
    } else {
      double v;
      std::memcpy(&v, bytes.data() + data + i * 8, 8);
      m.data[i] = static_cast<float>(v);
    }
    if (!std::isfinite(m.data[i])) {
      throw fail("row " + std::to_string(i / cols + 1) + " holds a NaN or infinite value" +
                 (width == 8 ? " (or a float64 beyond float32's range)" : ""));
    }
  }
  return m;
}

}  // namespace simtune
