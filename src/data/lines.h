// Line-by-line reading of the small text formats (retrieval sets, triplets), with the error
// position every message needs.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "simtune/core/error.h"
#include "simtune/text/tokenizer.h"

namespace simtune {

// Calls row(where, line) for every line of `path`, where = "file:line", with the CR of a CRLF
// end and a leading UTF-8 byte-order mark removed; invalid UTF-8 throws Error naming file:line.
template <typename Row>
void for_each_line(const std::filesystem::path& path, Row&& row) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open file");
  std::string line;
  for (std::size_t line_no = 1; std::getline(in, line); line_no++) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    const std::string where = path.string() + ":" + std::to_string(line_no);
    if (!is_valid_utf8(line)) throw Error(where + ": not valid UTF-8");
    row(where, std::string_view(line));
  }
  if (in.bad()) throw Error(path.string() + ": read failed");
}

}  // namespace simtune
